import { mkdirSync } from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { Config } from '../config.js';

export type Dialect = 'sqlite' | 'pg';

export interface Db {
  knex: Knex;
  dialect: Dialect;
  close(): Promise<void>;
}

export interface DbOptions {
  /** Connection pool size on PostgreSQL. */
  poolMax?: number;
  /** PostgreSQL search_path (tests isolate each file in its own schema). */
  schema?: string;
}

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
    });
    return { knex, dialect: 'pg', close: () => knex.destroy() };
  }
  mkdirSync(path.dirname(config.sqlitePath), { recursive: true });
  const knex = knexFactory({
    client: 'better-sqlite3',
    connection: { filename: config.sqlitePath },
    useNullAsDefault: true,
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
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  });
  return { knex, dialect: 'sqlite', close: () => knex.destroy() };
}

/** Is the database reachable? Used by /readyz. */
export async function ping(db: Db): Promise<void> {
  await db.knex.raw('select 1');
}
