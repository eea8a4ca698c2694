import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseEnv } from '../helpers/app.js';
import { runBin } from '../helpers/cli.js';
import { dialects, freshDatabase } from '../helpers/db.js';
import { startFakeShop } from '../fakes/catalog-server.js';

for (const dialect of dialects()) {
  test(`${dialect}: zia catalog refresh|show report items, skips and the last error`, async (t) => {
    const db = await freshDatabase(dialect);
    const shop = await startFakeShop();
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-cli-catalog-'));
    const devEnv = { ...baseEnv(), ...db.env, ZIA_CATALOG_ALLOW_PRIVATE: 'true' };
    const zia = (args: string[], env: Record<string, string> = devEnv) => runBin(args, { env, cwd });
    try {
      t.is((await zia(['migrate'])).code, 0, 'only serve, worker, init and migrate create a database');
      shop.json('/catalog.json', {
        items: [
          { sku: 'A-1', title: 'Lavender Candle', price: '249.00', currency: 'NOK' },
          { sku: 'B-2', title: 'Stoneware Mug', price_cents: 12900, currency: 'NOK', in_stock: false },
          { sku: 'C-3', title: 'Mystery' },
        ],
      });
      let r = await zia(['tenant', 'create', 'shop', '--name', 'Shop', '--set', `catalog_url=${shop.url}/catalog.json`, '--json']);
      t.is(r.code, 0, r.stderr);
      r = await zia(['tenant', 'create', 'plain', '--name', 'Plain', '--json']);
      t.is(r.code, 0, r.stderr);

      r = await zia(['catalog', 'refresh', 'shop', '--json']);
      t.is(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      t.like(report, { tenant: 'shop', item_count: 2, total_in_document: 3, skipped: 1, skipped_reasons: { 'missing price': 1 }, last_error: null, truncated: false });
      t.truthy(Date.parse(report.fetched_at));
      t.deepEqual(report.skipped_samples, [{ index: 2, id: 'C-3', reason: 'missing price' }]);

      r = await zia(['catalog', 'show', 'shop', '--json']);
      t.is(r.code, 0, r.stderr);
      const shown = JSON.parse(r.stdout);
      t.deepEqual(shown.items.map((i: any) => [i.id, i.price, i.currency, i.available]), [['A-1', 24900, 'nok', null], ['B-2', 12900, 'nok', false]]);
      t.regex(shown.items[0].price_text, /^NOK\s249\.00$/);
      t.is(shop.requests.length, 1, 'show answered from the stored copy');

      r = await zia(['catalog', 'show', 'shop']);
      t.is(r.code, 0);
      t.regex(r.stdout, /items\s+2/);
      t.regex(r.stdout, /1 × missing price/);
      t.regex(r.stdout, /Lavender Candle/);

      shop.route('/catalog.json', (_req, res) => res.writeHead(500).end('oops'));
      r = await zia(['catalog', 'refresh', 'shop', '--json']);
      t.is(r.code, 1);
      const failed = JSON.parse(r.stdout);
      t.is(failed.item_count, 2, 'the previous copy is kept');
      t.regex(failed.last_error, /HTTP 500/);
      t.truthy(failed.last_error_at);
      t.regex(r.stderr, /^zia: catalog refresh failed: .*HTTP 500.*still serving the copy from/);
      t.is(r.stderr.trim().split('\n').length, 1);

      // Off by default: a plain-http loopback catalog is refused with a hint.
      r = await zia(['catalog', 'refresh', 'shop'], { ...baseEnv(), ...db.env });
      t.is(r.code, 1);
      t.regex(r.stderr, /scheme 'http:' is not allowed.*ZIA_CATALOG_ALLOW_PRIVATE/);

      r = await zia(['catalog', 'show', 'plain']);
      t.is(r.code, 2);
      t.regex(r.stderr, /no catalog_url/);
      r = await zia(['catalog', 'show', 'nope', '--json']);
      t.is(r.code, 1);
      t.regex(r.stderr, /not found/);
      r = await zia(['catalog', 'show', 'shop', '--limit', 'many']);
      t.is(r.code, 2);
    } finally {
      await shop.close();
      await db.cleanup();
    }
  });
}
