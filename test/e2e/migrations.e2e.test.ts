import test from 'ava';
import { migrateLatest, migrateRollback, migrationStatus } from '../../src/db/migrate.js';
import { createDb } from '../../src/db/create-db.js';
import { dialects, freshDatabase, migratedDb } from '../helpers/db.js';

const TABLES = ['tenants', 'conversations', 'messages', 'leads', 'events', 'orders', 'webhook_deliveries', 'jobs', 'outbound_sends', 'api_keys', 'ai_usage', 'catalog_snapshots', 'audit_log', 'contact_erasures', 'retention_runs'];

for (const dialect of dialects()) {
  test(`${dialect}: migrations go up, down and up again`, async (t) => {
    const { db, cleanup } = await migratedDb(dialect);
    try {
      for (const table of TABLES) t.true(await db.knex.schema.hasTable(table), `${table} exists`);
      const status = await migrationStatus(db);
      t.deepEqual(status.pending, []);
      t.true(status.applied.length >= 1);
      await migrateRollback(db, 'all');
      for (const table of TABLES) t.false(await db.knex.schema.hasTable(table), `${table} dropped`);
      t.deepEqual((await migrationStatus(db)).applied, []);
      await migrateLatest(db);
      for (const table of TABLES) t.true(await db.knex.schema.hasTable(table), `${table} recreated`);
    } finally {
      await cleanup();
    }
  });
}

if (dialects().includes('pg')) {
  test('pg: several processes migrating one fresh database at once take turns', async (t) => {
    const fresh = await freshDatabase('pg');
    const dbs = [1, 2, 3].map(() => createDb({ dbClient: 'pg', DATABASE_URL: fresh.env.DATABASE_URL, sqlitePath: '' }));
    try {
      const results = await Promise.all(dbs.map((db) => migrateLatest(db)));
      t.is(results.filter((applied) => applied.length > 0).length, 1, 'one of them applied the migrations');
      t.deepEqual((await migrationStatus(dbs[0]!)).pending, []);
    } finally {
      for (const db of dbs) await db.close();
      await fresh.cleanup();
    }
  });
}
