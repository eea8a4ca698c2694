import test from 'ava';
import { dialects, migratedDb } from '../helpers/db.js';

const ROWS = 1_234;

for (const dialect of dialects()) {
  test(`${dialect}: iterate hands over every row in batches, and gives its connection back when left early or failing`, async (t) => {
    const { db, cleanup } = await migratedDb(dialect);
    try {
      const k = db.knex;
      // A cursor that kept its pooled connection would leave it in use (and the pool one short).
      const inUse = () => (k.client as { pool: { numUsed(): number } }).pool.numUsed();
      const now = new Date().toISOString();
      await k('tenants').insert({ id: 't1', slug: 'acme', name: 'Acme', settings: '{}', created_at: now, updated_at: now });
      const leads = Array.from({ length: ROWS }, (_, i) => ({
        id: `L${String(i).padStart(6, '0')}`,
        tenant_id: 't1',
        email: `lead${i}@example.com`,
        source_channel: i === 1_100 ? 'bogus channel' : 'web',
        created_at: now,
        updated_at: now,
      }));
      for (let i = 0; i < ROWS; i += 200) await k('leads').insert(leads.slice(i, i + 200));

      const query = () => k('leads').select('id', 'email').orderBy('id');
      const sizes: number[] = [];
      const ids: string[] = [];
      for await (const batch of db.iterate(query())) {
        sizes.push(batch.length);
        for (const r of batch) ids.push(r.id as string);
      }
      t.deepEqual(ids, leads.map((l) => l.id), 'every row once, in order');
      t.true(sizes.length > 1, `in several batches (${sizes.join(', ')})`);
      t.is(inUse(), 0);

      // The reader goes away after one batch: the cursor closes and the connection is free again.
      for await (const batch of db.iterate(query())) {
        t.true(batch.length > 0);
        break;
      }
      t.is(inUse(), 0);
      t.is(Number((await k('leads').count({ n: '*' }).first())!.n), ROWS);

      // A statement that fails part-way: the error reaches the reader, the connection is free again.
      // The cast fails on the row whose channel is not a number; without ORDER BY the rows come in the
      // order they were written, so the first batches have gone out by then.
      const failing = k('leads').select('id', k.raw(dialect === 'pg' ? `case when source_channel = 'web' then 1 else source_channel::int end as n` : `case when source_channel = 'web' then 1 else json_extract(source_channel, '$') end as n`));
      const seen: string[] = [];
      const consume = async () => {
        for await (const batch of db.iterate(failing)) for (const r of batch) seen.push(r.id as string);
      };
      if (dialect === 'pg') {
        await t.throwsAsync(consume(), { message: /invalid input syntax/ });
      } else {
        // SQLite has no failing cast; a malformed JSON argument is its mid-statement error.
        await t.throwsAsync(consume(), { any: true, message: /malformed JSON/ });
      }
      t.true(seen.length >= 1_000, `the first batches arrived before the failure (${seen.length} rows)`);
      t.is(inUse(), 0);
      t.is(Number((await k('leads').count({ n: '*' }).first())!.n), ROWS);
    } finally {
      await cleanup();
    }
  });
}
