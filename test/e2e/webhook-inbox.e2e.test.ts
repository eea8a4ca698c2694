import test from 'ava';
import type { InboxItem } from '../../src/features/webhooks/webhook-service.js';
import { startApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';

for (const dialect of dialects()) {
  test(`${dialect}: webhooks accepted at once: every new item one row and one job, repeats counted, nothing else`, async (t) => {
    const app = await startApp(dialect);
    try {
      const s = app.services;
      const tenant = (await s.db.knex('tenants').insert({ id: 't1', slug: 'acme', name: 'Acme', settings: '{}', created_at: new Date().toISOString(), updated_at: new Date().toISOString() }), 't1');
      const item = (n: number): InboxItem => ({ externalId: `mid.${n}`, tenantId: tenant, kind: 'meta.message', payload: { n } });
      // 30 webhooks at once: 20 distinct messages, each of the first 10 sent twice, and one with a
      // second item that is ignored (no tenant).
      const calls = [
        ...Array.from({ length: 20 }, (_, n) => s.webhooks.accept('meta', [item(n)])),
        ...Array.from({ length: 10 }, (_, n) => s.webhooks.accept('meta', [item(n)])),
        s.webhooks.accept('meta', [item(100), { externalId: 'mid.unknown-page', tenantId: null, kind: 'meta.message', payload: {} }]),
      ];
      const statements: string[] = [];
      const onQuery = (q: { sql: string }) => statements.push(q.sql);
      s.db.knex.on('query', onQuery);
      const summaries = await Promise.all(calls);
      s.db.knex.off('query', onQuery);

      const total = summaries.reduce((a, b) => ({ accepted: a.accepted + b.accepted, duplicates: a.duplicates + b.duplicates, ignored: a.ignored + b.ignored }));
      t.deepEqual(total, { accepted: 21, duplicates: 10, ignored: 1 });
      const rows = await s.db.knex('webhook_deliveries').orderBy('external_id');
      t.is(rows.length, 22);
      t.is(rows.filter((r) => r.status === 'received').length, 21);
      t.is(rows.filter((r) => Number(r.duplicates) === 1).length, 10, 'each repeat counted on its first delivery');

      const jobs: Array<{ kind: string; deliveryId: string }> =
        dialect === 'pg'
          ? (await s.db.knex.raw(`select t.identifier as kind, j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id`)).rows.map((r: any) => ({ kind: r.kind, deliveryId: r.payload.p.deliveryId }))
          : (await s.db.knex('jobs')).map((r) => ({ kind: r.kind, deliveryId: JSON.parse(r.payload).deliveryId }));
      t.is(jobs.length, 21, 'one job per new delivery, none for a repeat or an ignored item');
      t.deepEqual(
        jobs.map((j) => j.deliveryId).sort(),
        rows.filter((r) => r.status === 'received').map((r) => r.id).sort(),
      );
      t.true(jobs.every((j) => j.kind === 'meta.message'));
      if (dialect === 'pg') {
        const inserts = statements.filter((q) => q.includes('insert into "webhook_deliveries"')).length;
        t.true(inserts < 31, `webhooks that waited went out together (${inserts} statements for 31 webhooks)`);
      }
    } finally {
      await app.close();
    }
  });
}

if (dialects().includes('pg')) {
  test('pg: a webhook whose row cannot be written fails alone, not the others that went in its statement', async (t) => {
    const app = await startApp('pg');
    try {
      const s = app.services;
      await s.db.knex('tenants').insert({ id: 't1', slug: 'acme', name: 'Acme', settings: '{}', created_at: new Date().toISOString(), updated_at: new Date().toISOString() });
      // 12 at once: the first goes alone, the other eleven wait and go together; the tenth names a
      // tenant that does not exist (one deleted meanwhile), which fails the statement it is in.
      const ids = Array.from({ length: 12 }, (_, n) => `mid.${n}`);
      const item = (id: string): InboxItem => ({ externalId: id, tenantId: id === 'mid.9' ? 'gone' : 't1', kind: 'meta.message', payload: {} });
      const outcomes = await Promise.allSettled(ids.map((id) => s.webhooks.accept('meta', [item(id)])));
      t.deepEqual(
        outcomes.map((o) => o.status),
        ids.map((_, n) => (n === 9 ? 'rejected' : 'fulfilled')),
      );
      t.deepEqual((await s.db.knex('webhook_deliveries').orderBy('external_id')).map((r) => r.external_id), ids.filter((_, n) => n !== 9).sort());
      const jobs = (await s.db.knex.raw('select count(*)::int as n from graphile_worker._private_jobs')).rows[0].n;
      t.is(jobs, 11);
    } finally {
      await app.close();
    }
  });
}
