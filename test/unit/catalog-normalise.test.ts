import test from 'ava';
import { MAX_ITEMS, normaliseCatalog } from '../../src/features/catalog/catalog-normalise.js';
import { indexItems, queryTokens, rank, tokens } from '../../src/features/catalog/catalog-search.js';
import { CatalogFetchError } from '../../src/features/catalog/catalog-error.js';

/** The same three products as shops publish them: different field names, same meaning. */
const variants = {
  plain: [
    { id: 'candle-1', name: 'Lavender Candle', price: 24.5, currency: 'EUR', description: 'Hand-poured soy wax.', url: 'https://shop.example/candle', image: 'https://cdn.example/c.jpg', availability: 'in stock' },
    { id: 'mug-2', name: 'Stoneware Mug', price: '12.00', currency: 'eur', description: null, stock: 0 },
    { id: 3, name: 'Gift Card', price: 50, description: 'Any amount', in_stock: true },
  ],
  shopify: [
    { sku: 'candle-1', title: 'Lavender Candle', price_cents: 2450, currency: 'eur', description: 'Hand-poured soy wax.', link: 'https://shop.example/candle', images: ['https://cdn.example/c.jpg'], available: true },
    { sku: 'mug-2', title: 'Stoneware Mug', amount_cents: 1200, currency: 'EUR', stock: 0 },
    { sku: '3', title: 'Gift Card', unit_amount: 5000, description: 'Any amount', availability: 'https://schema.org/InStock' },
  ],
  mixed: [
    { id: 'candle-1', title: 'Lavender Candle', price_minor: 2450, currency: 'EUR', description: '  Hand-poured soy wax. ', url: 'https://shop.example/candle', image_url: 'https://cdn.example/c.jpg', in_stock: true },
    { sku: 'mug-2', name: 'Stoneware Mug', price: '12,00', currency: 'eur', stock: 0, image: 'javascript:alert(1)' },
    { id: '3', name: 'Gift Card', price: 50.0, description: 'Any amount', images: [{ src: 'not a url' }], available: true },
  ],
};

test('every accepted document shape yields the same items', (t) => {
  const docs = [variants.plain, { products: variants.shopify }, { items: variants.mixed }, { data: variants.plain }, { data: variants.shopify, meta: { page: 1 } }];
  const results = docs.map((d) => normaliseCatalog(d, 'eur'));
  const expected = results[0]!.items;
  t.is(expected.length, 3);
  t.deepEqual(expected[1], { id: 'mug-2', name: 'Stoneware Mug', description: null, price: 1200, currency: 'eur', url: null, image: null, available: false, stock: 0 });
  t.like(expected[0], { id: 'candle-1', price: 2450, currency: 'eur', available: true, image: 'https://cdn.example/c.jpg', url: 'https://shop.example/candle' });
  t.like(expected[2], { id: '3', price: 5000, currency: 'eur', available: true });
  for (const [i, r] of results.entries()) {
    const comparable = r.items;
    // The mixed variant carries a bad image on the mug and a bad one on the gift card: those become null.
    if (i === 2) {
      t.deepEqual(comparable.map((x) => ({ ...x, image: null, url: null })), expected.map((x) => ({ ...x, image: null, url: null })));
      t.is(r.items[1]!.image, null, 'a javascript: image is dropped');
    } else t.deepEqual(comparable, expected, `shape ${i}`);
    t.is(r.report.skipped, 0);
  }
});

test('a malformed item is skipped and counted with its reason, not fatal', (t) => {
  const { items, report } = normaliseCatalog(
    {
      products: [
        { id: 'ok', name: 'Fine', price: 1 },
        { id: 'no-price', name: 'Nameless price' },
        { name: 'No id', price: 2 },
        { id: 'no-name', price: 2 },
        { id: 'bad-price', name: 'Bad', price: 'twelve' },
        { id: 'neg', name: 'Negative', price_cents: -5 },
        { id: 'cur', name: 'Bad currency', price: 1, currency: 'zzz' },
        'a string',
        null,
        { id: 'ok', name: 'Duplicate', price: 3 },
        { id: 'yen', name: 'Yen thing', price: 1200, currency: 'JPY' },
      ],
    },
    'usd',
  );
  t.deepEqual(items.map((i) => i.id), ['ok', 'yen']);
  t.is(items[1]!.price, 1200, 'JPY has no minor unit');
  t.is(report.total, 11);
  t.is(report.accepted, 2);
  t.is(report.skipped, 9);
  t.is(report.skipped_reasons['missing price'], 1);
  t.is(report.skipped_reasons['missing id/sku'], 1);
  t.is(report.skipped_reasons['missing name/title'], 1);
  t.is(report.skipped_reasons['not an object'], 2);
  t.is(report.skipped_reasons['duplicate id'], 1);
  t.is(report.skipped_reasons["unknown currency 'zzz'"], 1);
  t.truthy(Object.keys(report.skipped_reasons).find((r) => r.startsWith('price')), 'a non-numeric price names the field');
  t.deepEqual(report.samples.map((s) => s.index), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('prices convert exactly to minor units; default currency applies', (t) => {
  const { items } = normaliseCatalog([{ id: 'a', name: 'A', price: 19.99 }, { id: 'b', name: 'B', price: 0.1 }, { id: 'c', name: 'C', price: '1.005', currency: 'KWD' }], 'NOK'.toLowerCase());
  t.deepEqual(items.map((i) => [i.price, i.currency]), [[1999, 'nok'], [10, 'nok'], [1005, 'kwd']]);
});

test('unknown shapes are a clear error; the item count is capped', (t) => {
  for (const doc of [{ catalog: [] }, 'text', 42, null, { products: 'x' }]) {
    const err = t.throws(() => normaliseCatalog(doc, 'usd'));
    t.true(err instanceof CatalogFetchError);
    t.is((err as CatalogFetchError).reason, 'invalid_shape');
  }
  const many = Array.from({ length: MAX_ITEMS + 10 }, (_, i) => ({ id: `p${i}`, name: `P ${i}`, price: 1 }));
  const { items, report } = normaliseCatalog(many, 'usd');
  t.is(items.length, MAX_ITEMS);
  t.true(report.truncated);
  t.is(report.total, MAX_ITEMS + 10);
});

test('search tokens: lowercase, accents stripped, plural s trimmed, stop words ignored', (t) => {
  t.deepEqual(tokens('Crème Brûlée CANDLES'), ['creme', 'brulee', 'candle']);
  t.deepEqual(tokens('glass'), ['glass']);
  t.deepEqual(queryTokens('How much is the lavender candle?'), ['lavender', 'candle']);
});

test('search ranks name matches above description matches and returns nothing for no overlap', (t) => {
  const { items } = normaliseCatalog(
    [
      { id: 'desc', name: 'Gift Box', price: 10, description: 'Includes a lavender candle and soap' },
      { id: 'name', name: 'Lavender Candle', price: 24.5, description: 'Soy wax' },
      { id: 'half', name: 'Vanilla Candle', price: 20 },
      { id: 'other', name: 'Mug', price: 5 },
    ],
    'usd',
  );
  const index = indexItems(items);
  const hits = rank(index, 'how much are your lavender candles?', 10);
  // One word in a name outweighs two in a description.
  t.deepEqual(hits.map((h) => h.item.id), ['name', 'half', 'desc']);
  t.is(hits[0]!.score, 1);
  t.true(hits[1]!.score < hits[0]!.score);
  t.true(hits[2]!.score < hits[1]!.score);
  t.deepEqual(rank(index, 'bicycle', 10), []);
  t.deepEqual(rank(index, 'creme brulee', 10), []);
  t.deepEqual(rank(index, 'mug', 1).map((h) => h.item.id), ['other']);
  t.deepEqual(rank(index, 'other', 5).map((h) => h.item.id), ['other'], 'an exact id matches');
});
