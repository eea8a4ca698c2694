import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ADMIN_KEY, startApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';

const CANARY = 'EAAB-CANARY-7f3a9c1e5b2d8f40';

// The seed's curl body, unchanged.
const seedBody = {
  slug: 'acme-coffee',
  name: 'Acme Coffee',
  whatsapp: '+4791234567',
  settings: {
    tone: 'friendly and concise',
    policies: 'Returns within 30 days.',
    catalog_url: 'https://shop.example.com/catalog.json',
    faq: [{ q: 'What are your hours?', a: 'Mon-Fri 8-18.' }],
  },
};

for (const dialect of dialects()) {
  test(`${dialect}: tenant create-or-update, redaction, bootstrap and errors`, async (t) => {
    const app = await startApp(dialect);
    try {
      let res = await app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify(seedBody) });
      t.is(res.status, 201);
      const created = (await res.json()) as any;
      t.true(created.created);
      t.is(created.tenant.slug, 'acme-coffee');

      res = await app.admin('/v1/tenants', {
        method: 'POST',
        body: JSON.stringify({ ...seedBody, name: 'Acme Coffee Roasters', settings: { ...seedBody.settings, fb_page_id: '1234567890', fb_page_token: CANARY } }),
      });
      t.is(res.status, 200, 'sending the same slug again updates');
      const updated = (await res.json()) as any;
      t.false(updated.created);
      t.is(updated.tenant.id, created.tenant.id);
      t.is(updated.tenant.name, 'Acme Coffee Roasters');
      t.is(updated.tenant.settings.fb_page_token, '••••8f40', 'a secret is shown redacted to its last 4 characters');

      // The canary appears in no API output.
      const outputs: string[] = [];
      for (const p of ['/v1/tenants', '/v1/tenants/acme-coffee', '/v1/admin/tenants', '/v1/admin/tenants/acme-coffee']) {
        const r = await app.admin(p);
        t.is(r.status, 200, p);
        outputs.push(await r.text());
      }
      const boot = await fetch(`${app.url}/v1/widget/bootstrap?tenant=acme-coffee`);
      t.is(boot.status, 200);
      const bootText = await boot.text();
      outputs.push(bootText);
      for (const o of outputs) t.false(o.includes(CANARY));

      // Bootstrap: public fields only.
      const b = JSON.parse(bootText);
      t.is(b.name, 'Acme Coffee Roasters');
      t.true(b.has_catalog);
      t.false(b.has_plans);
      for (const hidden of ['policies', 'Returns within', 'fb_page', 'shop.example.com', 'faq']) t.false(bootText.includes(hidden), `${hidden} not in bootstrap`);

      // Not in plaintext at rest either.
      if (dialect === 'sqlite') {
        const dir = app.env.ZIA_DATA_DIR!;
        for (const f of readdirSync(dir)) t.false(readFileSync(path.join(dir, f)).includes(CANARY), `${f} has no plaintext canary`);
      } else {
        const rows = await app.services.db.knex('tenants').select('*');
        t.false(JSON.stringify(rows).includes(CANARY));
      }
      // ...but the service can still decrypt it for the channel clients.
      const tenant = await app.services.tenants.get('acme-coffee');
      t.is(app.services.tenants.secrets(tenant).fb_page_token, CANARY);
      t.is(tenant.fbPageId, '1234567890', 'routing column kept in sync');

      // Errors: JSON, with codes and field paths.
      res = await fetch(`${app.url}/v1/tenants`);
      t.is(res.status, 401);
      t.is(((await res.json()) as any).error.code, 'unauthorized');
      res = await fetch(`${app.url}/v1/tenants`, { headers: { 'x-api-key': `${ADMIN_KEY}x` } });
      t.is(res.status, 401);
      res = await app.admin('/v1/tenants', { method: 'POST', body: '{"slug": "x",' });
      t.is(res.status, 400);
      t.is(((await res.json()) as any).error.code, 'malformed_json');
      res = await app.admin('/v1/tenants/nope');
      t.is(res.status, 404);
      const notFound = (await res.json()) as any;
      t.is(notFound.error.code, 'not_found');
      t.truthy(notFound.error.request_id);
      res = await fetch(`${app.url}/v1/widget/bootstrap?tenant=nope`);
      t.is(res.status, 404);
      res = await app.admin('/v1/tenants/acme-coffee', { method: 'PATCH', body: JSON.stringify({ settings: { tone: 'x', colour_scheme: 'dark' } }) });
      t.is(res.status, 400);
      const bad = (await res.json()) as any;
      t.deepEqual(bad.error.details, [{ path: 'settings.colour_scheme', message: 'unknown key' }]);
      res = await app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug: 'Bad Slug!', name: '' }) });
      t.is(res.status, 400);
      const paths = ((await res.json()) as any).error.details.map((d: any) => d.path).sort();
      t.deepEqual(paths, ['body.name', 'body.slug']);
      res = await app.admin('/v1/tenants/acme-coffee', { method: 'PATCH', body: JSON.stringify({ settings: { faq: [{ q: 'only a question' }] } }) });
      t.is(res.status, 400);

      // Uniqueness of routing columns is enforced as a conflict.
      res = await app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug: 'other', name: 'Other', settings: { fb_page_id: '1234567890' } }) });
      t.is(res.status, 409);

      // PATCH merges, null removes.
      res = await app.admin('/v1/tenants/acme-coffee', { method: 'PATCH', body: JSON.stringify({ settings: { catalog_url: null, greeting: 'Hej!' } }) });
      t.is(res.status, 200);
      const patched = (await res.json()) as any;
      t.is(patched.tenant.settings.catalog_url, undefined);
      t.is(patched.tenant.settings.greeting, 'Hej!');
      t.is(patched.tenant.settings.tone, 'friendly and concise');
      t.is(patched.tenant.settings.fb_page_token, '••••8f40', 'secrets survive a patch that does not name them');

      // The server is still healthy after every error.
      res = await fetch(`${app.url}/healthz`);
      t.is(res.status, 200);
      res = await fetch(`${app.url}/readyz`);
      t.is(res.status, 200);
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      t.regex(metrics, /zia_http_requests_total\{method="GET",route="\/v1\/tenants\/:slug",status="404"\}/);
      const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as any;
      t.truthy(doc.paths['/v1/tenants/{slug}'].patch);
      t.truthy(doc.paths['/v1/widget/bootstrap'].get);

      res = await app.admin('/v1/tenants/acme-coffee', { method: 'DELETE' });
      t.is(res.status, 200);
      res = await app.admin('/v1/tenants/acme-coffee');
      t.is(res.status, 404);
      t.false(app.logs.text.includes(CANARY), 'the canary never reached a log line');
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: without ADMIN_KEY the admin API answers 503 with a hint`, async (t) => {
    const app = await startApp(dialect, { ADMIN_KEY: '' });
    try {
      const res = await fetch(`${app.url}/v1/tenants`);
      t.is(res.status, 503);
      t.regex(((await res.json()) as any).error.message, /ADMIN_KEY/);
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: storing a secret without ZIA_SECRET_KEY is a clear error`, async (t) => {
    const app = await startApp(dialect, { ZIA_SECRET_KEY: '' });
    try {
      const res = await app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug: 's', name: 'S', settings: { fb_page_token: CANARY } }) });
      t.is(res.status, 503);
      t.regex(((await res.json()) as any).error.message, /ZIA_SECRET_KEY/);
      t.is(await app.services.db.knex('tenants').count({ n: '*' }).first().then((r: any) => Number(r.n)), 0);
    } finally {
      await app.close();
    }
  });
}
