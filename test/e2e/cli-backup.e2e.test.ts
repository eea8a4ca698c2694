import test from 'ava';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { ADMIN_KEY, baseEnv } from '../helpers/app.js';
import { runBin, spawnServe } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

function counts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const out: Record<string, number> = {};
    for (const table of ['tenants', 'conversations', 'messages', 'events']) out[table] = Number((db.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n);
    return out;
  } finally {
    db.close();
  }
}

test('sqlite: zia backup copies the database while the server writes (integrity ok, counts as reported); zia restore refuses while it runs, checks the file, keeps the replaced database', async (t) => {
  const db = await freshDatabase('sqlite');
  const cwd = mkdtempSync(path.join(tmpdir(), 'zia-backup-'));
  const env = { ...baseEnv({ ZIA_RATE_LIMIT_PER_MINUTE: '1000000', LOG_LEVEL: 'warn' }), ...db.env };
  const zia = (args: string[]) => runBin(args, { env, cwd });
  const live = path.join(db.env.ZIA_DATA_DIR!, 'zia.sqlite');
  const server = await spawnServe({ env, cwd });
  let turns = 0;
  let failures = 0;
  let writing = true;
  let turnsAtBackupLog = 0;
  const writers: Array<Promise<void>> = [];
  try {
    const created = await fetch(`${server.url}/v1/tenants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
      body: JSON.stringify({ slug: 'shop', name: 'Shop', settings: { faq: [{ q: 'When are you open?', a: 'Nine to five.' }] } }),
    });
    t.is(created.status, 201);
    for (let w = 0; w < 4; w++) {
      writers.push(
        (async () => {
          while (writing) {
            const res = await fetch(`${server.url}/v1/chat?tenant=shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: `when are you open? ${w}` }) });
            await res.arrayBuffer();
            if (res.status === 200) turns++;
            else failures++;
          }
        })(),
      );
    }
    await waitFor('chat turns being written', () => turns >= 20, 60_000);
    const out = path.join(cwd, 'copies', 'online.sqlite');
    let r = await zia(['backup', '--out', 'copies/online.sqlite', '--json']);
    t.is(r.code, 0, r.stderr);
    const turnsAtBackup = turns;
    turnsAtBackupLog = turnsAtBackup;
    const report = JSON.parse(r.stdout);
    t.is(report.file, out);
    await waitFor('more turns after the backup', () => turns >= turnsAtBackup + 10, 60_000);

    const copy = new Database(out, { readonly: true, fileMustExist: true });
    t.deepEqual(copy.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
    t.deepEqual(copy.pragma('foreign_key_check'), [], 'every message belongs to a stored conversation');
    t.is(copy.pragma('journal_mode', { simple: true }), 'delete', 'one self-contained file');
    copy.close();
    t.false(existsSync(`${out}-wal`));
    const atBackup = counts(out);
    t.is(atBackup.tenants, 1);
    t.true(atBackup.messages >= 20, `messages in the copy: ${atBackup.messages}`);
    for (const table of ['tenants', 'conversations', 'messages', 'events']) t.is(report.rows[table], atBackup[table], table);

    r = await zia(['backup']);
    t.is(r.code, 0, r.stderr);
    const defaultPath = r.stdout.split('  ')[0]!;
    t.regex(defaultPath, new RegExp(`^${db.env.ZIA_DATA_DIR}/backups/zia-\\d{8}T\\d{6}Z\\.sqlite$`));
    t.true(existsSync(defaultPath));
    r = await zia(['backup', '--out', out]);
    t.is(r.code, 1, 'an existing file is never overwritten');
    t.regex(r.stderr, /already exists/);

    r = await zia(['restore', out, '--yes']);
    t.is(r.code, 1);
    t.regex(r.stderr, new RegExp(`^zia: refusing to restore: another zia server \\(pid ${server.child.pid}\\)`));
  } finally {
    writing = false;
    await Promise.all(writers);
    t.is(await server.stop('SIGTERM'), 0);
  }
  t.is(failures, 0, 'every chat turn during the backup succeeded');
  t.log(`${turns} chat turns in all, the backup taken after ${turnsAtBackupLog}`);

  const beforeRestore = counts(live);
  t.true(beforeRestore.messages > counts(path.join(cwd, 'copies', 'online.sqlite')).messages);
  let r = await zia(['restore', 'copies/online.sqlite']);
  t.is(r.code, 2, 'no TTY: needs --yes');

  writeFileSync(path.join(cwd, 'junk.sqlite'), 'not a database at all, just text that is long enough to have a header');
  r = await zia(['restore', 'junk.sqlite', '--yes']);
  t.is(r.code, 1);
  t.regex(r.stderr, /is not a SQLite database/);
  const other = new Database(path.join(cwd, 'other.sqlite'));
  other.exec('create table notes (id integer primary key, body text)');
  other.close();
  r = await zia(['restore', 'other.sqlite', '--yes']);
  t.is(r.code, 1);
  t.regex(r.stderr, /not zia's/);
  copyFileSync(path.join(cwd, 'copies', 'online.sqlite'), path.join(cwd, 'newer.sqlite'));
  const newer = new Database(path.join(cwd, 'newer.sqlite'));
  newer.prepare(`insert into zia_migrations (name, batch, migration_time) values ('29991231000000_from_the_future', 2, '2999-12-31')`).run();
  newer.close();
  r = await zia(['restore', 'newer.sqlite', '--yes']);
  t.is(r.code, 1);
  t.regex(r.stderr, /newer zia/);
  t.deepEqual(counts(live), beforeRestore, 'a refused restore changes nothing');

  r = await zia(['restore', 'copies/online.sqlite', '--yes', '--json']);
  t.is(r.code, 0, r.stderr);
  const restored = JSON.parse(r.stdout);
  t.regex(restored.previous, /\/backups\/zia-before-restore-\d{8}T\d{6}Z\.sqlite$/);
  t.deepEqual(counts(restored.previous), beforeRestore, 'the replaced database is kept whole');
  t.deepEqual(counts(live), counts(path.join(cwd, 'copies', 'online.sqlite')));

  const again = await spawnServe({ env, cwd });
  try {
    const res = await fetch(`${again.url}/v1/chat?tenant=shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'when are you open?' }) });
    t.is(res.status, 200);
    t.regex(((await res.json()) as { reply: string }).reply, /Nine to five/);
  } finally {
    t.is(await again.stop('SIGTERM'), 0);
    await db.cleanup();
  }
});

test('pg: zia backup and zia restore print pg_dump/pg_restore commands that work, with the password never shown', async (t) => {
  const secretUrl = 'postgres://zia:s3cret-pw@db.internal:5432/zia?sslmode=require';
  const cwd = mkdtempSync(path.join(tmpdir(), 'zia-pgdump-'));
  let r = await runBin(['backup', '--out', 'nightly.dump'], { env: { ...baseEnv(), DATABASE_URL: secretUrl }, cwd });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `pg_dump --format=custom --no-owner --file=nightly.dump 'postgres://zia@db.internal:5432/zia?sslmode=require'\n`);
  t.regex(r.stderr, /PGPASSWORD or ~\/\.pgpass/);
  t.false(`${r.stdout}${r.stderr}`.includes('s3cret'));
  r = await runBin(['restore', 'nightly.sql'], { env: { ...baseEnv(), DATABASE_URL: secretUrl }, cwd });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^psql --single-transaction --set=ON_ERROR_STOP=1 --dbname='postgres:\/\/zia@db\.internal:5432\/zia\?sslmode=require' --file=/);
  t.false(`${r.stdout}${r.stderr}`.includes('s3cret'));

  if (!process.env.ZIA_TEST_PG_URL) return;
  // The printed commands, run as printed, against real databases.
  const source = await freshDatabase('pg');
  const target = await freshDatabase('pg');
  try {
    const env = (db: { env: Record<string, string> }) => ({ ...baseEnv(), ...db.env });
    t.is((await runBin(['migrate'], { env: env(source), cwd })).code, 0);
    t.is((await runBin(['tenant', 'create', 'shop', '--name', 'Shop'], { env: env(source), cwd })).code, 0);
    r = await runBin(['backup', '--out', path.join(cwd, 'zia.dump')], { env: env(source), cwd });
    t.is(r.code, 0, r.stderr);
    await run('sh', ['-c', r.stdout], { cwd });
    t.is(readFileSync(path.join(cwd, 'zia.dump')).subarray(0, 5).toString(), 'PGDMP');
    r = await runBin(['restore', 'zia.dump'], { env: env(target), cwd });
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /^pg_restore /);
    await run('sh', ['-c', r.stdout], { cwd });
    r = await runBin(['tenant', 'list', '--json'], { env: env(target), cwd });
    t.is(r.code, 0, r.stderr);
    t.deepEqual(JSON.parse(r.stdout).map((x: { slug: string }) => x.slug), ['shop']);
  } finally {
    await source.cleanup();
    await target.cleanup();
  }
});
