import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseEnv } from '../helpers/app.js';
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
