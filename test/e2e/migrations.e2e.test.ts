import test from 'ava';
import { migrateLatest, migrateRollback, migrationStatus } from '../../src/db/migrate.js';
import { dialects, migratedDb } from '../helpers/db.js';

const TABLES = ['tenants', 'conversations', 'messages', 'leads', 'events', 'orders', 'webhook_deliveries', 'jobs', 'outbound_sends', 'api_keys', 'ai_usage', 'catalog_snapshots'];

for (const dialect of dialects()) {
  test(`${dialect}: migrations go up, down and up again`, async (t) => {
    const { db, cleanup } = await migratedDb(dialect);
    try {
      for (const table of TABLES) t.true(await db.knex.schema.hasTable(table), `${table} exists`);
      const status = await migrationStatus(db);
      t.deepEqual(status.pending, []);
      t.true(status.applied.length >= 1);
      await migrateRollback(db, true);
      for (const table of TABLES) t.false(await db.knex.schema.hasTable(table), `${table} dropped`);
      t.deepEqual((await migrationStatus(db)).applied, []);
      await migrateLatest(db);
      for (const table of TABLES) t.true(await db.knex.schema.hasTable(table), `${table} recreated`);
    } finally {
      await cleanup();
    }
  });
}
