import test from 'ava';
import { dialects, migratedDb } from '../helpers/db.js';

for (const dialect of dialects()) {
  test(`${dialect}: writeAll commits independent writes together, or none of them`, async (t) => {
    const { db, cleanup } = await migratedDb(dialect);
    try {
      const k = db.knex;
      const now = new Date().toISOString();
      await k('tenants').insert({ id: 't1', slug: 'acme', name: 'Acme', settings: '{}', created_at: now, updated_at: now });
      const conversation = (id: string) => ({ id, tenant_id: 't1', channel: 'web', external_user_id: `u-${id}`, bot_paused: false, created_at: now, updated_at: now });
      const message = (id: string, conversationId: string) => ({ id, tenant_id: 't1', conversation_id: conversationId, channel: 'web', role: 'user', text: 'hi', created_at: now, updated_at: now });

      const statements: string[] = [];
      const onQuery = (q: { sql: string }) => statements.push(q.sql);
      k.on('query', onQuery);
      // A row and a row that refers to it: the foreign key holds within the one write.
      await db.writeAll([(q) => q('conversations').insert(conversation('c1')), (q) => q('messages').insert(message('m1', 'c1')), (q) => q('tenants').where({ id: 't1' }).update({ name: 'Acme Ltd' })]);
      k.off('query', onQuery);
      if (dialect === 'pg') t.deepEqual(statements.length, 1, 'one statement on PostgreSQL, no BEGIN/COMMIT');
      t.is((await k('messages').where({ id: 'm1' })).length, 1);
      t.is((await k('tenants').where({ id: 't1' }).first()).name, 'Acme Ltd');

      // A write that fails takes the others with it.
      await t.throwsAsync(db.writeAll([(q) => q('conversations').insert(conversation('c2')), (q) => q('messages').insert(message('m2', 'no-such-conversation'))]), { any: true });
      t.is((await k('conversations').where({ id: 'c2' })).length, 0, 'the conversation of a failed write is not kept');

      // A skipped insert (ON CONFLICT DO NOTHING) leaves the message that refers to it without its row: all fail.
      await t.throwsAsync(db.writeAll([(q) => q('conversations').insert({ ...conversation('c3'), external_user_id: 'u-c1' }).onConflict().ignore(), (q) => q('messages').insert(message('m3', 'c3'))]), { any: true });
      t.is((await k('messages').where({ id: 'm3' })).length, 0);
      t.deepEqual((await k('conversations').orderBy('id')).map((c) => c.id), ['c1']);
    } finally {
      await cleanup();
    }
  });
}

for (const dialect of dialects()) {
  test(`${dialect}: concurrent writeAll callers: inserts share a statement, a failing caller fails alone, updates are never merged`, async (t) => {
    const { db, cleanup } = await migratedDb(dialect);
    try {
      const k = db.knex;
      const now = new Date().toISOString();
      await k('tenants').insert({ id: 't1', slug: 'acme', name: 'Acme', settings: '{}', created_at: now, updated_at: now });
      await k('conversations').insert({ id: 'c0', tenant_id: 't1', channel: 'web', external_user_id: 'u-0', bot_paused: false, created_at: now, updated_at: now });
      const turn = (i: number, conversationId = `c${i}`) => [
        (q: typeof k) => q('conversations').insert({ id: `c${i}`, tenant_id: 't1', channel: 'web', external_user_id: `u-${i}`, bot_paused: false, created_at: now, updated_at: now }).onConflict().ignore(),
        (q: typeof k) => q('messages').insert({ id: `m${i}`, tenant_id: 't1', conversation_id: conversationId, channel: 'web', role: 'user', text: `hi ${i}`, created_at: now, updated_at: now }),
      ];

      const statements: string[] = [];
      const onQuery = (q: { sql: string }) => statements.push(q.sql);
      k.on('query', onQuery);
      // The first goes at once; the 20 that arrive while it is out go in one statement on PostgreSQL.
      await Promise.all(Array.from({ length: 21 }, (_, i) => db.writeAll(turn(i + 1))));
      if (dialect === 'pg') t.is(statements.length, 2, '21 callers, 2 statements');
      t.is((await k('messages').count({ n: '*' }))[0]!.n as number | string, dialect === 'pg' ? '21' : 21);

      // One of them refers to a conversation that does not exist: it fails, and only it.
      statements.length = 0;
      const outcomes = await Promise.allSettled(Array.from({ length: 11 }, (_, i) => db.writeAll(turn(100 + i, i === 6 ? 'no-such-conversation' : `c${100 + i}`))));
      t.deepEqual(outcomes.map((o) => o.status), outcomes.map((_, i) => (i === 6 ? 'rejected' : 'fulfilled')));
      k.off('query', onQuery);
      if (dialect === 'pg') t.is(statements.length, 1 + 1 + 10, 'alone, combined (failed), then each of the ten again');
      t.deepEqual((await k('messages').where('id', 'like', 'm1__').orderBy('id')).map((m) => m.id), ['m100', 'm101', 'm102', 'm103', 'm104', 'm105', 'm107', 'm108', 'm109', 'm110']);
      t.is((await k('conversations').where({ id: 'c106' })).length, 0, 'the failed caller wrote nothing');

      // Two callers change different columns of one row: both changes land (in one statement, PostgreSQL
      // would apply only one of them).
      const busy = db.writeAll(turn(200));
      await Promise.all([
        busy,
        db.writeAll([(q) => q('conversations').where({ id: 'c0' }).update({ user_name: 'Ada' }), (q) => q('messages').insert({ id: 'm-a', tenant_id: 't1', conversation_id: 'c0', channel: 'web', role: 'user', text: 'a', created_at: now, updated_at: now })]),
        db.writeAll([(q) => q('conversations').where({ id: 'c0' }).update({ bot_paused: true }), (q) => q('messages').insert({ id: 'm-b', tenant_id: 't1', conversation_id: 'c0', channel: 'web', role: 'user', text: 'b', created_at: now, updated_at: now })]),
      ]);
      const c0 = await k('conversations').where({ id: 'c0' }).first();
      t.is(c0.user_name, 'Ada');
      t.truthy(c0.bot_paused);
    } finally {
      await cleanup();
    }
  });
}
