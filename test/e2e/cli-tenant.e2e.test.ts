import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseEnv, startApp } from '../helpers/app.js';
import { runBin } from '../helpers/cli.js';
import { dialects, freshDatabase } from '../helpers/db.js';

const CANARY = 'EAAB-CLI-CANARY-91c2d3e4f5';

for (const dialect of dialects()) {
  test(`${dialect}: zia tenant create|list|show|update|delete --json without a TTY`, async (t) => {
    const db = await freshDatabase(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-cli-'));
    const env = { ...baseEnv(), ...db.env };
    const zia = (args: string[], stdin?: string) => runBin(args, { env, cwd, stdin });
    try {
      t.is((await zia(['migrate'])).code, 0, 'only serve, worker, init and migrate create a database');
      writeFileSync(path.join(cwd, 'settings.json'), JSON.stringify({ tone: 'warm', fb_page_token: CANARY }));
      let r = await zia(['tenant', 'create', 'bakery', '--name', 'The Bakery', '--settings', 'settings.json', '--set', 'faq=[{"q":"Open on Sunday?","a":"No."}]', '--json']);
      t.is(r.code, 0, r.stderr);
      const created = JSON.parse(r.stdout);
      t.is(created.slug, 'bakery');
      t.is(created.settings.faq.length, 1);

      r = await zia(['tenant', 'create', 'bakery', '--name', 'Again', '--json']);
      t.is(r.code, 2, 'creating an existing slug is a usage error');
      t.regex(r.stderr, /^zia: .*already exists/);
      t.is(r.stderr.trim().split('\n').length, 1, 'one line on stderr');

      r = await zia(['tenant', 'create', '--json']);
      t.is(r.code, 2, 'no prompt without a TTY: missing slug is a usage error');

      r = await zia(['tenant', 'list', '--json']);
      t.is(r.code, 0);
      t.deepEqual(JSON.parse(r.stdout).map((x: any) => x.slug), ['bakery']);

      r = await zia(['tenant', 'update', 'bakery', '--set', 'branding.color=#ff0066', '--set', 'greeting=Hello there', '--json']);
      t.is(r.code, 0, r.stderr);
      const updated = JSON.parse(r.stdout);
      t.is(updated.settings.branding.color, '#ff0066');
      t.is(updated.settings.greeting, 'Hello there');

      r = await zia(['tenant', 'update', 'bakery', '--set', 'nonsense=1']);
      t.is(r.code, 2);
      t.regex(r.stderr, /settings\.nonsense: unknown key/);

      r = await zia(['tenant', 'update', 'bakery', '--settings', '-', '--json'], JSON.stringify({ tone: 'crisp' }));
      t.is(r.code, 0, r.stderr);
      t.is(JSON.parse(r.stdout).settings.tone, 'crisp');

      r = await zia(['tenant', 'show', 'bakery']);
      t.is(r.code, 0);
      t.regex(r.stdout, /The Bakery/);
      r = await zia(['tenant', 'show', 'nope', '--json']);
      t.is(r.code, 1);
      t.regex(r.stderr, /not found/);

      r = await zia(['tenant', 'delete', 'bakery']);
      t.is(r.code, 2, 'delete needs --yes without a TTY');
      r = await zia(['tenant', 'delete', 'bakery', '--yes', '--json']);
      t.is(r.code, 0);
      t.deepEqual(JSON.parse(r.stdout), { deleted: 'bakery' });
      r = await zia(['tenant', 'list', '--json']);
      t.deepEqual(JSON.parse(r.stdout), []);

      r = await zia(['tenant', 'frobnicate']);
      t.is(r.code, 2);
      r = await zia(['migrate', 'status', '--json']);
      t.is(r.code, 0);
      t.deepEqual(JSON.parse(r.stdout).pending, []);
    } finally {
      await db.cleanup();
    }
  });
}

test('zia init writes .env with generated keys and refuses to overwrite', async (t) => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'zia-init-'));
  let r = await runBin(['init', '--demo', '--site-url', 'https://bot.example.com'], { env: {}, cwd });
  t.is(r.code, 0, r.stderr);
  const { readFileSync } = await import('node:fs');
  const env = readFileSync(path.join(cwd, '.env'), 'utf8');
  t.regex(env, /^ADMIN_KEY=[\w-]{32}$/m);
  t.regex(env, /^ZIA_SECRET_KEY=[0-9a-f]{64}$/m);
  t.regex(env, /^SITE_URL=https:\/\/bot\.example\.com$/m);
  r = await runBin(['tenant', 'show', 'demo', '--json'], { env: {}, cwd });
  t.is(r.code, 0, r.stderr);
  t.is(JSON.parse(r.stdout).slug, 'demo');
  r = await runBin(['init'], { env: {}, cwd });
  t.is(r.code, 2);
  t.regex(r.stderr, /--force/);
});

for (const dialect of dialects()) {
  test(`${dialect}: zia tenant create refuses a slug the API refuses (exit 2, one line); dotted --set works on create as on update and in PATCH`, async (t) => {
    const db = await freshDatabase(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-cli-slug-'));
    const env = { ...baseEnv(), ...db.env };
    const zia = (args: string[]) => runBin(args, { env, cwd });
    try {
      t.is((await zia(['migrate'])).code, 0);
      for (const slug of ['Shop One', '../etc', 'shop-', 'a'.repeat(65), '']) {
        const r = await zia(['tenant', 'create', slug, '--name', 'Shop']);
        t.is(r.code, 2, `slug ${JSON.stringify(slug)}: ${r.stderr}`);
        t.is(r.stderr.trim().split('\n').length, 1, 'one line on stderr');
        t.regex(r.stderr, slug === '' ? /^zia: .*slug/ : /^zia: invalid input: slug: lowercase letters/);
      }
      let r = await zia(['tenant', 'create', 'shop', '--name', 'Shop', '--whatsapp', '12345']);
      t.is(r.code, 2, 'the whatsapp number is checked as the API checks it');
      t.regex(r.stderr, /whatsapp: an E\.164 number/);
      r = await zia(['tenant', 'list', '--json']);
      t.deepEqual(JSON.parse(r.stdout), [], 'nothing was created by a refused command');

      r = await zia(['tenant', 'create', 'shop', '--name', 'Shop', '--set', 'branding.color=#ff0066', '--set', 'lead.mode=intent', '--set', 'plans.0.id=pro', '--set', 'plans.0.name=Pro', '--set', 'plans.0.amount=4900', '--set', 'plans.0.currency=usd', '--set', 'plans.0.interval=month', '--json']);
      t.is(r.code, 0, r.stderr);
      let settings = JSON.parse(r.stdout).settings;
      t.deepEqual(settings.branding, { color: '#ff0066' });
      t.deepEqual(settings.lead, { mode: 'intent' });
      t.deepEqual(settings.plans, [{ id: 'pro', name: 'Pro', amount: 4900, currency: 'usd', interval: 'month' }]);

      r = await zia(['tenant', 'update', 'shop', '--set', 'branding.title=The Shop', '--set', 'plans.0.amount=5900', '--unset', 'lead.mode', '--json']);
      t.is(r.code, 0, r.stderr);
      settings = JSON.parse(r.stdout).settings;
      t.deepEqual(settings.branding, { color: '#ff0066', title: 'The Shop' });
      t.is(settings.plans[0].amount, 5900);
      t.deepEqual(settings.lead, {});

      r = await zia(['tenant', 'create', 'other', '--name', 'Other', '--set', 'branding.colour=#000000']);
      t.is(r.code, 2);
      t.regex(r.stderr, /settings\.branding\.colour: unknown key/);
      r = await zia(['tenant', 'update', 'shop', '--set', '__proto__.admin=true']);
      t.is(r.code, 2);
      t.regex(r.stderr, /settings\.__proto__\.admin: not a settings key/);
    } finally {
      await db.cleanup();
    }

    // The HTTP API merges with the same function: dotted keys in POST (create) and PATCH.
    const app = await startApp(dialect);
    try {
      let res = await app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug: 'web', name: 'Web', settings: { 'branding.color': '#112233' } }) });
      t.is(res.status, 201);
      t.deepEqual(((await res.json()) as any).tenant.settings.branding, { color: '#112233' });
      res = await app.admin('/v1/tenants/web', { method: 'PATCH', body: JSON.stringify({ settings: { 'branding.title': 'Web Shop', 'branding.color': null } }) });
      t.is(res.status, 200);
      t.deepEqual(((await res.json()) as any).tenant.settings.branding, { title: 'Web Shop' });
      res = await app.admin('/v1/tenants/web', { method: 'PATCH', body: JSON.stringify({ settings: { 'branding.nope': 1 } }) });
      t.is(res.status, 400);
      t.is(((await res.json()) as any).error.details[0].path, 'settings.branding.nope');
      res = await app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug: 'Shop One', name: 'x' }) });
      t.is(res.status, 400, 'the API refuses the same slugs the CLI refuses');
    } finally {
      await app.close();
    }
  });
}
