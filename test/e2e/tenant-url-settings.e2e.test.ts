import ava from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseEnv, startApp, type TestApp } from '../helpers/app.js';
import { runBin } from '../helpers/cli.js';
import { dialects, freshDatabase } from '../helpers/db.js';

/**
 * URLs in tenant settings that could never work are refused when saved, with the settings path: links
 * must be http(s), and the URLs zia fetches (catalog, outbound webhook) must also pass the address rules
 * that need no DNS lookup, unless ZIA_CATALOG_ALLOW_PRIVATE is set for local development.
 */

const REFUSED: Array<[string, Record<string, unknown>, string]> = [
  ['javascript: avatar', { branding: { avatar_url: 'javascript:alert(document.cookie)' } }, 'settings.branding.avatar_url'],
  ['data: avatar', { branding: { avatar_url: 'data:image/svg+xml,<svg onload=alert(1)>' } }, 'settings.branding.avatar_url'],
  ['file: catalog', { catalog_url: 'file:///etc/passwd' }, 'settings.catalog_url'],
  ['gopher: catalog', { catalog_url: 'gopher://127.0.0.1:6379/_FLUSHALL' }, 'settings.catalog_url'],
  ['data: outbound', { outbound_webhook_url: 'data:text/plain,hello' }, 'settings.outbound_webhook_url'],
  ['plain http catalog', { catalog_url: 'http://shop.example.com/catalog.json' }, 'settings.catalog_url'],
  ['loopback catalog', { catalog_url: 'https://127.0.0.1:8443/catalog.json' }, 'settings.catalog_url'],
  ['decimal loopback', { catalog_url: 'https://2130706433/catalog.json' }, 'settings.catalog_url'],
  ['private outbound', { outbound_webhook_url: 'https://10.0.0.5/hook' }, 'settings.outbound_webhook_url'],
  ['metadata address', { catalog_url: 'https://169.254.169.254/latest/meta-data' }, 'settings.catalog_url'],
  ['IPv6 loopback', { outbound_webhook_url: 'https://[::1]/hook' }, 'settings.outbound_webhook_url'],
  ['IPv6 link-local', { catalog_url: 'https://[fe80::1]/c.json' }, 'settings.catalog_url'],
  ['IPv6 unique-local', { outbound_webhook_url: 'https://[fd00::5]/hook' }, 'settings.outbound_webhook_url'],
  ['IPv4-mapped loopback', { catalog_url: 'https://[::ffff:127.0.0.1]/c.json' }, 'settings.catalog_url'],
  ['localhost name', { outbound_webhook_url: 'https://localhost/hook' }, 'settings.outbound_webhook_url'],
  ['credentials', { catalog_url: 'https://user:pw@shop.example.com/c.json' }, 'settings.catalog_url'],
];

async function problems(res: Response): Promise<string[]> {
  const body = (await res.json()) as { error: { code: string; details?: Array<{ path: string }> } };
  return body.error.details?.map((d) => d.path) ?? [body.error.code];
}

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: the API refuses settings URLs that could never work, on create and update, naming the path`, async (t) => {
    const app: TestApp = await startApp(dialect);
    try {
      t.is((await app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug: 'acme', name: 'Acme' }) })).status, 201);
      for (const [what, settings, path] of REFUSED) {
        const created = await app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug: 'other', name: 'Other', settings }) });
        t.is(created.status, 400, `create with ${what}`);
        t.deepEqual(await problems(created), [path], what);
        const patched = await app.admin('/v1/tenants/acme', { method: 'PATCH', body: JSON.stringify({ settings }) });
        t.is(patched.status, 400, `update with ${what}`);
        t.deepEqual(await problems(patched), [path], what);
      }
      t.is((await app.admin('/v1/tenants/other')).status, 404, 'nothing was created');
      // Public names are accepted without a lookup at save; the fetch still checks what they resolve to.
      const ok = await app.admin('/v1/tenants/acme', {
        method: 'PATCH',
        body: JSON.stringify({ settings: { catalog_url: 'https://shop.example.com/c.json', outbound_webhook_url: 'https://hooks.example.com/zia', branding: { avatar_url: 'http://cdn.example.com/a.png' } } }),
      });
      t.is(ok.status, 200, await ok.clone().text());
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: with ZIA_CATALOG_ALLOW_PRIVATE local http URLs are accepted, other schemes still are not`, async (t) => {
    const app = await startApp(dialect, { ZIA_CATALOG_ALLOW_PRIVATE: 'true' });
    try {
      const ok = await app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug: 'dev', name: 'Dev', settings: { catalog_url: 'http://127.0.0.1:9000/c.json', outbound_webhook_url: 'http://[::1]:9001/hook' } }) });
      t.is(ok.status, 201, await ok.clone().text());
      for (const [settings, path] of [
        [{ catalog_url: 'file:///etc/passwd' }, 'settings.catalog_url'],
        [{ branding: { avatar_url: 'javascript:alert(1)' } }, 'settings.branding.avatar_url'],
      ] as const) {
        const res = await app.admin('/v1/tenants/dev', { method: 'PATCH', body: JSON.stringify({ settings }) });
        t.is(res.status, 400);
        t.deepEqual(await problems(res), [path]);
      }
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: zia tenant create and update refuse the same URLs, one line on stderr`, async (t) => {
    const db = await freshDatabase(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-cli-urls-'));
    const env = { ...baseEnv(), ...db.env };
    const zia = (args: string[], stdin?: string) => runBin(args, { env, cwd, stdin });
    try {
      t.is((await zia(['migrate'])).code, 0);
      let r = await zia(['tenant', 'create', 'shop', '--name', 'Shop', '--set', 'catalog_url=file:///etc/passwd']);
      t.not(r.code, 0);
      t.regex(r.stderr, /settings\.catalog_url/);
      t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
      r = await zia(['tenant', 'create', 'shop', '--name', 'Shop', '--settings', '-'], JSON.stringify({ branding: { avatar_url: 'javascript:alert(1)' } }));
      t.not(r.code, 0);
      t.regex(r.stderr, /settings\.branding\.avatar_url/);
      r = await zia(['tenant', 'create', 'shop', '--name', 'Shop']);
      t.is(r.code, 0, r.stderr);
      r = await zia(['tenant', 'update', 'shop', '--set', 'outbound_webhook_url=https://192.168.1.10/hook']);
      t.not(r.code, 0);
      t.regex(r.stderr, /settings\.outbound_webhook_url: .*forbidden address/);
      r = await zia(['tenant', 'show', 'shop', '--json']);
      t.is(JSON.parse(r.stdout).settings.outbound_webhook_url, undefined, 'nothing was saved');
    } finally {
      await db.cleanup();
    }
  });
}
