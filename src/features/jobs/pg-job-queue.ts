import { EventEmitter } from 'node:events';
import type { Db } from '../../db/create-db.js';
import { nowIso, toIso } from '../../db/dialect.js';
import { NotFoundError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { retryDelayMs } from './backoff.js';
import { errorText, queuedHandler, type ManagedJobQueue, type QueueOptions } from './job-queue.js';
import type { JobCounts, JobRow, JobStore } from './job-store.js';
import { PermanentJobError, type EnqueueOptions, type JobHandler, type SqlPart } from './jobs.types.js';
import { on, ownTransaction } from '../../db/unit-of-work.js';

/**
 * PostgreSQL backend on graphile-worker: jobs are added with its `add_job()` SQL function through the
 * producer's own Knex transaction (so the inbox row and its job commit or roll back together), workers
 * are woken by LISTEN/NOTIFY and take jobs with SKIP LOCKED, so any number of processes share the work.
 *
 * Two things are ours on top of it:
 * - retry timing: a failed attempt is re-added with an exponential delay with jitter (the engine's own
 *   schedule is a fixed exp(attempts) seconds); the attempt count travels in the payload envelope and
 *   the engine's max_attempts is the remaining budget, so crash re-runs count too;
 * - crash recovery in seconds: the engine only frees locks older than four hours, so every process
 *   records a heartbeat per engine worker and frees the jobs of workers whose heartbeat stopped.
 * Dead jobs are copied to our `jobs` table (status dead), the same place as on SQLite.
 */

const MIGRATION_LOCK = 0x7a1a_0b5; // any constant: serialises the engine's migrations across processes
const BEAT_MS = 5_000;
const STALE_MS = 20_000;
/** A job's tenant travels as an engine flag, `t:<tenant id>`: the engine skips flags it is told to. */
const TENANT_FLAG = 't:';

function tenantFlags(tenant: string | null | undefined): string[] | null {
  return tenant ? [TENANT_FLAG + tenant] : null;
}

function tenantOf(job: { flags?: Record<string, unknown> | null }): string | undefined {
  const flag = Object.keys(job.flags ?? {}).find((f) => f.startsWith(TENANT_FLAG));
  return flag?.slice(TENANT_FLAG.length);
}

interface Envelope {
  p: Record<string, unknown>;
  /** Attempts consumed by earlier jobs of this chain. */
  a: number;
  /** The chain's attempt budget. */
  m: number;
}

export class PgJobQueue implements ManagedJobQueue {
  readonly backend = 'graphile-worker' as const;
  private readonly handlers = new Map<string, JobHandler>();
  private ready: Promise<void> | undefined;
  private pool: import('pg').Pool | undefined;

  constructor(
    private readonly db: Db,
    private readonly store: JobStore,
    private readonly logger: Logger,
    private readonly options: QueueOptions & { connectionString: string; pollMs?: number; heartbeatMs?: number; staleMs?: number },
  ) {}

  prepare(): Promise<void> {
    this.ready ??= this.migrate().catch((err) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /**
   * The engine's connections, in a pool zia owns: graphile-worker's own pool drops its error listeners
   * while it is still ending, so a connection the server closes at that moment (a restart, a failover)
   * would be an uncaught error that takes the process down. These listeners stay for the pool's life.
   */
  private async enginePool(): Promise<import('pg').Pool> {
    if (!this.pool) {
      const { default: pg } = await import('pg');
      const pool = new pg.Pool({ connectionString: this.options.connectionString, max: Math.min(10, this.options.concurrency + 2) });
      pool.on('error', (err) => this.logger.warn({ err }, 'job queue: an idle PostgreSQL connection failed'));
      pool.on('connect', (client) => client.on('error', (err) => this.logger.warn({ err }, 'job queue: a PostgreSQL connection failed')));
      this.pool = pool;
    }
    return this.pool;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.ready = undefined;
    await pool?.end();
  }

  private async migrate(): Promise<void> {
    const { runMigrations } = await import('graphile-worker');
    const pgPool = await this.enginePool();
    await this.db.knex.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
      await runMigrations({ pgPool, logger: await this.engineLogger() });
    });
  }

  async enqueue(kind: string, payload: Record<string, unknown>, options: EnqueueOptions = {}): Promise<void> {
    await this.prepare();
    const max = options.maxAttempts ?? this.options.maxAttempts;
    const envelope: Envelope = { p: payload, a: 0, m: max };
    await on(this.db, options.trx).raw(
      `select graphile_worker.add_job(identifier => ?, payload => ?::json, queue_name => ?, run_at => ?::timestamptz, max_attempts => ?::int, job_key => ?, job_key_mode => 'preserve_run_at', flags => ?::text[])`,
      [kind, JSON.stringify(envelope), options.queue ?? null, options.runAt ? toIso(options.runAt) : null, max, options.jobKey ?? null, tenantFlags(options.tenant)],
    );
  }

  async addJobsSql(source: string, key: string): Promise<SqlPart> {
    await this.prepare();
    const max = this.options.maxAttempts;
    // The engine's add_jobs() takes them all in one call (one task lookup, one insert, one NOTIFY); each
    // payload is the envelope enqueue() writes: the payload, no attempts consumed yet, the chain's budget.
    const flags = `case when ${source}.tenant is null then null else array[?::text || ${source}.tenant] end`;
    const spec = `row(${source}.kind, json_build_object('p', json_build_object(?::text, ${source}.id), 'a', 0, 'm', ?::int), ${source}.queue, null, ?::smallint, null, null, ${flags})::graphile_worker.job_spec`;
    return { sql: `select job.id from graphile_worker.add_jobs(array(select ${spec} from ${source})) as job`, bindings: [key, max, max, TENANT_FLAG] };
  }

  register(kind: string, handler: JobHandler): void {
    this.handlers.set(kind, queuedHandler(kind, handler, this.options));
  }

  async start(): Promise<{ stop(): Promise<void> }> {
    await this.prepare();
    const { run } = await import('graphile-worker');
    const taskList: Record<string, (payload: unknown, helpers: any) => Promise<void>> = {};
    for (const [kind, handler] of this.handlers) taskList[kind] = (payload, helpers) => this.runTask(kind, handler, payload as Envelope, helpers);

    // Jobs are locked under the pool's id (batched fetching) or a worker's id: both beat.
    const workerIds = new Set<string>();
    const events = new EventEmitter();
    events.on('pool:create', ({ workerPool }) => workerIds.add(workerPool.id));
    events.on('pool:release', ({ workerPool }) => workerIds.delete(workerPool.id));
    events.on('worker:create', ({ worker }) => workerIds.add(worker.workerId));
    events.on('worker:stop', ({ worker }) => workerIds.delete(worker.workerId));

    const runner = await run({
      // LISTEN takes one connection; job fetches and completions are batched, so a few more suffice.
      pgPool: await this.enginePool(),
      concurrency: this.options.concurrency,
      pollInterval: this.options.pollMs ?? 2_000,
      // Completions and failures of jobs finishing together go in one statement. A process killed
      // before its batch is written leaves those jobs locked; the heartbeat check frees them, and the
      // inbox row and outbound_sends make running one again harmless. (The engine's local queue, its
      // other batching feature, is not used: with it, jobs of one named queue run concurrently.)
      preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      // Jobs of tenants at their share are left in the queue until one of theirs ends.
      forbiddenFlags: this.options.shares ? async () => (await this.options.shares!.full()).map((t) => TENANT_FLAG + t) : null,
      noHandleSignals: true,
      taskList,
      events: events as any,
      logger: await this.engineLogger(),
    });
    const beat = async () => {
      try {
        await this.store.beat([...workerIds]);
        await this.freeOrphans(workerIds);
      } catch (err) {
        this.logger.warn({ err }, 'worker heartbeat failed');
      }
    };
    await beat();
    const timer = setInterval(beat, this.options.heartbeatMs ?? BEAT_MS);
    this.logger.info({ backend: this.backend, concurrency: this.options.concurrency, kinds: [...this.handlers.keys()] }, 'worker started');
    let stopping: Promise<void> | undefined;
    const stopOnce = async () => {
      clearInterval(timer);
      const ids = [...workerIds];
      await runner.stop();
      await this.store.forget(ids).catch(() => undefined);
      this.logger.info('worker stopped');
    };
    // Idempotent: `zia serve` stops it on SIGTERM and services.close() stops it again.
    return { stop: () => (stopping ??= stopOnce()) };
  }

  /** Frees jobs locked by engine workers that stopped beating (their process was killed). */
  private async freeOrphans(own: Set<string>): Promise<void> {
    // Lock times and heartbeats are both read on the database's clock, never this host's.
    const staleMs = this.options.staleMs ?? STALE_MS;
    const rows = await this.db.knex.raw(
      `select distinct locked_by from graphile_worker.jobs where locked_by is not null and locked_at < now() - ?::int * interval '1 millisecond'`,
      [staleMs],
    );
    const lockers = (rows.rows as Array<{ locked_by: string }>).map((r) => r.locked_by).filter((id) => !own.has(id));
    if (lockers.length === 0) return;
    const alive = await this.store.alive(lockers, staleMs);
    const dead = lockers.filter((id) => !alive.has(id));
    if (dead.length === 0) return;
    await this.db.knex.raw('select graphile_worker.force_unlock_workers(?::text[])', [dead]);
    await this.store.forget(dead);
    this.logger.warn({ workers: dead }, 'freed jobs held by workers that stopped (process killed?); they run again');
    await this.store.pruneBeats(3_600_000);
  }

  private async runTask(kind: string, handler: JobHandler, envelope: Envelope, helpers: any): Promise<void> {
    const tenant = tenantOf(helpers.job);
    const shares = tenant ? this.options.shares : undefined;
    await shares?.enter(tenant!);
    try {
      await this.attempt(kind, handler, envelope, helpers, tenant);
    } finally {
      shares?.leave(tenant!);
    }
  }

  private async attempt(kind: string, handler: JobHandler, envelope: Envelope, helpers: any, tenant: string | undefined): Promise<void> {
    const attempt = envelope.a + Number(helpers.job.attempts);
    const ctx = { attempt, maxAttempts: envelope.m, lastAttempt: attempt >= envelope.m };
    try {
      await handler(envelope.p, ctx);
    } catch (err) {
      const reason = errorText(err);
      if (err instanceof PermanentJobError || ctx.lastAttempt) {
        await this.store.insert({ kind, payload: envelope.p, status: 'dead', runAt: nowIso(), attempts: attempt, maxAttempts: envelope.m, lastError: reason, queue: helpers.job.queue_name ?? undefined, tenantId: tenant });
        this.logger.error({ job: String(helpers.job.id), kind, attempt, reason }, 'job parked as dead');
        return;
      }
      const delay = retryDelayMs(attempt, this.options.backoffMs);
      const next: Envelope = { ...envelope, a: attempt };
      await helpers.withPgClient((client: any) =>
        client.query(
          `select graphile_worker.add_job($1, $2::json, queue_name => $5, run_at => now() + $3 * interval '1 millisecond', max_attempts => $4::int, flags => $6::text[])`,
          [kind, JSON.stringify(next), delay, envelope.m - attempt, helpers.job.queue_name ?? null, tenantFlags(tenant)],
        ),
      );
      this.logger.warn({ job: String(helpers.job.id), kind, attempt, retry_in_ms: delay, reason }, 'job failed; will retry');
    }
  }

  /** Jobs running now by tenant, across every process: the engine's locks, read from its public view. */
  async runningByTenant(): Promise<Map<string, number>> {
    const rows = await this.db.knex.raw(
      `select substr(flag, ?) as tenant, count(*)::int as n
         from graphile_worker.jobs, jsonb_object_keys(flags) as flag
        where locked_at is not null and flags is not null and flag like ?
        group by 1`,
      [TENANT_FLAG.length + 1, `${TENANT_FLAG}%`],
    );
    return new Map((rows.rows as Array<{ tenant: string; n: number }>).map((r) => [r.tenant, r.n]));
  }

  async listDead(limit?: number): Promise<JobRow[]> {
    return this.store.listDead(limit);
  }

  /**
   * Live jobs are the engine's: its private table is read because its public view lacks the payload,
   * where our envelope says whether the job is a retry after a failure (a retry is a new engine job).
   */
  async counts(): Promise<JobCounts> {
    await this.prepare();
    const [{ dead }, live] = await Promise.all([
      this.store.countByState(),
      this.db.knex.raw(
        `select count(*) filter (where locked_at is not null) as running,
                count(*) filter (where locked_at is null and (attempts > 0 or coalesce((payload->>'a')::int, 0) > 0)) as failed,
                count(*) filter (where locked_at is null and attempts = 0 and coalesce((payload->>'a')::int, 0) = 0) as queued
           from graphile_worker._private_jobs`,
      ),
    ]);
    const r = live.rows[0] as { running: string; failed: string; queued: string };
    return { queued: Number(r.queued), running: Number(r.running), failed: Number(r.failed), dead };
  }

  async replayDead(id: string): Promise<void> {
    const job = await this.store.get(id);
    if (!job || job.status !== 'dead') throw new NotFoundError(`dead job '${id}' not found`);
    await ownTransaction(this.db, async (trx) => {
      await this.store.delete(id, trx);
      await this.enqueue(job.kind, job.payload, { trx, maxAttempts: job.maxAttempts, queue: job.queue ?? undefined, tenant: job.tenantId });
    });
  }

  private async engineLogger() {
    const { Logger } = await import('graphile-worker');
    const log = this.logger.child({ component: 'graphile-worker' });
    return new Logger(() => (level: string, message: string, meta?: unknown) => {
      if (level === 'error') log.error({ meta }, message);
      else if (level === 'warning') log.warn({ meta }, message);
      else log.debug(message);
    });
  }
}
