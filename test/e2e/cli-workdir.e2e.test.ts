import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'dotenv';
import { runBin } from '../helpers/cli.js';
import { dialects, freshDatabase } from '../helpers/db.js';

const CANARY = 'EAAB-ROTATION-CANARY-7d41';

test('a data command run where there is no database says where it looked, creates nothing and exits 1', async (t) => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'zia-nowhere-'));
  const commands = [
    ['tenant', 'list'],
    ['tenant', 'create', 'shop', '--name', 'Shop'],
    ['leads', 'list', '--json'],
    ['stats', 'shop'],
    ['webhooks', 'log'],
    ['conversations', 'list', 'shop'],
    ['backup'],
  ];
  for (const args of commands) {
    const r = await runBin(args, { env: {}, cwd });
    t.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    t.is(r.stdout, '', args.join(' '));
    t.is(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line`);
    t.true(r.stderr.includes(path.join(cwd, 'data', 'zia.sqlite')), r.stderr);
    t.regex(r.stderr, /ZIA_DATA_DIR/);
    t.regex(r.stderr, /no \.env in /);
  }
  t.false(existsSync(path.join(cwd, 'data')), 'no data directory was made');

  // With a .env pointing elsewhere, the message names the resolved path and the .env it read.
  writeFileSync(path.join(cwd, '.env'), 'ZIA_DATA_DIR=./store\n');
  const r = await runBin(['tenant', 'list'], { env: {}, cwd });
  t.is(r.code, 1);
  t.true(r.stderr.includes(path.join(cwd, 'store', 'zia.sqlite')), r.stderr);
  t.true(r.stderr.includes(`with ${path.join(cwd, '.env')}`), r.stderr);
  t.false(existsSync(path.join(cwd, 'store')));

  // migrate may create it; afterwards the same command works.
  t.is((await runBin(['migrate'], { env: {}, cwd })).code, 0);
  const listed = await runBin(['tenant', 'list', '--json'], { env: {}, cwd });
  t.is(listed.code, 0, listed.stderr);
  t.deepEqual(JSON.parse(listed.stdout), []);
});

for (const dialect of dialects()) {
  test(`${dialect}: zia init --force keeps every other .env line and the old ZIA_SECRET_KEY, so stored tenant secrets stay readable`, async (t) => {
    const db = await freshDatabase(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-rotate-'));
    const zia = (args: string[]) => runBin(args, { env: {}, cwd });
    const dotenv = () => readFileSync(path.join(cwd, '.env'), 'utf8');
    try {
      let r = await zia(['init', '--site-url', 'https://bot.example.com']);
      t.is(r.code, 0, r.stderr);
      const first = parse(dotenv());
      const operatorLines = ['# the operator keeps notes here', 'OPENAI_MODEL=gpt-4.1-mini', ...Object.entries(db.env).map(([k, v]) => `${k}=${v}`)];
      writeFileSync(path.join(cwd, '.env'), `${dotenv()}${operatorLines.join('\n')}\n`);
      t.is((await zia(['migrate'])).code, 0);
      r = await zia(['tenant', 'create', 'shop', '--name', 'Shop', '--set', `fb_page_token=${CANARY}`, '--set', 'fb_page_id=1234567']);
      t.is(r.code, 0, r.stderr);

      r = await zia(['init', '--force']);
      t.is(r.code, 0, r.stderr);
      t.regex(r.stdout, /old ZIA_SECRET_KEY moved to ZIA_SECRET_KEY_PREVIOUS/);
      const text = dotenv();
      const second = parse(text);
      for (const line of operatorLines) t.true(text.split('\n').includes(line), `kept: ${line}`);
      t.is(second.SITE_URL, 'https://bot.example.com', 'SITE_URL kept when --site-url is not given');
      t.not(second.ZIA_SECRET_KEY, first.ZIA_SECRET_KEY);
      t.not(second.ADMIN_KEY, first.ADMIN_KEY);
      t.is(second.ZIA_SECRET_KEY_PREVIOUS, first.ZIA_SECRET_KEY);
      t.is(text.match(/^ZIA_SECRET_KEY=/gm)?.length, 1, 'one ZIA_SECRET_KEY line');

      // Sealed with the old key, read through ZIA_SECRET_KEY_PREVIOUS.
      r = await zia(['tenant', 'show', 'shop', '--json']);
      t.is(r.code, 0, r.stderr);
      t.is(JSON.parse(r.stdout).settings.fb_page_token, `••••${CANARY.slice(-4)}`);
      t.false(r.stdout.includes(CANARY));

      // The next write seals with the new key: the previous one is then no longer needed.
      r = await zia(['tenant', 'update', 'shop', '--set', 'tone=calm']);
      t.is(r.code, 0, r.stderr);
      writeFileSync(path.join(cwd, '.env'), text.replace(/^ZIA_SECRET_KEY_PREVIOUS=.*\n/m, ''));
      r = await zia(['tenant', 'show', 'shop', '--json']);
      t.is(r.code, 0, r.stderr);
      t.is(JSON.parse(r.stdout).settings.fb_page_token, `••••${CANARY.slice(-4)}`);

      // A second rotation puts the newest old key first and keeps the ones before it.
      writeFileSync(path.join(cwd, '.env'), text);
      r = await zia(['init', '--force', '--site-url', 'https://chat.example.com']);
      t.is(r.code, 0, r.stderr);
      const third = parse(dotenv());
      t.is(third.ZIA_SECRET_KEY_PREVIOUS, `${second.ZIA_SECRET_KEY},${first.ZIA_SECRET_KEY}`);
      t.is(third.SITE_URL, 'https://chat.example.com');
      r = await zia(['tenant', 'show', 'shop', '--json']);
      t.is(r.code, 0, r.stderr);
    } finally {
      await db.cleanup();
    }
  });
}
