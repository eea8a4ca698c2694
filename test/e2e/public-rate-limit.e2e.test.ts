import ava from 'ava';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config.js';
import { createServices } from '../../src/container.js';
import { createApp } from '../../src/http/create-app.js';
import { createHttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { PUBLIC_WRITE_ROUTES } from '../../src/http/middleware/rate-limit.js';
import { LogCapture, startApp } from '../helpers/app.js';
import { createTenant } from '../helpers/chat.js';
import { dialects } from '../helpers/db.js';
import { connectedTenant, fixedCatalog, PLANS, startPayments } from '../helpers/stripe.js';

const catalog = fixedCatalog([{ id: 'mug', name: 'Mug', price: 12900, currency: 'nok' }]);

/** A POST from a given client address (the apps here trust X-Forwarded-For). */
const from = (address: string) => (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': address, ...headers }, body: JSON.stringify(body) });

/** Runs `count` requests, `width` at a time; answers how many got each status. */
async function tally(count: number, width: number, send: (i: number) => Promise<Response>): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  for (let i = 0; i < count; i += width) {
    const batch = await Promise.all(Array.from({ length: Math.min(width, count - i) }, (_, j) => send(i + j)));
    for (const res of batch) {
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      await res.arrayBuffer();
    }
  }
  return statuses;
}

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: every public write route spends one budget per tenant and client address`, async (t) => {
    const h = await startPayments(dialect, { env: { TRUST_PROXY: 'true' }, services: { catalog } });
    try {
      await connectedTenant(h, 'shop', { plans: PLANS, rate_limit_per_minute: 6 });
      await connectedTenant(h, 'other', { plans: PLANS, rate_limit_per_minute: 6 });
      const a = from('203.0.113.7');
      const q = (path: string, slug = 'shop') => `${h.app.url}${path}?tenant=${slug}`;
      const spend = [
        await a(q('/v1/chat'), { message: 'hi' }),
        await a(q('/v1/chat/stream'), { message: 'hi' }),
        await a(q('/v1/leads'), { name: 'Ada', email: 'ada@example.com' }),
        await a(q('/v1/stripe/checkout/by-plan'), { plan_id: 'basic' }),
        await a(q('/v1/stripe/checkout/by-item'), { item_id: 'mug' }),
        await a(q('/v1/stripe/checkout/qr'), { plan_id: 'basic' }),
      ];
      t.deepEqual(spend.map((r) => r.status), [200, 200, 202, 200, 200, 200], 'six routes, six of the budget');
      for (const path of PUBLIC_WRITE_ROUTES) {
        const res = await a(q(path), {});
        t.is(res.status, 429, `${path} is refused once the shared budget is spent`);
        t.truthy(Number(res.headers.get('retry-after')) >= 1);
        t.is(((await res.json()) as any).error.code, 'rate_limited');
      }
      t.is(h.fake.seen('POST', '/v1/checkout/sessions').length, 3, 'a refused request creates no Checkout Session');
      // Another address, another tenant: their own budgets.
      t.is((await from('203.0.113.8')(q('/v1/stripe/checkout/by-plan'), { plan_id: 'basic' })).status, 200);
      t.is((await a(q('/v1/stripe/checkout/by-plan', 'other'), { plan_id: 'basic' })).status, 200);
      // The tenant named in the body counts as well as the query's.
      const body = await a(`${h.app.url}/v1/stripe/checkout/by-plan`, { tenant: 'shop', plan_id: 'basic' });
      t.is(body.status, 429);
      // A refused request is counted under its route in the metrics.
      const metrics = await (await fetch(`${h.app.url}/metrics`)).text();
      t.regex(metrics, /zia_http_requests_total\{method="POST",route="\/v1\/stripe\/checkout\/by-plan",status="429"\} 2/);
    } finally {
      await h.close();
    }
  });

  test(`${dialect}: 300 anonymous checkouts from one address create only the default limit's worth of sessions`, async (t) => {
    const h = await startPayments(dialect, { services: { catalog } });
    try {
      await connectedTenant(h, 'shop');
      const post = from('198.51.100.1');
      const statuses = await tally(300, 10, (i) => post(`${h.app.url}/v1/stripe/checkout/${i % 2 ? 'qr' : 'by-plan'}?tenant=shop`, { plan_id: 'basic' }));
      t.deepEqual(statuses, { 200: 60, 429: 240 }, 'ZIA_RATE_LIMIT_PER_MINUTE defaults to 60');
      t.is(h.fake.seen('POST', '/v1/checkout/sessions').length, 60);
      t.log(`300 checkout requests → ${statuses[200]} × 200, ${statuses[429]} × 429`);
      const warnings = h.app.logs.lines.filter((l) => /"level":(40|50)/.test(l));
      t.is(warnings.length, 1, 'one warning for the burst, not one per refused request');
      // Without TRUST_PROXY the X-Forwarded-For header is not believed: the address is the socket's.
      t.regex(warnings[0]!, /rate limit reached for 127\.0\.0\.1 on tenant shop/);
    } finally {
      await h.close();
    }
  });

  test(`${dialect}: the list of rate-limited routes is every public POST except the signed webhooks`, async (t) => {
    const app = await startApp(dialect);
    try {
      const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as any;
      const publicPosts = Object.entries(doc.paths as Record<string, any>)
        .filter(([, ops]) => ops.post && !ops.post.security?.length && !ops.post.tags.includes('webhooks'))
        .map(([path]) => path);
      t.deepEqual(publicPosts.sort(), [...PUBLIC_WRITE_ROUTES].sort());
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: after 20 wrong keys an address is answered 429 without a database look-up; the right key works elsewhere`, async (t) => {
    const app = await startApp(dialect, { TRUST_PROXY: 'true' });
    try {
      await createTenant(app, 'shop');
      const key = ((await (await app.admin('/v1/admin/tenants/shop/keys', { method: 'POST', body: JSON.stringify({ name: 'crm' }) })).json()) as any).key as string;
      let lookups = 0;
      app.services.db.knex.on('query', (q: { sql: string }) => {
        if (/api_keys/.test(q.sql) && /select/i.test(q.sql)) lookups++;
      });
      const get = (address: string, k: string) => fetch(`${app.url}/v1/admin/leads?tenant=shop`, { headers: { 'x-api-key': k, 'x-forwarded-for': address } });
      // Well-formed keys, so each one that is checked really is looked up.
      const wrong = (i: number) => `zk_${key.slice(3, 11)}_${String(i).padStart(43, 'A')}`;
      const statuses = await tally(1000, 25, (i) => get('192.0.2.66', wrong(i)));
      t.deepEqual(statuses, { 401: 20, 429: 980 });
      t.is(lookups, 20, 'only the first 20 keys were looked up');
      t.log(`1,000 wrong keys → ${statuses[401]} × 401, ${statuses[429]} × 429, ${lookups} database look-ups`);

      const refused = await get('192.0.2.66', key);
      t.is(refused.status, 429, 'the blocked address is refused whatever key it sends');
      t.truthy(Number(refused.headers.get('retry-after')) >= 1);
      t.is((await get('192.0.2.99', key)).status, 200, 'the right key works from another address');
      t.is((await fetch(`${app.url}/v1/admin/leads`, { headers: { 'x-api-key': 'test-admin-key-0123456789', 'x-forwarded-for': '192.0.2.99' } })).status, 200);
      // Right keys do not use up an address's budget.
      for (let i = 0; i < 30; i++) t.is((await get('192.0.2.100', key)).status, 200);
      // The admin-only routes are guarded too (no look-up there, but ADMIN_KEY could be guessed).
      const admin = await tally(25, 1, () => fetch(`${app.url}/v1/tenants`, { headers: { 'x-api-key': 'guess', 'x-forwarded-for': '192.0.2.67' } }));
      t.deepEqual(admin, { 401: 20, 429: 5 });

      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      t.regex(metrics, /zia_auth_failures_total\{reason="invalid"\} 40\n/);
      t.regex(metrics, /zia_auth_failures_total\{reason="throttled"\} 986\n/);
      const warnings = app.logs.lines.filter((l) => /wrong API keys within a minute/.test(l));
      t.is(warnings.length, 2, 'one warning per burst (two addresses), not per request');
      t.regex(warnings[0]!, /"level":40/);
      t.is(app.logs.lines.filter((l) => /"level":(40|50)/.test(l)).length, 2, 'refused requests add no warning or error line each');
      t.false(app.logs.text.includes(key), 'the key is never logged');
    } finally {
      await app.close();
    }
  });
}

// PostgreSQL only: SQLite is served by one process, whose memory holds its windows.
if (dialects().includes('pg')) ava.serial('pg: two servers on one database spend one budget: a limit of N a minute allows N in all, not N per process', async (t) => {
  const a = await startApp('pg', { TRUST_PROXY: 'true', ZIA_RATE_LIMIT_PER_MINUTE: '8' });
  // The second server: the same database, its own services and HTTP server (as a second `zia serve`).
  const services = createServices(loadConfig(a.env, '/nonexistent-cwd-for-tests'), createLogger('info', new LogCapture()));
  const server = createHttpServer(createApp(services)).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const urlB = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await createTenant(a, 'shop');
    const send = from('198.51.100.4');
    // Both at once, alternating servers: 20 requests for a budget of 8.
    const statuses = await tally(20, 10, (i) => send(`${i % 2 ? urlB : a.url}/v1/chat?tenant=shop`, { message: 'hi' }));
    t.deepEqual(statuses, { 200: 8, 429: 12 });
    // (The key guard keeps windows of its own there too, under another budget's prefix.)
    const rows = await a.services.db.knex('rate_limits').where('key', 'like', 'b8:%').select('key', 'points');
    t.is(rows.length, 1, 'one window for the tenant and address, in the database');
    t.is(Number(rows[0].points), 20, 'every request was counted once, on either server');
  } finally {
    server.close();
    await services.close();
    await a.close();
  }
});
