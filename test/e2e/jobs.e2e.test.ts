import ava from 'ava';

const concurrent = ava;
const serial = ava.serial;
import { loadConfig } from '../../src/config.js';
import { createJobQueue } from '../../src/features/jobs/create-job-queue.js';
import { JobStore } from '../../src/features/jobs/job-store.js';
import { PgJobQueue } from '../../src/features/jobs/pg-job-queue.js';
import { PermanentJobError, serialQueue, type JobContext } from '../../src/features/jobs/jobs.types.js';
import { createLogger } from '../../src/logger.js';
import { dialects, migratedDb } from '../helpers/db.js';
import { LogCapture } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';
import { ownTransaction } from '../../src/db/unit-of-work.js';

async function setup(dialect: 'sqlite' | 'pg', env: Record<string, string> = {}) {
  const m = await migratedDb(dialect);
  const config = loadConfig({ ZIA_JOB_BACKOFF_MS: '20', ZIA_JOB_MAX_ATTEMPTS: '3', ZIA_WORKER_CONCURRENCY: '3', ...m.env, ...env }, '/nonexistent');
  const logs = new LogCapture();
  const logger = createLogger('info', logs);
  const queue = (tenantShare?: (tenantId: string) => Promise<number>) => createJobQueue(config, m.db, logger, { tenantShare });
  return { ...m, config, logs, queue };
}

for (const dialect of dialects()) {
  // PostgreSQL tests one at a time: each app holds a pool and a queue pool, and the server is shared.
  const test = dialect === 'pg' ? serial : concurrent;
  test(`${dialect}: a job enqueued in a rolled-back transaction never runs; a committed one runs once`, async (t) => {
    const s = await setup(dialect);
    const q = s.queue();
    const seen: string[] = [];
    q.register('note', async (p) => void seen.push(String(p.n)));
    await q.prepare();
    await ownTransaction(s.db, async (trx) => {
      await q.enqueue('note', { n: 'rolled-back' }, { trx });
      throw new Error('abort');
    }).catch(() => undefined);
    await ownTransaction(s.db, async (trx) => q.enqueue('note', { n: 'committed' }, { trx }));
    const w = await q.start();
    await waitFor('the committed job', () => seen.includes('committed'));
    await q.enqueue('note', { n: 'after' });
    await waitFor('a job enqueued while running', () => seen.includes('after'));
    await w.stop();
    t.deepEqual(seen.sort(), ['after', 'committed']);
    await s.cleanup();
  });

  test(`${dialect}: failures retry with backoff, then park as dead; PermanentJobError parks at once; dead jobs replay`, async (t) => {
    const s = await setup(dialect);
    const q = s.queue();
    const attempts: Record<string, JobContext[]> = {};
    let healed = false;
    q.register('flaky', async (p, ctx) => {
      (attempts[String(p.id)] ??= []).push(ctx);
      if (p.id === 'transient' && ctx.attempt < 3) throw new Error('temporary');
      if (p.id === 'always' && !healed) throw new Error('still broken');
      if (p.id === 'permanent' && !healed) throw new PermanentJobError('no such recipient');
    });
    const w = await q.start();
    for (const id of ['transient', 'always', 'permanent']) await q.enqueue('flaky', { id });
    await waitFor('two dead jobs', async () => (await q.listDead()).length === 2);
    await waitFor('the transient job to succeed', () => attempts.transient?.length === 3);
    t.deepEqual(attempts.transient!.map((c) => c.attempt), [1, 2, 3]);
    t.true(attempts.transient![2]!.lastAttempt);
    t.is(attempts.always!.length, 3, 'parked after max attempts');
    t.is(attempts.permanent!.length, 1, 'permanent failure is not retried');
    const dead = await q.listDead();
    t.deepEqual(dead.map((d) => d.payload.id).sort(), ['always', 'permanent']);
    t.regex(dead.find((d) => d.payload.id === 'permanent')!.lastError!, /no such recipient/);
    healed = true;
    for (const d of dead) await q.replayDead(d.id);
    await waitFor('replayed jobs', () => attempts.always!.length === 4 && attempts.permanent!.length === 2);
    await waitFor('dead list empty', async () => (await q.listDead()).length === 0);
    await w.stop();
    t.pass();
    await s.cleanup();
  });

  test(`${dialect}: a job held by a killed process runs again`, async (t) => {
    const s = await setup(dialect);
    const q = s.queue();
    const ran: number[] = [];
    q.register('work', async (p) => void ran.push(Number(p.n)));
    await q.enqueue('work', { n: 1 });
    // Simulate a process that took the job and was killed with kill -9 (its lock is never released).
    if (dialect === 'sqlite') {
      await s.db.knex('jobs').update({ status: 'running', locked_by: 'sqlite-dead', locked_until: new Date(Date.now() + 3_600_000).toISOString(), attempts: 1 });
    } else {
      await s.db.knex.raw(`update graphile_worker._private_jobs set locked_by = 'worker-killed', locked_at = now() - interval '1 minute', attempts = 1`);
    }
    const w = await q.start();
    await waitFor('the orphaned job to run', () => ran.length === 1, 60_000);
    await w.stop();
    t.deepEqual(ran, [1]);
    t.regex(s.logs.text, dialect === 'sqlite' ? /queued again/ : /freed jobs held by workers that stopped/);
    await s.cleanup();
  });

  test(`${dialect}: concurrency is bounded by ZIA_WORKER_CONCURRENCY`, async (t) => {
    const s = await setup(dialect, { ZIA_WORKER_CONCURRENCY: '2' });
    const q = s.queue();
    let active = 0;
    let peak = 0;
    let done = 0;
    q.register('slow', async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 30));
      active--;
      done++;
    });
    for (let i = 0; i < 8; i++) await q.enqueue('slow', { i });
    const w = await q.start();
    await waitFor('all jobs', () => done === 8);
    await w.stop();
    t.true(peak <= 2, `peak ${peak}`);
    t.true(peak >= 1);
    await s.cleanup();
  });

  test(`${dialect}: jobs of one serial queue run one at a time and in order, beside other queues`, async (t) => {
    const s = await setup(dialect, { ZIA_WORKER_CONCURRENCY: '8' });
    const q = s.queue();
    const log: string[] = [];
    let running = 0;
    let overlapInQueue = false;
    const busy = new Set<string>();
    q.register('turn', async (p) => {
      const queue = String(p.queue);
      if (busy.has(queue)) overlapInQueue = true;
      busy.add(queue);
      running++;
      log.push(`${queue}:${String(p.n)}`);
      await new Promise((r) => setTimeout(r, 40));
      running--;
      busy.delete(queue);
    });
    await q.prepare();
    // Enqueued before the worker starts, so every job is due at once and only the queues order them.
    for (let n = 0; n < 5; n++) {
      for (const queue of ['a', 'b', 'c']) await q.enqueue('turn', { queue, n }, { queue: serialQueue(queue) });
    }
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, running)), 5);
    const w = await q.start();
    await waitFor('every job', () => log.length === 15, 15_000);
    clearInterval(watch);
    await w.stop();
    t.false(overlapInQueue, 'two jobs of one queue never run together');
    for (const queue of ['a', 'b', 'c']) t.deepEqual(log.filter((e) => e.startsWith(`${queue}:`)), [0, 1, 2, 3, 4].map((n) => `${queue}:${n}`));
    t.true(most > 1, 'different queues run side by side');
    t.not(serialQueue('tenant:messenger:PSID1'), serialQueue('tenant:messenger:PSID2'));
    t.is(serialQueue('tenant:messenger:PSID1'), serialQueue('tenant:messenger:PSID1'));
    await s.cleanup();
  });

  test(`${dialect}: a tenant's jobs run at most its share at once; another tenant's jobs pass its backlog`, async (t) => {
    const s = await setup(dialect, { ZIA_WORKER_CONCURRENCY: '4', ZIA_TENANT_CONCURRENCY: '4' });
    const q = s.queue(async (tenant) => (tenant === 'flood' ? 2 : 4));
    const running = new Map<string, number>();
    const most = new Map<string, number>();
    const done: string[] = [];
    q.register('turn', async (p) => {
      const tenant = String(p.tenant);
      running.set(tenant, (running.get(tenant) ?? 0) + 1);
      most.set(tenant, Math.max(most.get(tenant) ?? 0, running.get(tenant)!));
      await new Promise((r) => setTimeout(r, 120));
      running.set(tenant, running.get(tenant)! - 1);
      done.push(`${tenant}:${String(p.n)}`);
    });
    const w = await q.start();
    // The flood comes first: without shares the quiet tenant's jobs would wait behind all of it.
    for (let n = 0; n < 12; n++) await q.enqueue('turn', { tenant: 'flood', n }, { tenant: 'flood', queue: serialQueue(`flood-${n}`) });
    for (let n = 0; n < 3; n++) await q.enqueue('turn', { tenant: 'quiet', n }, { tenant: 'quiet' });
    await q.enqueue('turn', { tenant: 'none', n: 0 });
    await waitFor('every job', () => done.length === 16, 20_000);
    await w.stop();
    t.is(most.get('flood'), 2, "the flooding tenant never had more than its share running");
    const quietDone = Math.max(...['quiet:0', 'quiet:1', 'quiet:2'].map((j) => done.indexOf(j)));
    // Without shares all 12 flood jobs come first; with them the quiet tenant's 3 take the 2 free slots
    // and end within two or three rounds of the flood's 2 (PostgreSQL's counts are up to 250 ms old).
    t.true(done.slice(0, quietDone).filter((j) => j.startsWith('flood:')).length <= 6, `the quiet tenant was answered early: ${done.join(' ')}`);
    t.is(done.filter((j) => j.startsWith('flood:')).length, 12, 'the flood is answered too');
    await s.cleanup();
  });
}

if (process.env.ZIA_TEST_PG_URL) {
  serial('pg: a tenant\'s share holds across processes: a second worker does not take jobs of a tenant at its share', async (t) => {
    const s = await setup('pg', { ZIA_WORKER_CONCURRENCY: '4' });
    const limitOf = async () => 3;
    const [first, second] = [s.queue(limitOf), s.queue(limitOf)];
    let running = 0;
    let most = 0;
    const ran = { first: 0, second: 0 };
    for (const [name, q] of [['first', first], ['second', second]] as const) {
      q.register('turn', async () => {
        running++;
        ran[name]++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 300));
        running--;
      });
    }
    // Only the second worker knows this kind: it shows that worker fetching while the first holds the share.
    let probed = false;
    second.register('probe', async () => void (probed = true));
    await first.prepare();
    for (let n = 0; n < 12; n++) await first.enqueue('turn', { n }, { tenant: 'shop' });
    const w1 = await first.start();
    await waitFor('the first worker at the share', () => running === 3);
    const w2 = await second.start();
    await second.enqueue('probe', {}, { tenant: 'other' });
    await waitFor('every job', () => probed && ran.first + ran.second === 12, 20_000);
    await Promise.all([w1.stop(), w2.stop()]);
    t.is(most, 3, `never more than the share running across both workers (first ran ${ran.first}, second ${ran.second})`);
    await Promise.all([first.close(), second.close()]);
    await s.cleanup();
  });

  serial('pg: a job that runs longer than the stale window on a live worker is not taken away', async (t) => {
    const s = await setup('pg');
    // Heartbeats every 200 ms, locks considered stale after 1 s: the job runs for 3 s.
    const q = new PgJobQueue(s.db, new JobStore(s.db), createLogger('info', s.logs), { concurrency: 2, maxAttempts: 3, backoffMs: 20, connectionString: s.config.DATABASE_URL!, heartbeatMs: 200, staleMs: 1000 });
    let runs = 0;
    q.register('long', async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 3000));
    });
    const w = await q.start();
    await q.enqueue('long', {});
    await waitFor('the job to finish', async () => runs === 1 && Number((await s.db.knex.raw('select count(*) as n from graphile_worker.jobs')).rows[0].n) === 0);
    await new Promise((r) => setTimeout(r, 500));
    await w.stop();
    t.is(runs, 1);
    t.notRegex(s.logs.text, /freed jobs/);
    await s.cleanup();
  });
}
