import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseEnv } from '../helpers/app.js';
import { runBin } from '../helpers/cli.js';
import { dialects, freshDatabase } from '../helpers/db.js';
import { migrations } from '../../migrations/index.js';

const ALL = migrations.map(([name]) => name);

test('every migration names the tables its rollback touches', (t) => {
  for (const [name, m] of migrations) t.true((m.tables?.length ?? 0) > 0, `${name} exports tables`);
});

for (const dialect of dialects()) {
  test(`${dialect}: zia migrate rollback refuses without --yes off a TTY, says what it would do, and keeps every table`, async (t) => {
    const db = await freshDatabase(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-migrate-'));
    const zia = (args: string[]) => runBin(args, { env: { ...baseEnv(), ...db.env }, cwd });
    try {
      let r = await zia(['migrate']);
      t.is(r.code, 0, r.stderr);

      r = await zia(['migrate', 'rollback']);
      t.is(r.code, 2, 'a usage error: nothing to ask on, no --yes');
      t.is(r.stdout, '');
      t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
      t.regex(r.stderr, new RegExp(`refusing to roll back the last batch: ${ALL.length} migrations .*touching \\d+ tables \\(.*\\btenants\\b.*\\) without --yes.*stop every zia server`));
      r = await zia(['migrate', 'status', '--json']);
      t.deepEqual(JSON.parse(r.stdout).applied, ALL, 'nothing was rolled back');

      r = await zia(['migrate', 'latest', '--yes']);
      t.is(r.code, 2, '--yes belongs to rollback');

      // One migration at a time: the newest one alone.
      r = await zia(['migrate', 'rollback', '--step', '--yes', '--json']);
      t.is(r.code, 0, r.stderr);
      const step = JSON.parse(r.stdout);
      t.deepEqual([step.scope, step.migrations], ['step', [ALL.at(-1)]]);
      r = await zia(['migrate', 'status', '--json']);
      t.deepEqual(JSON.parse(r.stdout).applied, ALL.slice(0, -1));
      t.is((await zia(['migrate'])).code, 0);

      r = await zia(['migrate', 'rollback', '--yes']);
      t.is(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      t.regex(lines[0]!, /^roll back the last batch: 1 migration .*stop every zia server/, 'the batch migrated last is the one undone');
      t.deepEqual(lines.slice(1), [`rolled back  ${ALL.at(-1)}`]);

      r = await zia(['migrate', 'rollback', '--all', '--yes']);
      t.is(r.code, 0, r.stderr);
      t.deepEqual(r.stdout.trim().split('\n').slice(1), ALL.slice(0, -1).reverse().map((n) => `rolled back  ${n}`));
      r = await zia(['migrate', 'status', '--json']);
      t.deepEqual(JSON.parse(r.stdout).applied, []);
      r = await zia(['migrate', 'rollback']);
      t.is(r.code, 0, 'nothing left: nothing to confirm');
      t.is(r.stdout.trim(), 'nothing to roll back');
    } finally {
      await db.cleanup();
    }
  });
}
