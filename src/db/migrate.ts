import type { Knex } from 'knex';
import { migrations } from '../../migrations/index.js';
import type { Db } from './create-db.js';

const source: Knex.MigrationSource<[string, Knex.Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};

const migratorConfig: Knex.MigratorConfig = { migrationSource: source, tableName: 'zia_migrations' };

export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.knex.migrate.latest(migratorConfig)) as [number, string[]];
  return applied;
}

export async function migrateRollback(db: Db, all = false): Promise<string[]> {
  const [, rolledBack] = (await db.knex.migrate.rollback(migratorConfig, all)) as [number, string[]];
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
