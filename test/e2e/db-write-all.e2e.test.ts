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
