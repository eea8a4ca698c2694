import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import Database from 'better-sqlite3';
import knexFactory, { type Knex } from 'knex';
import Cursor from 'pg-cursor';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { BACKSTOP_WAL_PAGES, startCheckpointer, type Checkpointer } from './checkpointer.js';
import { StatementBatcher } from './statement-batcher.js';
import { sqliteGroupCommit } from './transaction.js';
import { inTransaction, type Tx } from './unit-of-work.js';

export type Dialect = 'sqlite' | 'pg';

export interface Db {
  knex: Knex;
  dialect: Dialect;
  /**
   * Rows of a (large) query in batches, in constant memory: a server-side cursor on PostgreSQL, a
   * statement iterator over a separate read-only connection on SQLite (WAL lets it read while the
   * main connection keeps writing). knex's own .stream() buffers every row on SQLite. Batches, not
   * rows: an await per row was a fifth of an export's time.
   */
  iterate(query: Knex.QueryBuilder): AsyncIterable<Array<Record<string, unknown>>>;
  /** One transaction (on SQLite possibly committed together with others); see withTransaction. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Writes that need nothing from one another, committed together: on PostgreSQL one statement (each
   * write a data-modifying CTE: one round trip, no BEGIN/COMMIT), on SQLite one transaction.
   * The writes must not touch the same row twice (PostgreSQL applies only one of two such changes).
   * On PostgreSQL, callers whose writes only insert share a statement under load (StatementBatcher).
   */
  writeAll(writes: Write[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Rows per batch of Db.iterate (the PostgreSQL cursor fetches as many per round trip). Small, because
 * larger batches grew an export's heap several times over without making it faster.
 */
const ITERATE_BATCH = 200;

/**
 * A write not yet run: it builds its statement on the knex it is given (the root one, or the
 * transaction it belongs to). Building on the transaction avoids knex's `transacting()`, whose check of
 * the transaction object walked its properties on every statement.
 */
export type Write = (k: Knex) => Knex.QueryBuilder;

/**
 * An insert that adds rows and changes none (`on conflict do nothing` included): such writes of
 * different callers can share a statement.
 */
function isPlainInsert(sql: Knex.Sql): boolean {
  return sql.method === 'insert' && !/\bdo update\b/i.test(sql.sql);
}

/** What Db.iterate needs of a pooled node-postgres client. */
interface PgConnection {
  query<T extends Cursor<Record<string, unknown>>>(cursor: T): T;
}

export interface DbOptions {
  /** Connection pool size on PostgreSQL. */
  poolMax?: number;
  /** PostgreSQL search_path (tests isolate each file in its own schema). */
  schema?: string;
  /** Where knex's own warnings go (by default knex prints them, with stacks, to stdout). */
  logger?: Pick<Logger, 'warn' | 'debug'>;
}

/**
 * knex's warnings into zia's log, never onto stdout. A failed connection is reported to whoever asked
 * for it, so knex's own stack trace of it is debug detail.
 */
function knexLog(logger: DbOptions['logger']): Knex.Config['log'] {
  const warn = (message: unknown) => {
    const text = String(message);
    if (text.startsWith('Acquire connection error')) logger?.debug({ knex: text }, 'knex: acquire connection error');
    else logger?.warn({ knex: text }, 'knex warning');
  };
  return { warn, error: warn, deprecate: (method: string, alternative: string) => logger?.warn(`knex: ${method} is deprecated, use ${alternative}`), debug: () => undefined };
}

/** The SQLite path of a database held in memory by its one connection. */
export const MEMORY = ':memory:';

export function createDb(
  config: Pick<Config, 'dbClient' | 'DATABASE_URL' | 'sqlitePath'>,
  options: DbOptions = {},
): Db {
  if (config.dbClient === 'pg') {
    const knex = knexFactory({
      client: 'pg',
      connection: { connectionString: config.DATABASE_URL! },
      searchPath: options.schema ? [options.schema] : undefined,
      pool: { min: 0, max: options.poolMax ?? 10 },
      acquireConnectionTimeout: 10_000,
      log: knexLog(options.logger),
    });
    const runTogether = async (parts: Knex.Sql[]): Promise<void> => {
      if (parts.length === 1) await knex.raw(parts[0]!.sql, parts[0]!.bindings);
      else await knex.raw(`with ${parts.map((p, i) => `w${i} as (${p.sql})`).join(', ')} select 1`, parts.flatMap((p) => p.bindings));
    };
    // Callers whose writes only add rows are combined under load (see StatementBatcher). Two callers'
    // updates could meet on one row, and of two changes to a row in one statement only one is applied;
    // so writes that change rows go alone.
    const inserts = new StatementBatcher<Knex.Sql[], void>(async (callers) => {
      await runTogether(callers.flat());
      return callers.map(() => undefined);
    });
    return {
      knex,
      dialect: 'pg',
      async *iterate(query) {
        // A cursor read straight through pg-cursor: a batch per round trip, and the next batch already on
        // its way while the caller works on this one. (knex's .stream() hands rows over one at a time
        // through a Readable, an await per row.)
        const { sql, bindings } = query.toSQL().toNative();
        const pool = knex.client as { acquireConnection(): Promise<PgConnection>; releaseConnection(c: PgConnection): Promise<void> };
        const conn = await pool.acquireConnection();
        const cursor = conn.query(new Cursor<Record<string, unknown>>(sql, bindings as unknown[]));
        let next: Promise<Array<Record<string, unknown>>> | undefined;
        try {
          next = cursor.read(ITERATE_BATCH);
          for (;;) {
            const rows = await next;
            next = undefined;
            if (rows.length < ITERATE_BATCH) {
              if (rows.length > 0) yield rows;
              return;
            }
            next = cursor.read(ITERATE_BATCH);
            yield rows;
          }
        } finally {
          // Left early (the reader went away): the read in flight settles when the portal closes.
          next?.catch(() => {});
          await cursor.close().catch(() => {});
          await pool.releaseConnection(conn);
        }
      },
      transaction: (fn) => inTransaction((f) => knex.transaction(f), fn),
      async writeAll(writes) {
        if (writes.length === 0) return;
        const parts = writes.map((w) => w(knex).toSQL());
        if (parts.every(isPlainInsert)) {
          await inserts.submit(parts, parts.reduce((n, p) => n + p.bindings.length, 0));
          return;
        }
        await runTogether(parts);
      },
      close: () => knex.destroy(),
    };
  }
  // ':memory:' is a private database of this connection (`zia eval` plays a tenant's bot in one).
  const inMemory = config.sqlitePath === MEMORY;
  if (!inMemory) mkdirSync(path.dirname(config.sqlitePath), { recursive: true });
  let checkpointer: Checkpointer | undefined;
  const knex = knexFactory({
    client: 'better-sqlite3',
    connection: { filename: config.sqlitePath },
    useNullAsDefault: true,
    log: knexLog(options.logger),
    // One connection: better-sqlite3 is synchronous, and a single writer avoids SQLITE_BUSY between
    // pooled connections of the same process.
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: any, done: (err: Error | null, conn: unknown) => void) {
        try {
          conn.pragma('journal_mode = WAL');
          conn.pragma('foreign_keys = ON');
          conn.pragma('busy_timeout = 5000');
          conn.pragma('synchronous = NORMAL');
          // Checkpoints run in a thread of their own (see startCheckpointer); this one is the backstop.
          conn.pragma(`wal_autocheckpoint = ${BACKSTOP_WAL_PAGES}`);
          if (!inMemory) checkpointer ??= startCheckpointer(config.sqlitePath, (message) => process.emitWarning(`SQLite checkpoint: ${message}`));
          cacheStatements(conn);
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  });
  const groupCommit = sqliteGroupCommit(knex);
  return {
    knex,
    dialect: 'sqlite',
    async *iterate(query) {
      if (inMemory) {
        // No second connection can see it: the rows are read in one go.
        const rows = (await query) as Array<Record<string, unknown>>;
        if (rows.length > 0) yield rows;
        return;
      }
      const { sql, bindings } = query.toSQL().toNative();
      const reader = new Database(config.sqlitePath, { readonly: true, fileMustExist: true });
      try {
        let batch: Array<Record<string, unknown>> = [];
        for (const row of reader.prepare(sql).iterate(...(bindings as unknown[]))) {
          batch.push(row as Record<string, unknown>);
          if (batch.length === ITERATE_BATCH) {
            yield batch;
            batch = [];
            // Synchronous reads would otherwise starve the event loop for the whole export.
            await yieldToLoop();
          }
        }
        if (batch.length > 0) yield batch;
      } finally {
        reader.close();
      }
    },
    transaction: (fn) => inTransaction(groupCommit.transaction, fn),
    writeAll: (writes) => groupCommit.writeAll(writes.map((w) => w(knex).toSQL())),
    async close() {
      await checkpointer?.stop();
      await knex.destroy();
    },
  };
}

/** Distinct SQL texts kept prepared; the application issues a few hundred at most. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * knex prepares every SQLite statement anew on each query, a visible share of the chat path's CPU.
 * A prepared better-sqlite3 statement can be run again with new bindings, so the connection keeps the
 * last few hundred by SQL text. knex only calls run()/all() on them (never iterate(), which would
 * hold a statement busy), and the cache is dropped in one go when full rather than tracking recency.
 */
function cacheStatements(conn: { prepare(sql: string): unknown }): void {
  const prepare = conn.prepare.bind(conn);
  const cache = new Map<string, unknown>();
  conn.prepare = (sql: string) => {
    let statement = cache.get(sql);
    if (statement === undefined) {
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
      statement = prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  };
}

/** Is the database reachable? Used by /readyz. */
export async function ping(db: Db): Promise<void> {
  await db.knex.raw('select 1');
}
