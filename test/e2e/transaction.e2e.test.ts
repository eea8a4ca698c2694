import test from 'ava';
import { newId, nowIso } from '../../src/db/dialect.js';
import { withTransaction } from '../../src/db/transaction.js';
import { EventService } from '../../src/features/events/event-service.js';
import { EventStore } from '../../src/features/events/event-store.js';
import { createLogger } from '../../src/logger.js';
import { dialects, migratedDb } from '../helpers/db.js';
import { knexOf, type Tx } from '../../src/db/unit-of-work.js';

function insertTenant(tx: Tx, slug: string) {
  const now = nowIso();
  return knexOf(tx)('tenants').insert({ id: newId(), slug, name: slug, settings: '{}', created_at: now, updated_at: now });
}

for (const dialect of dialects()) {
  test(`${dialect}: concurrent transactions commit or fail each on its own`, async (t) => {
    const { db, cleanup } = await migratedDb(dialect);
    try {
      await withTransaction(db, (trx) => insertTenant(trx, 'first'));
      // Started together: on SQLite they share one commit, each in its own savepoint.
      const outcomes = await Promise.allSettled([
        withTransaction(db, async (trx) => {
          await insertTenant(trx, 'a');
          return 'a done';
        }),
        withTransaction(db, async (trx) => {
          await insertTenant(trx, 'b');
          throw new Error('b changed its mind');
        }),
        withTransaction(db, async (trx) => {
          await insertTenant(trx, 'c');
          await insertTenant(trx, 'first'); // a unique violation, after a write of its own
        }),
        withTransaction(db, async (trx) => {
          await insertTenant(trx, 'd');
          return 'd done';
        }),
      ]);
      t.deepEqual(outcomes[0], { status: 'fulfilled', value: 'a done' });
      t.is(outcomes[1].status, 'rejected');
      t.is(((outcomes[1] as PromiseRejectedResult).reason as Error).message, 'b changed its mind');
      t.is(outcomes[2].status, 'rejected');
      t.deepEqual(outcomes[3], { status: 'fulfilled', value: 'd done' });
      const slugs = (await db.knex('tenants').select('slug').orderBy('slug')).map((r) => r.slug);
      t.deepEqual(slugs, ['a', 'd', 'first'], 'nothing of the failed transactions remains, all of the others does');
    } finally {
      await cleanup();
    }
  });

  test(`${dialect}: events recorded in a transaction are announced only once it commits`, async (t) => {
    const { db, cleanup } = await migratedDb(dialect);
    try {
      const events = new EventService(new EventStore(db), createLogger('silent'));
      const heard: string[] = [];
      events.onEvent((e) => heard.push(e.type));
      const tenantId = await withTransaction(db, async (trx) => {
        const id = newId();
        const now = nowIso();
        await knexOf(trx)('tenants').insert({ id, slug: 'ev', name: 'ev', settings: '{}', created_at: now, updated_at: now });
        return id;
      });
      await t.throwsAsync(
        withTransaction(db, async (trx) => {
          await events.recordAll(tenantId, [{ type: 'message_received' }, { type: 'reply_sent' }], { trx });
          throw new Error('rolled back');
        }),
        { message: 'rolled back' },
      );
      t.deepEqual(heard, []);
      t.is((await events.list(tenantId, { limit: 10 })).length, 0);
      const recorded = await withTransaction(db, async (trx) => {
        const r = await events.recordAll(tenantId, [{ type: 'conversation_started' }, { type: 'message_received' }], { trx });
        t.deepEqual(heard, [], 'not before the commit');
        return r;
      });
      t.deepEqual(heard, ['conversation_started', 'message_received']);
      t.deepEqual((await events.list(tenantId, { limit: 10 })).map((e) => e.id).sort(), recorded.map((e) => e.id).sort());
    } finally {
      await cleanup();
    }
  });
}
