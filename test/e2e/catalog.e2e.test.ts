import test from 'ava';
import { CatalogService } from '../../src/features/catalog/catalog-service.js';
import { CatalogStore } from '../../src/features/catalog/catalog-store.js';
import { FetchRefusedError, safeFetchJson } from '../../src/net/safe-fetch.js';
import type { Tenant } from '../../src/features/tenants/tenant-service.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import { startFakeShop, type FakeShop } from '../fakes/catalog-server.js';

const products = [
  { id: 'candle', name: 'Lavender Candle', price: 249, currency: 'NOK', description: 'Hand-poured soy wax candle' },
  { id: 'mug', name: 'Stoneware Mug', price: 129, currency: 'NOK' },
  { id: 'soap', name: 'Olive Soap', price_cents: 4900, currency: 'nok', description: 'Smells of lavender' },
  { id: 'broken', name: 'No price' },
];

/** A CatalogService on the app's database with a clock the test moves; the shop is on loopback. */
function serviceWithClock(app: TestApp, clock: { now: number }): CatalogService {
  return new CatalogService({
    store: new CatalogStore(app.services.db),
    fetchJson: (url) => safeFetchJson(url, { allowHttp: true, addressAllowed: () => true }),
    logger: app.services.logger,
    now: () => clock.now,
  });
}

async function tenantFor(app: TestApp, shop: FakeShop, slug: string, extra: Record<string, unknown> = {}): Promise<Tenant> {
  return app.services.tenants.create({ slug, name: slug, settings: { catalog_url: `${shop.url}/catalog.json`, ...extra } });
}

const fetches = (shop: FakeShop, path = '/catalog.json') => shop.requests.filter((r) => r.path === path).length;

for (const dialect of dialects()) {
  test(`${dialect}: GET /v1/catalog serves normalised items with paging and search`, async (t) => {
    const app = await startApp(dialect, { ZIA_CATALOG_ALLOW_PRIVATE: 'true' });
    const shop = await startFakeShop();
    try {
      shop.json('/catalog.json', { products });
      await tenantFor(app, shop, 'shop', { locale: 'en', currency: 'nok' });
      await app.services.tenants.create({ slug: 'plain', name: 'No catalog' });

      let res = await fetch(`${app.url}/v1/catalog?tenant=shop&limit=2`);
      t.is(res.status, 200);
      let body: any = await res.json();
      t.is(body.total, 3, 'the malformed item is skipped');
      t.deepEqual(body.items.map((i: any) => i.id), ['candle', 'mug']);
      t.like(body.items[0], { price: 24900, currency: 'nok', price_text: new Intl.NumberFormat('en', { style: 'currency', currency: 'nok' }).format(249) });
      t.regex(body.items[0].price_text, /^NOK\s249\.00$/);
      t.truthy(body.fetched_at);
      t.truthy(body.next_cursor);

      res = await fetch(`${app.url}/v1/catalog?tenant=shop&limit=2&cursor=${body.next_cursor}`);
      body = await res.json();
      t.deepEqual(body.items.map((i: any) => i.id), ['soap']);
      t.is(body.next_cursor, null);
      body = await (await fetch(`${app.url}/v1/catalog?tenant=shop&offset=1&limit=1`)).json();
      t.deepEqual(body.items.map((i: any) => i.id), ['mug']);

      body = await (await fetch(`${app.url}/v1/catalog?tenant=shop&q=lavender`)).json();
      t.deepEqual(body.items.map((i: any) => i.id), ['candle', 'soap'], 'name match first, description match after');
      t.true(body.items[0].score > body.items[1].score);
      t.is(fetches(shop), 1, 'one fetch served every request');

      body = await (await fetch(`${app.url}/v1/catalog?tenant=plain`)).json();
      t.is(body.total, 0);
      t.is((await fetch(`${app.url}/v1/catalog?tenant=nope`)).status, 404);
      t.is((await fetch(`${app.url}/v1/catalog?tenant=shop&cursor=bm9wZQ`)).status, 400);
      t.is((await fetch(`${app.url}/v1/catalog?tenant=shop&cursor=${body.next_cursor ?? 'x'}&offset=1`)).status, 400);
      t.is((await fetch(`${app.url}/v1/catalog?tenant=shop&limit=100000`)).status, 400);
      const doc: any = await (await fetch(`${app.url}/openapi.json`)).json();
      t.truthy(doc.paths['/v1/catalog'].get);
    } finally {
      await shop.close();
      await app.close();
    }
  });

  test(`${dialect}: CatalogLookup search/find/formatPrice for the chat engine`, async (t) => {
    const app = await startApp(dialect, { ZIA_CATALOG_ALLOW_PRIVATE: 'true' });
    const shop = await startFakeShop();
    try {
      shop.json('/catalog.json', products);
      const nb = await tenantFor(app, shop, 'nb', { locale: 'nb-NO', currency: 'nok' });
      const hits = await app.services.catalog.search(nb, 'How much is the lavender candle?');
      t.is(hits[0]!.item.id, 'candle');
      t.is(hits[0]!.item.price, 24900);
      t.is(hits[0]!.priceText, new Intl.NumberFormat('nb-NO', { style: 'currency', currency: 'nok' }).format(249));
      t.is((await app.services.catalog.find(nb, 'MUG'))?.id, 'mug');
      t.is(await app.services.catalog.find(nb, 'nope'), undefined);
      const en = await app.services.tenants.create({ slug: 'en', name: 'en' });
      t.is(app.services.catalog.formatPrice(en, 1250, ''), '$12.50', 'no currency anywhere: usd, locale en');
      t.is(app.services.catalog.formatPrice(en, 1250, 'eur'), '€12.50');
      t.is(app.services.catalog.formatPrice(en, 1250, 'jpy'), '¥1,250');
      t.deepEqual(await app.services.catalog.search(en, 'candle'), [], 'no catalog: no hits');
    } finally {
      await shop.close();
      await app.close();
    }
  });

  test(`${dialect}: cache: TTL, stale-while-revalidate, single flight, shared through the database, invalidated on URL change`, async (t) => {
    const app = await startApp(dialect, { ZIA_CATALOG_ALLOW_PRIVATE: 'true' });
    const shop = await startFakeShop();
    const clock = { now: Date.parse('2026-11-26T10:00:00Z') };
    try {
      shop.json('/catalog.json', products);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      shop.route('/slow.json', (_req, res) => {
        void gate.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ id: 'x', name: 'Slow thing', price: 1 }])));
      });
      let tenant = await tenantFor(app, shop, 'c', { catalog_ttl_seconds: 60 });
      const svc = serviceWithClock(app, clock);

      // Many callers at once on a cold cache: one fetch.
      const all = await Promise.all(Array.from({ length: 25 }, () => svc.search(tenant, 'candle')));
      t.true(all.every((h) => h[0]?.item.id === 'candle'));
      t.is(fetches(shop), 1);

      clock.now += 59_000;
      await svc.search(tenant, 'mug');
      t.is(fetches(shop), 1, 'fresh within the TTL');

      // Another process on the same database serves the stored copy without fetching.
      const other = serviceWithClock(app, clock);
      t.is((await other.find(tenant, 'soap'))?.price, 4900);
      t.is(fetches(shop), 1);

      clock.now += 2_000;
      shop.json('/catalog.json', [...products, { id: 'new', name: 'New Thing', price: 5 }]);
      const stale = await svc.items(tenant);
      t.is(stale.length, 3, 'stale copy answered at once');
      await svc.refresh(tenant); // joins the background refresh the stale read started
      t.is(fetches(shop), 2, 'exactly one background refresh');
      t.is((await svc.items(tenant)).length, 4);

      // A new catalog_url is fetched at once, not served from the old copy.
      tenant = await app.services.tenants.update('c', { settings: { catalog_url: `${shop.url}/slow.json` } });
      const waiting = Array.from({ length: 10 }, () => svc.items(tenant));
      release();
      const fresh = await Promise.all(waiting);
      t.true(fresh.every((items) => items.length === 1 && items[0]!.id === 'x'));
      t.is(fetches(shop, '/slow.json'), 1, 'single flight on the new URL too');

      // The shop goes down: the stale copy keeps serving, and a failed refresh backs off (30 s).
      shop.route('/slow.json', (_req, res) => res.writeHead(503).end());
      clock.now += 61_000;
      t.is((await svc.items(tenant)).length, 1);
      await svc.drain();
      t.is(fetches(shop, '/slow.json'), 2);
      t.regex((await svc.stored(tenant))!.lastError!, /HTTP 503/);
      t.is((await svc.items(tenant)).length, 1);
      await svc.drain();
      t.is(fetches(shop, '/slow.json'), 2, 'no new fetch right after a failure');
      clock.now += 31_000;
      t.is((await svc.items(tenant)).length, 1);
      await svc.drain();
      t.is(fetches(shop, '/slow.json'), 3, 'tried again after the back-off');
    } finally {
      await shop.close();
      await app.close();
    }
  });

  test(`${dialect}: processes on one database share one fetch per tenant: a lease on the database's clock, a dead holder's lease runs out`, async (t) => {
    const app = await startApp(dialect, { ZIA_CATALOG_ALLOW_PRIVATE: 'true' });
    const shop = await startFakeShop();
    const clock = { now: Date.now() };
    try {
      let body = JSON.stringify(products);
      let status = 200;
      let release!: () => void;
      let gate = new Promise<void>((r) => (release = r));
      shop.route('/catalog.json', (_req, res) => {
        void gate.then(() => res.writeHead(status, { 'content-type': 'application/json' }).end(body));
      });
      const tenant = await tenantFor(app, shop, 'fleet', { catalog_ttl_seconds: 60 });
      // Three processes' catalog services: each has its own memory and its own in-flight map.
      const fleet = [serviceWithClock(app, clock), serviceWithClock(app, clock), serviceWithClock(app, clock)];

      // Cold everywhere: every process asks at once; one fetch, and every process answers from it.
      const cold = fleet.flatMap((svc) => Array.from({ length: 5 }, () => svc.items(tenant)));
      await waitFor('fetch 1', () => fetches(shop) === 1);
      await new Promise((r) => setTimeout(r, 300)); // the others are polling the row, not fetching
      t.is(fetches(shop), 1);
      release();
      t.true((await Promise.all(cold)).every((items) => items.length === 3));
      t.is(fetches(shop), 1, 'one fetch for the fleet');
      t.is(await app.services.db.knex('catalog_fetch_leases').count({ n: '*' }).first().then((r: any) => Number(r.n)), 0, 'the lease is given back');

      // Stale everywhere: each process serves its copy at once and starts a background refresh; one fetch.
      clock.now += 61_000;
      body = JSON.stringify([...products, { id: 'new', name: 'New Thing', price: 5 }]);
      gate = new Promise<void>((r) => (release = r));
      for (const svc of fleet) t.is((await svc.items(tenant)).length, 3, 'stale copy answered at once');
      await waitFor('fetch 2', () => fetches(shop) === 2);
      release();
      await Promise.all(fleet.map((svc) => svc.drain()));
      t.is(fetches(shop), 2, 'one background refresh for the fleet');
      for (const svc of fleet) t.is((await svc.items(tenant)).length, 4);

      // An explicit refresh in two processes while the shop fails: one fetch, both see its failure.
      status = 503;
      gate = new Promise<void>((r) => (release = r));
      const failing = fleet.slice(0, 2).map((svc) => svc.refresh(tenant));
      await waitFor('fetch 3', () => fetches(shop) === 3);
      release();
      for (const outcome of await Promise.allSettled(failing)) {
        t.is(outcome.status, 'rejected');
        t.regex(((outcome as PromiseRejectedResult).reason as Error).message, /503/);
      }
      t.is(fetches(shop), 3, 'the failure is shared, not retried by the waiter');
      t.is((await fleet[2]!.items(tenant)).length, 4, 'the good copy keeps serving');

      // A process that claimed the fetch and died: its claim runs out on the database's clock (whatever
      // this host's clock says) and the next process fetches.
      status = 200;
      release();
      const ghost = new CatalogStore(app.services.db);
      t.true(await ghost.claimFetch(tenant.id, 'dead-process', 1_000));
      t.false(await ghost.claimFetch(tenant.id, 'another', 1_000), 'a live claim is not taken over');
      const started = Date.now();
      await fleet[2]!.refresh(tenant);
      t.true(Date.now() - started >= 700, 'waited for the dead claim to run out');
      t.is(fetches(shop), 4);
    } finally {
      await shop.close();
      await app.close();
    }
  });

  test(`${dialect}: a catalog over 2 MB, over 5 s or refused fails cleanly and the previous copy keeps serving`, async (t) => {
    const app = await startApp(dialect, { ZIA_CATALOG_ALLOW_PRIVATE: 'true' });
    const shop = await startFakeShop();
    const timers: NodeJS.Timeout[] = [];
    try {
      shop.json('/catalog.json', products);
      const tenant = await tenantFor(app, shop, 'keep');
      const catalog = app.services.catalog;
      t.is((await catalog.items(tenant)).length, 3);
      const good = await catalog.stored(tenant);

      const huge = JSON.stringify(Array.from({ length: 60_000 }, (_, i) => ({ id: `p${i}`, name: `Product number ${i}`, price: i })));
      t.true(huge.length > 2 * 1024 * 1024);
      shop.route('/catalog.json', (_req, res) => {
        // No Content-Length: the cap must hold while streaming.
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.end(huge);
      });
      let err = await t.throwsAsync(catalog.refresh(tenant));
      t.is((err as FetchRefusedError).reason, 'too_large');
      t.is((await catalog.items(tenant)).length, 3, 'previous copy still served');
      let stored = await catalog.stored(tenant);
      t.regex(stored!.lastError!, /larger than 2 MB/);
      t.is(stored!.fetchedAt, good!.fetchedAt);

      shop.route('/catalog.json', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('[');
        timers.push(setInterval(() => res.write(' '), 500));
      });
      err = await t.throwsAsync(catalog.refresh(tenant));
      t.is((err as FetchRefusedError).reason, 'timeout');
      t.deepEqual((await catalog.search(tenant, 'mug')).map((h) => h.item.id), ['mug'], 'previous copy still searchable');
      stored = await catalog.stored(tenant);
      t.regex(stored!.lastError!, /longer than the time limit/);

      const res = await fetch(`${app.url}/v1/catalog?tenant=keep`);
      t.is(res.status, 200);
      t.is(((await res.json()) as any).total, 3);
    } finally {
      for (const timer of timers) clearInterval(timer);
      await shop.close();
      await app.close();
    }
  });

  test(`${dialect}: without ZIA_CATALOG_ALLOW_PRIVATE a loopback catalog is refused; the public API does not leak why`, async (t) => {
    const app = await startApp(dialect);
    const shop = await startFakeShop();
    try {
      shop.json('/catalog.json', products);
      const catalogUrl = `https://127.0.0.1:${shop.port}/catalog.json`;
      await t.throwsAsync(app.services.tenants.create({ slug: 'ssrf', name: 'x', settings: { catalog_url: catalogUrl } }), { message: /settings\.catalog_url/ }, 'refused when saved');
      // A URL saved before settings were checked on save is still refused when fetched.
      const created = await app.services.tenants.create({ slug: 'ssrf', name: 'x' });
      await app.services.db.knex('tenants').where({ id: created.id }).update({ settings: JSON.stringify({ catalog_url: catalogUrl }) });
      const tenant = await app.services.tenants.getById(created.id);
      const err = await t.throwsAsync(app.services.catalog.refresh(tenant));
      t.is((err as FetchRefusedError).reason, 'address_forbidden');
      const res = await fetch(`${app.url}/v1/catalog?tenant=ssrf`);
      t.is(res.status, 503);
      const body: any = await res.json();
      t.is(body.error.code, 'catalog_unavailable');
      t.notRegex(JSON.stringify(body), /127\.0\.0\.1|loopback/);
      t.deepEqual(await app.services.catalog.search(tenant, 'candle'), [], 'chat sees no matches, not an error');
      t.is(shop.requests.length, 0);
    } finally {
      await shop.close();
      await app.close();
    }
  });
}
