import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { createDb, type Db, type DbOptions, type Dialect } from '../../src/db/create-db.js';
import { migrateLatest } from '../../src/db/migrate.js';

/** SQLite always; PostgreSQL too when ZIA_TEST_PG_URL is set (CI sets it). */
export function dialects(): Dialect[] {
  return process.env.ZIA_TEST_PG_URL ? ['sqlite', 'pg'] : ['sqlite'];
}

export interface TestDatabase {
  dialect: Dialect;
  /** The environment that points zia (in-process or the binary) at this database. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/**
 * A fresh, empty database: a new SQLite file in a temp dir, or a new PostgreSQL database created for
 * this test (dropped afterwards), so test files never see each other's rows.
 */
export async function freshDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(path.join(tmpdir(), 'zia-test-'));
    return { dialect, env: { ZIA_DATA_DIR: dir }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const admin = process.env.ZIA_TEST_PG_URL!;
  const name = `zia_t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const k = knexFactory({ client: 'pg', connection: admin, pool: { min: 0, max: 1 } });
  await k.raw(`create database ${name}`);
  await k.destroy();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    dialect,
    env: { DATABASE_URL: url.toString() },
    cleanup: async () => {
      const k2 = knexFactory({ client: 'pg', connection: admin, pool: { min: 0, max: 1 } });
      try {
        await k2.raw(`drop database if exists ${name} with (force)`);
      } finally {
        await k2.destroy();
      }
    },
  };
}

/** A migrated Db on a fresh database, for store and service tests. */
export async function migratedDb(dialect: Dialect, options: DbOptions = {}): Promise<{ db: Db; env: Record<string, string>; cleanup(): Promise<void> }> {
  const fresh = await freshDatabase(dialect);
  const db = createDb({
    dbClient: dialect,
    DATABASE_URL: fresh.env.DATABASE_URL,
    sqlitePath: path.join(fresh.env.ZIA_DATA_DIR ?? '', 'zia.sqlite'),
  }, options);
  await migrateLatest(db);
  return {
    db,
    env: fresh.env,
    cleanup: async () => {
      await db.close();
      await fresh.cleanup();
    },
  };
}
