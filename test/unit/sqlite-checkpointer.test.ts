import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { BACKSTOP_WAL_PAGES } from '../../src/db/checkpointer.js';
import { createDb } from '../../src/db/create-db.js';
import { waitFor } from '../helpers/wait.js';
import { knexOf } from '../../src/db/unit-of-work.js';

test('SQLite: committed pages reach the database file from the checkpoint thread, not the serving connection', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'zia-ckpt-'));
  const file = path.join(dir, 'zia.sqlite');
  const db = createDb({ dbClient: 'sqlite', sqlitePath: file, DATABASE_URL: undefined });
  try {
    const k = db.knex;
    t.is((await k.raw('PRAGMA wal_autocheckpoint'))[0].wal_autocheckpoint, BACKSTOP_WAL_PAGES, 'the serving connection only checkpoints as a backstop');
    await k.schema.createTable('blobs', (tb) => {
      tb.increments('id');
      tb.text('body');
    });
    const before = statSync(file).size;
    // ~1.2 MB of committed rows: about 300 pages, far below the backstop, so only the thread moves them.
    for (let i = 0; i < 30; i++) await db.transaction((trx) => knexOf(trx)('blobs').insert(Array.from({ length: 10 }, () => ({ body: 'x'.repeat(4000) }))));
    await waitFor('the checkpoint thread to copy the WAL into the database', () => statSync(file).size > before + 1_000_000, 10_000);
    t.is((await k('blobs').count({ n: '*' }))[0]!.n, 300);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  t.pass('close() stopped the thread (a thread left running would keep this worker alive)');
});
