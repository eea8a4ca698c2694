import type { Knex } from 'knex';
import type { Db } from './create-db.js';

/** How often a SQLite transaction that lost a race with another process's writer is run again. */
const SQLITE_BUSY_RETRIES = 3;

function isSqliteBusy(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT';
}

/**
 * Runs `fn` in one transaction: one commit for several statements (on SQLite one WAL append instead of
 * one per statement, on PostgreSQL one flush instead of one per statement).
 *
 * SQLite starts a transaction as a reader; when another process (the CLI, a second server) has written
 * since, the first write cannot upgrade and fails at once with SQLITE_BUSY, busy_timeout or not. The
 * whole transaction was rolled back, so it is run again. `fn` must therefore only touch the database
 * (callbacks and notifications belong after the commit).
 */
export async function withTransaction<T>(db: Db, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.knex.transaction(fn);
    } catch (err) {
      if (db.dialect !== 'sqlite' || attempt >= SQLITE_BUSY_RETRIES || !isSqliteBusy(err)) throw err;
    }
  }
}
