import test from 'ava';
import { parse } from 'yaml';
import { parseCaseFile } from '../../src/features/eval/eval-cases.js';
import { keyFacts, Placeholders, recordCases, type RecordedConversation } from '../../src/features/eval/eval-record.js';

const ola = { names: ['Ola Nordmann'], emails: ['ola@nordmann.no'], phones: ['+4791234567'] };
const nobody = { names: [], emails: [], phones: [] };

test('scrub replaces emails, phone numbers and known names with placeholders', (t) => {
  const p = new Placeholders();
  t.is(
    p.scrub('I am Ola Nordmann, write to OLA@nordmann.no or ola.private@gmail.com', ola),
    'I am Customer 1, write to person1@example.com or person2@example.com',
  );
  t.is(
    p.scrub('Call +47 912 34 567, +4791234567, (415) 555-0123, 415.555.0123 or 0047-22-33-44-55', ola),
    'Call +15550100001, +15550100001, +15550100002, +15550100002 or +15550100003',
  );
  t.is(p.scrub('ola here, NORDMANN there; Olav and Olanor are other words', ola), 'Customer 1 here, Customer 1 there; Olav and Olanor are other words');
});

test('scrub leaves prices, links, dates, times and short numbers alone', (t) => {
  const p = new Placeholders();
  const text = [
    'Total NOK 12 345 678,00 or 1 299 999,00 kr',
    'see https://shop.example/p/123456789?ref=98765432',
    'delivered 2025-03-14T09:30:00+01:00 or 14.03.2025 at 09:30, since 2019-2025',
    'open 9-17, 2 mugs, order 12345',
  ].join('\n');
  t.is(p.scrub(text, nobody), text);
});

test('scrub catches known values a pattern misses, such as a number inside a link', (t) => {
  const p = new Placeholders();
  t.is(p.scrub('Chat on https://wa.me/4791234567 please', ola), 'Chat on https://wa.me/+15550100001 please');
  t.is(p.scrub('mail ola@nordmann.no', ola), 'mail person1@example.com');
});

test('the same value gets the same placeholder across conversations; a name alone is the same person', (t) => {
  const p = new Placeholders();
  t.is(p.scrub('Ola Nordmann, ola@nordmann.no, +47 912 34 567', ola), 'Customer 1, person1@example.com, +15550100001');
  t.is(p.scrub('Kari Nordmann, kari@example.org, 22 33 44 55', { names: ['Kari Nordmann'], emails: [], phones: [] }), 'Customer 2, person2@example.com, +15550100002');
  t.is(p.scrub('Hi Ola! Write to ola@nordmann.no or call 91234567', { names: ['Ola'], emails: [], phones: [] }), 'Hi Customer 1! Write to person1@example.com or call +15550100003');
  t.is(p.scrub('Anne-Marie, Anne or Marie Olsen', { names: ['Anne-Marie Olsen'], emails: [], phones: [] }), 'Customer 3, Customer 3 or Customer 3 Customer 3');
});

test('key facts: prices as written, links but not checkout links, item names as written, in order', (t) => {
  const reply =
    'The blue mug costs NOK 249.00 and the Red Plate 1.299,99 kr. See https://shop.example/mugs/blue-mug. ' +
    'Pay here: https://checkout.stripe.com/c/pay/cs_test_1, https://shop.example/checkout/42 or https://pay.example/pay/abc.';
  t.deepEqual(keyFacts(reply, { itemNames: ['Blue Mug', 'Red Plate', 'Green Bowl', 'Mug'] }), [
    'blue mug',
    'NOK 249.00',
    'Red Plate',
    '1.299,99 kr',
    'https://shop.example/mugs/blue-mug',
  ]);
});

test('key facts fall back to the longest uncommon words, and never hold a placeholder', (t) => {
  t.deepEqual(keyFacts('Certainly, Customer 1! We deliver everywhere in Scandinavia. Write to person1@example.com.', { itemNames: [] }), [
    'Scandinavia',
    'everywhere',
    'Certainly',
  ]);
  t.deepEqual(keyFacts('Vi sender pakker til hele Norge innen fem dager', { itemNames: [] }), ['sender', 'pakker', 'Norge']);
  t.deepEqual(keyFacts('Yes, it is.', { itemNames: [] }), []);
  t.deepEqual(keyFacts('Sure: https://checkout.stripe.com/c/pay/cs_1', { itemNames: [] }), []);
});

const conversations: RecordedConversation[] = [
  {
    id: '01JABCDEF',
    channel: 'web',
    userName: 'Ola',
    known: ola,
    messages: [
      { role: 'system', text: 'conversation started' },
      { role: 'user', text: 'Hi, I am Ola Nordmann (ola@nordmann.no). How much is the blue mug?' },
      { role: 'assistant', text: 'Hi Ola!\nThe Blue Mug costs NOK 249.00.\nBuy it here: https://checkout.stripe.com/c/pay/cs_1' },
      { role: 'assistant', text: 'Anything else?' },
      { role: 'user', text: 'Can a person call me on +47 912 34 567?' },
      { role: 'operator', text: 'Hi Ola, Kari here, I will call you.' },
      { role: 'user', text: 'Thanks!' },
      { role: 'assistant', text: 'You are welcome, Ola.' },
      { role: 'user', text: 'Bye' },
    ],
  },
  { id: '01JEMPTY', channel: 'messenger', userName: 'Ola', known: ola, messages: [{ role: 'assistant', text: 'Hello!' }] },
  {
    id: '01JGHIJKL',
    channel: 'whatsapp',
    userName: 'Per',
    known: { names: ['Per Hansen'], emails: [], phones: ['+4798765432'] },
    messages: [
      { role: 'user', text: 'Per here, same as ola@nordmann.no. Is it in stock?' },
      { role: 'assistant', text: 'Yes, Per.' },
    ],
  },
];

const recorded = recordCases(conversations, { itemNames: ['Blue Mug'] }, { tenant: 'acme', recordedAt: '2025-03-14' });

test('recorded cases: one per conversation with a customer message, one turn per customer message', (t) => {
  t.deepEqual(parse(recorded), {
    cases: [
      {
        name: 'conversation 01JABCDEF',
        channel: 'web',
        turns: [
          { user: 'Hi, I am Customer 1 (person1@example.com). How much is the blue mug?', expect: { contains: ['Blue Mug', 'NOK 249.00'] } },
          { user: 'Can a person call me on +15550100001?' },
          { user: 'Thanks!', expect: { contains: ['welcome'] } },
          { user: 'Bye' },
        ],
      },
      {
        name: 'conversation 01JGHIJKL',
        channel: 'whatsapp',
        turns: [{ user: 'Customer 2 here, same as person1@example.com. Is it in stock?' }],
      },
    ],
  });
  // The file is one `zia eval` reads.
  t.is(parseCaseFile(recorded, 'recorded.yaml').cases.length, 2);
});

test('recorded cases carry the header and what the bot said as comments', (t) => {
  t.true(recorded.startsWith('# zia eval cases recorded from 2 conversations of acme on 2025-03-14;\n# personal data replaced with placeholders.'));
  t.true(recorded.includes('# bot said: Hi Customer 1! The Blue Mug costs NOK 249.00. Buy it here: https://checkout.stripe.com/c/pay/cs_1\n        expect:'));
  t.true(recorded.includes('# no bot reply: a person answered'));
  t.true(recorded.includes('# no bot reply: the bot was paused or did not answer'));
  t.true(recorded.includes('# bot said: Yes, Customer 2.; no key facts found, add an expectation'));
  t.true(recorded.includes('contains: ["Blue Mug", "NOK 249.00"]'));
});

test('no personal value zia holds appears in the recorded file', (t) => {
  const text = recorded.toLowerCase();
  for (const value of ['Ola Nordmann', 'Nordmann', 'ola@nordmann.no', '4791234567', '91234567', '912 34 567', 'Per Hansen', 'Hansen', '98765432']) {
    t.false(text.includes(value.toLowerCase()), value);
  }
  t.false(/\bola\b|\bper\b/iu.test(recorded), 'a first name alone');
  t.false(text.includes('kari'), 'an operator message');
});

test('a long reply is cut in its comment; a long conversation keeps the first 50 turns', (t) => {
  const messages = Array.from({ length: 52 }, (_, i) => [
    { role: 'user' as const, text: `question ${i}` },
    { role: 'assistant' as const, text: `${'word '.repeat(100)}end` },
  ]).flat();
  const yaml = recordCases([{ id: 'long', channel: 'web', userName: null, known: { names: [], emails: [], phones: [] }, messages }], { itemNames: [] }, { tenant: 'acme', recordedAt: 'now' });
  t.is(parseCaseFile(yaml, 'long.yaml').cases[0]!.turns.length, 50);
  t.true(yaml.includes('# the conversation has 52 customer messages; a case holds the first 50'));
  const comment = yaml.split('\n').find((l) => l.includes('bot said:'))!;
  t.true(comment.endsWith('…; no key facts found, add an expectation'));
  t.is(comment.trim().replace(/^# bot said: /u, '').replace(/…; no key facts.*$/u, '').length, 300);
});
