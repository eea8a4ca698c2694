import type { Knex } from 'knex';
import { migrations } from '../../migrations/index.js';
import type { Db } from './create-db.js';

const source: Knex.MigrationSource<[string, Knex.Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};

const migratorConfig: Knex.MigratorConfig = { migrationSource: source, tableName: 'zia_migrations' };

/** Any constant: the key of the PostgreSQL advisory lock that serialises migrations across processes. */
const MIGRATION_LOCK = 72_617_001;

/**
 * Several `zia serve` processes starting at once on one fresh PostgreSQL database would race to create
 * knex's own migration bookkeeping tables (42P07) before knex's lock exists; a session advisory lock
 * held on a separate connection makes them take turns. SQLite is owned by one process.
 */
async function withMigrationLock<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  if (db.dialect !== 'pg') return fn();
  const client = db.knex.client as { acquireConnection(): Promise<any>; releaseConnection(c: unknown): Promise<void> };
  const conn = await client.acquireConnection();
  try {
    await conn.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    return await fn();
  } finally {
    await conn.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await client.releaseConnection(conn);
  }
}

export async function migrateLatest(db: Db): Promise<string[]> {
  return withMigrationLock(db, async () => {
    const [, applied] = (await db.knex.migrate.latest(migratorConfig)) as [number, string[]];
    return applied;
  });
}

/** How much a rollback undoes: the last batch (knex's default), the last migration, or all of them. */
export type RollbackScope = 'batch' | 'step' | 'all';

export interface RollbackPlan {
  scope: RollbackScope;
  /** Newest first, the order they are undone in. */
  migrations: string[];
  /** Every table their down() drops or changes, as each migration declares it. */
  tables: string[];
}

/**
 * What a rollback would undo, read from knex's own bookkeeping table with knex's rules: the migrations
 * of the highest batch (a normal install applies every migration in one batch, so that is all of them),
 * the newest one alone, or every applied one.
 */
export async function rollbackPlan(db: Db, scope: RollbackScope): Promise<RollbackPlan> {
  const applied = (await migrationStatus(db)).applied;
  let names: string[] = [];
  if (applied.length > 0) {
    const rows = (await db.knex(migratorConfig.tableName!).select('name', 'batch').orderBy('id', 'desc')) as Array<{ name: string; batch: number | string }>;
    const top = Math.max(...rows.map((r) => Number(r.batch)));
    if (scope === 'all') names = rows.map((r) => r.name);
    else if (scope === 'step') names = rows.slice(0, 1).map((r) => r.name);
    else names = rows.filter((r) => Number(r.batch) === top).map((r) => r.name);
  }
  const byName = new Map(migrations);
  const tables = [...new Set(names.flatMap((n) => byName.get(n)?.tables ?? []))];
  return { scope, migrations: names, tables };
}

export async function migrateRollback(db: Db, scope: RollbackScope = 'batch'): Promise<string[]> {
  if (scope === 'step') {
    const [, undone] = (await db.knex.migrate.down(migratorConfig)) as [number, string[]];
    return undone;
  }
  const [, rolledBack] = (await db.knex.migrate.rollback(migratorConfig, scope === 'all')) as [number, string[]];
  return rolledBack;
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
}

export async function migrationStatus(db: Db): Promise<MigrationStatus> {
  const [done, pending] = (await db.knex.migrate.list(migratorConfig)) as [
    Array<{ name: string } | string>,
    Array<{ file: string } | [string, Knex.Migration]>,
  ];
  return {
    applied: done.map((m) => (typeof m === 'string' ? m : m.name)),
    pending: pending.map((m) => (Array.isArray(m) ? m[0] : (m as { file: string }).file)),
  };
}
