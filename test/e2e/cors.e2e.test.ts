import test from 'ava';
import { startApp } from '../helpers/app.js';

test('CORS: ALLOWED_ORIGINS everywhere, a tenant\'s allowed_origins on its public routes, others refused and logged', async (t) => {
  const app = await startApp('sqlite', { ALLOWED_ORIGINS: 'https://console.example.com' });
  try {
    await app.services.tenants.create({ slug: 'shop', name: 'Shop', settings: { allowed_origins: ['https://shop.example.com'] } });
    await app.services.tenants.create({ slug: 'other', name: 'Other' });
    const boot = (tenant: string, origin: string) => fetch(`${app.url}/v1/widget/bootstrap?tenant=${tenant}`, { headers: { origin } });

    let res = await boot('shop', 'https://shop.example.com');
    t.is(res.status, 200);
    t.is(res.headers.get('access-control-allow-origin'), 'https://shop.example.com');

    res = await boot('other', 'https://shop.example.com');
    t.is(res.status, 403, "one tenant's origin does not open another tenant");
    t.is(((await res.json()) as any).error.code, 'origin_not_allowed');
    t.is(res.headers.get('access-control-allow-origin'), null);

    res = await boot('other', 'https://console.example.com');
    t.is(res.status, 200);
    t.is(res.headers.get('access-control-allow-origin'), 'https://console.example.com');

    res = await fetch(`${app.url}/v1/chat?tenant=shop`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    t.is(res.status, 204);
    t.is(res.headers.get('access-control-allow-origin'), null, 'the preflight gives the browser nothing to proceed with');
    t.true(app.logs.text.includes('cors: origin https://evil.example.net refused'), 'the refusal is logged with its reason');

    res = await fetch(`${app.url}/v1/chat?tenant=shop`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST' },
    });
    t.is(res.status, 204);
    t.is(res.headers.get('access-control-allow-origin'), 'https://shop.example.com');
    t.regex(res.headers.get('access-control-allow-methods')!, /POST/);

    // A tenant origin never opens the admin API.
    res = await fetch(`${app.url}/v1/tenants/shop`, { headers: { origin: 'https://shop.example.com', 'x-api-key': 'x' } });
    t.is(res.status, 403);
    // Same-origin (the demo page served by zia itself) needs no listing.
    res = await fetch(`${app.url}/v1/widget/bootstrap?tenant=other`, { headers: { origin: app.url } });
    t.is(res.status, 200);

    const js = await fetch(`${app.url}/widget.js`);
    t.is(js.status, 200);
    t.regex(js.headers.get('content-type')!, /javascript/);
    const body = await js.text();
    t.true(body.length < 30_000, `widget.js is ${body.length} bytes`);
    t.is((await fetch(`${app.url}/widget.js`, { headers: { 'if-none-match': js.headers.get('etag')! } })).status, 304);

    const demo = await fetch(`${app.url}/demo?tenant=shop`);
    t.is(demo.status, 200);
    const html = await demo.text();
    t.true(html.includes('data-tenant="shop"'));
    t.is((await fetch(`${app.url}/demo?tenant=nope`)).status, 404);
    await app.services.tenants.update('shop', { name: '<script>alert(1)</script>' });
    t.false((await (await fetch(`${app.url}/demo?tenant=shop`)).text()).includes('<script>alert(1)'), 'tenant names are escaped');
  } finally {
    await app.close();
  }
});
