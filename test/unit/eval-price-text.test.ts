import test from 'ava';
import { pricesIn, samePrice, type PriceMention } from '../../src/features/eval/price-text.js';

type Expected = Pick<PriceMention, 'text' | 'value' | 'currency'>;

const only = (mentions: PriceMention[]): Expected[] => mentions.map(({ text, value, currency }) => ({ text, value, currency }));

const LOCALES = ['en-US', 'en-GB', 'nb-NO', 'de-DE', 'fr-FR', 'es-ES'];
const CURRENCIES = ['NOK', 'EUR', 'USD', 'GBP'];
const AMOUNTS = [249, 12.5, 1299.99];
/** Where Intl writes a symbol that names no one currency: 'kr' and a bare '$'. */
const UNNAMED = new Set(['nb-NO NOK', 'en-US USD', 'de-DE USD']);

test('every price zia writes (Intl, six locales, four currencies) reads back as the same amount', (t) => {
  for (const locale of LOCALES) {
    for (const currency of CURRENCIES) {
      for (const amount of AMOUNTS) {
        const written = new Intl.NumberFormat(locale, { style: 'currency', currency }).format(amount);
        const reply = `The Blue Mug (2 left) costs ${written}. Order 12345 ships on 14.03.2025.`;
        const expected = { text: written, value: amount, currency: UNNAMED.has(`${locale} ${currency}`) ? null : currency.toLowerCase() };
        t.deepEqual(only(pricesIn(reply)), [expected], `${locale} ${currency} ${amount}: ${JSON.stringify(written)}`);
        t.true(samePrice(pricesIn(reply)[0]!, Math.round(amount * 100), currency, 2), `${locale} ${currency} ${amount}`);
      }
    }
  }
});

test('prices as people and models write them', (t) => {
  const cases: Array<[string, Expected[]]> = [
    ['It is NOK 249.00.', [{ text: 'NOK 249.00', value: 249, currency: 'nok' }]],
    ['Prisen er kr 249,00', [{ text: 'kr 249,00', value: 249, currency: null }]],
    ['Only €12.50!', [{ text: '€12.50', value: 12.5, currency: 'eur' }]],
    ['Nur 12,50\u00A0€ heute', [{ text: '12,50\u00A0€', value: 12.5, currency: 'eur' }]],
    ['Nur 12,50\u202F€ heute', [{ text: '12,50\u202F€', value: 12.5, currency: 'eur' }]],
    ['The laptop is $1,299.99', [{ text: '$1,299.99', value: 1299.99, currency: null }]],
    ['Den koster 1.299,99 kr.', [{ text: '1.299,99 kr', value: 1299.99, currency: null }]],
    ['Shipping is US$20', [{ text: 'US$20', value: 20, currency: 'usd' }]],
    ['Tilbud: kr 249,- og 99,-', [{ text: 'kr 249,-', value: 249, currency: null }, { text: '99,-', value: 99, currency: null }]],
    ['Only 1.299 NOK', [{ text: '1.299 NOK', value: 1299, currency: 'nok' }]],
    ['1 299 kr for two', [{ text: '1 299 kr', value: 1299, currency: null }]],
    ['It is $12.50 USD in total', [{ text: '$12.50 USD', value: 12.5, currency: 'usd' }]],
    ['Pris kr. 350', [{ text: 'kr. 350', value: 350, currency: null }]],
    ['Pris NOK249', [{ text: 'NOK249', value: 249, currency: 'nok' }]],
    ['£5 or 6 GBP', [{ text: '£5', value: 5, currency: 'gbp' }, { text: '6 GBP', value: 6, currency: 'gbp' }]],
    ['CHF 1\'299.90 in Zürich', [{ text: 'CHF 1\'299.90', value: 1299.9, currency: 'chf' }]],
    ['R$ 59,90 no Brasil', [{ text: 'R$ 59,90', value: 59.9, currency: 'brl' }]],
    ['¥1,300 in Tokyo', [{ text: '¥1,300', value: 1300, currency: null }]],
    ['Cena 1299,99 zł', [{ text: '1299,99 zł', value: 1299.99, currency: 'pln' }]],
    ['Cena 12,5 EUR', [{ text: '12,5 EUR', value: 12.5, currency: 'eur' }]],
  ];
  for (const [reply, expected] of cases) t.deepEqual(only(pricesIn(reply)), expected, reply);
});

test('a marker between two numbers goes to the one it touches, else to the one before', (t) => {
  t.deepEqual(only(pricesIn('Pack of 5 $10 each')), [{ text: '$10', value: 10, currency: null }]);
  t.deepEqual(only(pricesIn('249 kr 2 stk')), [{ text: '249 kr', value: 249, currency: null }]);
  t.deepEqual(only(pricesIn('€12 CHF 15')), [
    { text: '€12', value: 12, currency: 'eur' },
    { text: 'CHF 15', value: 15, currency: 'chf' },
  ]);
});

test('mentions come in order with their index and never overlap', (t) => {
  const reply = 'Mug NOK 249.00, plate 1.299,99 kr, bowl €12.50';
  const mentions = pricesIn(reply);
  t.deepEqual(
    mentions.map((m) => reply.slice(m.index, m.index + m.text.length)),
    ['NOK 249.00', '1.299,99 kr', '€12.50'],
  );
  for (let i = 1; i < mentions.length; i++) t.true(mentions[i]!.index >= mentions[i - 1]!.index + mentions[i - 1]!.text.length);
});

test('numbers without a currency marker are not prices', (t) => {
  for (const reply of [
    'I would like 2 mugs',
    'We are open 9-17',
    'Your order 12345 is on its way',
    'Call us at +47 912 34 567 or (415) 555-0123',
    'Delivered on 2025-03-14 at 09:30, or 14.03.2025',
    'Version 1.299 of the app',
    'The NOKIA 3310 is a classic',
    'Save 20% with code SUMMER25',
    'Room A4, floor 3',
    'NOK 1.2345 is not a written price',
    '',
  ]) {
    t.deepEqual(pricesIn(reply), [], reply);
  }
});

test('samePrice compares in minor units; a mention without a named currency matches any', (t) => {
  const [nok] = pricesIn('NOK 249.00');
  t.true(samePrice(nok!, 24900, 'nok', 2));
  t.true(samePrice(nok!, 24900, 'NOK', 2));
  t.false(samePrice(nok!, 24900, 'eur', 2));
  t.false(samePrice(nok!, 24800, 'nok', 2));
  const [kr] = pricesIn('1 299,99 kr');
  t.true(samePrice(kr!, 129999, 'sek', 2));
  t.true(samePrice(kr!, 129999, 'nok', 2));
  const [yen] = pricesIn('JP¥1,300');
  t.true(samePrice(yen!, 1300, 'jpy', 0));
  const [cents] = pricesIn('$0.29');
  t.true(samePrice(cents!, 29, 'usd', 2), '0.29 * 100 is 28.999…, rounded');
});
