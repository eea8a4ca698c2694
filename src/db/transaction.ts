import type { Knex } from 'knex';
import type { Tx } from './unit-of-work.js';

/** How often a SQLite transaction that lost a race with another process's writer is run again. */
const SQLITE_BUSY_RETRIES = 3;

type TransactionFn<T> = (trx: Knex.Transaction) => Promise<T>;

function isSqliteBusy(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT';
}

/**
 * Runs `fn` in one transaction: one commit for several statements. `fn` must run every query on `trx`
 * and touch nothing but the database (it may be run again; notifications belong after the commit,
 * see EventService.recordAll). On PostgreSQL a plain transaction; on SQLite see sqliteGroupCommit.
 */
export function withTransaction<T>(db: { transaction<R>(fn: (tx: Tx) => Promise<R>): Promise<R> }, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(fn);
}

/**
 * SQLite: under load, transactions asked for within one turn of the event loop are committed together,
 * each in its own savepoint (a failing one rolls back alone and its caller gets its error; the others commit).
 * better-sqlite3 is synchronous, so a commit (the WAL frames of every page it changed, and now and then
 * a checkpoint with its fsyncs) blocks the process; chat turns change mostly the same last leaves of
 * the same tables and indexes, so one commit for the turns that queued up costs little more than one
 * for a single turn. Each caller resolves only after the commit that contains its changes.
 *
 * SQLite starts a transaction as a reader; when another process (the CLI, a second server) has written
 * since, the first write cannot upgrade and fails at once with SQLITE_BUSY, busy_timeout or not. The
 * batch is then rolled back and run again, which is why `fn` must only touch the database.
 */
export interface SqliteGroupCommit {
  transaction<T>(fn: TransactionFn<T>): Promise<T>;
  /** Statements already compiled (Db.writeAll), committed together like a transaction's. */
  writeAll(statements: Knex.Sql[]): Promise<void>;
}

/** What the group commit uses of a better-sqlite3 connection. */
interface SqliteConnection {
  exec(sql: string): unknown;
  prepare(sql: string): { run(bindings: unknown[]): unknown };
  readonly inTransaction: boolean;
}

/** Bindings as knex hands them to better-sqlite3, which takes neither booleans nor dates. */
function sqliteBindings(bindings: readonly unknown[]): unknown[] {
  return bindings.map((b) => (typeof b === 'boolean' ? Number(b) : b instanceof Date ? b.valueOf() : b));
}

export function sqliteGroupCommit(knex: Knex): SqliteGroupCommit {
  interface Pending {
    /** Runs on a knex transaction; or else `statements` run directly on the connection. */
    fn?: TransactionFn<unknown>;
    statements?: Knex.Sql[];
    resolve(value: unknown): void;
    reject(err: unknown): void;
  }
  type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
  let queue: Pending[] = [];
  let running = false;
  const pool = knex.client as { acquireConnection(): Promise<SqliteConnection>; releaseConnection(c: SqliteConnection): Promise<void> };

  // Statements run directly are announced as knex's own are, to whoever listens for 'query'.
  const announce = (sql: string, bindings: readonly unknown[] = []) => {
    if (knex.listenerCount('query') > 0) knex.emit('query', { sql, bindings });
  };
  const exec = (conn: SqliteConnection, sql: string) => {
    announce(sql);
    conn.exec(sql);
  };
  /** A pending's statements, one after the other and synchronously: knex's runner costs more than they do. */
  const runStatements = (conn: SqliteConnection, statements: Knex.Sql[]) => {
    for (const s of statements) {
      announce(s.sql, s.bindings);
      conn.prepare(s.sql).run(sqliteBindings(s.bindings));
    }
  };

  /**
   * Each caller in a savepoint of one transaction: for a batch of compiled statements only, directly on
   * the connection (no knex transaction object and no promise per statement); otherwise on a knex
   * transaction, one per batch.
   */
  const attempt = async (batch: Pending[]): Promise<Outcome[]> => {
    const outcomes: Outcome[] = [];
    const alone = batch.length === 1;
    if (batch.every((p) => p.statements)) {
      const conn = await pool.acquireConnection();
      try {
        exec(conn, 'BEGIN');
        for (const p of batch) {
          if (!alone) exec(conn, 'SAVEPOINT turn');
          try {
            runStatements(conn, p.statements!);
            if (!alone) exec(conn, 'RELEASE turn');
            outcomes.push({ ok: true, value: undefined });
          } catch (error) {
            if (alone || isSqliteBusy(error)) throw error;
            exec(conn, 'ROLLBACK TO turn');
            exec(conn, 'RELEASE turn');
            outcomes.push({ ok: false, error });
          }
        }
        exec(conn, 'COMMIT');
      } catch (err) {
        if (conn.inTransaction) exec(conn, 'ROLLBACK');
        throw err;
      } finally {
        await pool.releaseConnection(conn);
      }
      return outcomes;
    }
    await knex.transaction(async (trx) => {
      for (const p of batch) {
        if (!alone) await trx.raw('SAVEPOINT turn');
        try {
          let value: unknown;
          if (p.fn) value = await p.fn(trx);
          else for (const s of p.statements!) await trx.raw(s.sql, s.bindings as Knex.RawBinding[]);
          if (!alone) await trx.raw('RELEASE turn');
          outcomes.push({ ok: true, value });
        } catch (error) {
          if (alone || isSqliteBusy(error)) throw error;
          await trx.raw('ROLLBACK TO turn');
          await trx.raw('RELEASE turn');
          outcomes.push({ ok: false, error });
        }
      }
    });
    return outcomes;
  };

  const runBatch = async (batch: Pending[]): Promise<void> => {
    for (let n = 0; ; n++) {
      let outcomes: Outcome[];
      try {
        outcomes = await attempt(batch);
      } catch (err) {
        if (isSqliteBusy(err) && n < SQLITE_BUSY_RETRIES) continue;
        // Alone in its batch a failing transaction was rolled back, and its caller gets the error.
        for (const p of batch) p.reject(err);
        return;
      }
      batch.forEach((p, i) => {
        const o = outcomes[i]!;
        if (o.ok) p.resolve(o.value);
        else p.reject(o.error);
      });
      return;
    }
  };

  // Waiting a turn of the event loop lets requests already received queue their transactions too, but
  // it is latency: only worth it under load, when the last commit was a moment ago.
  const BUSY_WINDOW_MS = 2;
  let lastCommit = -Infinity;

  const drain = async (): Promise<void> => {
    running = true;
    try {
      let gather = performance.now() - lastCommit < BUSY_WINDOW_MS;
      while (queue.length > 0) {
        if (gather) await new Promise((resolve) => setImmediate(resolve));
        const batch = queue;
        queue = [];
        await runBatch(batch);
        lastCommit = performance.now();
        gather = true;
      }
    } finally {
      running = false;
    }
  };

  const enqueue = (pending: Omit<Pending, 'resolve' | 'reject'>) =>
    new Promise<unknown>((resolve, reject) => {
      queue.push({ ...pending, resolve, reject });
      if (!running) void drain();
    });
  return {
    transaction: <T>(fn: TransactionFn<T>) => enqueue({ fn: fn as TransactionFn<unknown> }) as Promise<T>,
    writeAll: async (statements) => {
      await enqueue({ statements });
    },
  };
}
