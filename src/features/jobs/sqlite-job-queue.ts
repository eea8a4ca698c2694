import type { Logger } from '../../logger.js';
import { newId, nowIso, toIso } from '../../db/dialect.js';
import { NotFoundError } from '../../errors.js';
import { retryDelayMs } from './backoff.js';
import { errorText, queuedHandler, type ManagedJobQueue, type QueueOptions } from './job-queue.js';
import type { JobCounts, JobRow, JobStore } from './job-store.js';
import { PermanentJobError, type EnqueueOptions, type JobHandler } from './jobs.types.js';

/**
 * The built-in worker for the embedded SQLite mode, where one process owns the database file. Jobs
 * live in the `jobs` table; a claimed job carries a lease (locked_until) that is extended while it runs,
 * so a job held by a process that died is taken again once its lease expires — and at once when the
 * owner starts, because no other process can be holding it.
 */
export class SqliteJobQueue implements ManagedJobQueue {
  readonly backend = 'sqlite' as const;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly running = new Map<string, Promise<void>>();
  /** The serial queue of each running job that has one. */
  private readonly queuesRunning = new Map<string, string>();
  private readonly workerId = `sqlite-${newId()}`;
  private stopped = true;
  private woken = false;
  /**
   * Until then, the last fetch that left out tenants at their share found nothing of anyone else's:
   * a job of a tenant that just reached its share then does not trigger another such fetch, which walks
   * past that tenant's whole backlog. A new job (enqueue) or the poll interval ends it.
   */
  private othersIdleUntil = 0;
  private wake: (() => void) | undefined;

  constructor(
    private readonly store: JobStore,
    private readonly logger: Logger,
    private readonly options: QueueOptions & { leaseMs?: number; pollMs?: number },
  ) {}

  async prepare(): Promise<void> {}

  async close(): Promise<void> {}

  async enqueue(kind: string, payload: Record<string, unknown>, options: EnqueueOptions = {}): Promise<void> {
    await this.store.insert(
      {
        kind,
        payload,
        status: 'queued',
        runAt: toIso(options.runAt ?? new Date()),
        maxAttempts: options.maxAttempts ?? this.options.maxAttempts,
        jobKey: options.jobKey,
        queue: options.queue,
        tenantId: options.tenant,
      },
      options.trx,
    );
    // Wake the loop once the row is visible: after the producer's transaction commits. A job of a
    // tenant at its share cannot start yet: the end of one of its running jobs wakes the loop.
    if (options.tenant && this.options.shares?.atShare(options.tenant)) return;
    const wake = () => {
      this.othersIdleUntil = 0;
      this.nudge();
    };
    if (options.trx) options.trx.afterCommit(wake);
    else wake();
  }

  register(kind: string, handler: JobHandler): void {
    this.handlers.set(kind, queuedHandler(kind, handler, this.options));
  }

  async start(): Promise<{ stop(): Promise<void> }> {
    const released = await this.store.releaseAllRunning();
    if (released > 0) this.logger.warn({ jobs: released }, 'jobs left running by a previous process are queued again');
    this.stopped = false;
    const lease = this.options.leaseMs ?? 5 * 60_000;
    const keeper = setInterval(() => {
      this.store.extend([...this.running.keys()], this.workerId, toIso(Date.now() + lease)).catch((err) => this.logger.warn({ err }, 'job lease renewal failed'));
    }, Math.max(1000, Math.floor(lease / 3)));
    const loop = this.loop();
    this.logger.info({ backend: this.backend, concurrency: this.options.concurrency, kinds: [...this.handlers.keys()] }, 'worker started');
    let stopping: Promise<void> | undefined;
    const stopOnce = async () => {
      this.stopped = true;
      this.wake?.();
      await loop;
      await Promise.allSettled([...this.running.values()]);
      clearInterval(keeper);
      this.logger.info('worker stopped');
    };
    // Idempotent: `zia serve` stops it on SIGTERM and services.close() stops it again.
    return { stop: () => (stopping ??= stopOnce()) };
  }

  async listDead(limit?: number): Promise<JobRow[]> {
    return this.store.listDead(limit);
  }

  counts(): Promise<JobCounts> {
    return this.store.countByState();
  }

  async replayDead(id: string): Promise<void> {
    const job = await this.store.get(id);
    if (!job || job.status !== 'dead') throw new NotFoundError(`dead job '${id}' not found`);
    await this.store.delete(id);
    await this.enqueue(job.kind, job.payload, { maxAttempts: job.maxAttempts, queue: job.queue ?? undefined, tenant: job.tenantId });
  }

  private nudge(): void {
    this.woken = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    const poll = this.options.pollMs ?? 500;
    while (!this.stopped) {
      this.woken = false;
      try {
        await this.fill();
      } catch (err) {
        this.logger.error({ err }, 'worker could not fetch jobs');
      }
      if (this.woken || this.stopped) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, poll);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
  }

  private async fill(): Promise<void> {
    const free = this.options.concurrency - this.running.size;
    if (free <= 0) return;
    const now = nowIso();
    const lease = toIso(Date.now() + (this.options.leaseMs ?? 5 * 60_000));
    const shares = this.options.shares;
    // One worker owns the file (the data directory lock), so the serial queues busy now are the ones
    // this process runs, and so are the tenants' running jobs its shares count.
    const queues = new Set<string>(this.queuesRunning.values());
    const full = (await shares?.full()) ?? [];
    const due = await this.store.due([...this.handlers.keys()], free, now, [...queues], full);
    if (full.length > 0 && due.length === 0) this.othersIdleUntil = Date.now() + (this.options.pollMs ?? 500);
    for (const job of due) {
      if (this.running.has(job.id)) continue;
      // The first due job of a serial queue runs; the next waits for it.
      if (job.queue) {
        if (queues.has(job.queue)) continue;
        queues.add(job.queue);
      }
      // A tenant that reached its share in this batch: fetch again without it.
      if (shares && job.tenantId && !(await shares.hasRoom(job.tenantId))) {
        if (Date.now() >= this.othersIdleUntil) this.woken = true;
        continue;
      }
      if (!(await this.store.claim(job.id, this.workerId, lease, now))) continue;
      if (job.queue) this.queuesRunning.set(job.id, job.queue);
      const tenant = job.tenantId;
      if (tenant) await shares?.enter(tenant); // at once: it had room
      const p = this.run({ ...job, attempts: job.attempts + 1 }).finally(() => {
        this.running.delete(job.id);
        this.queuesRunning.delete(job.id);
        if (tenant) shares?.leave(tenant);
        this.nudge();
      });
      this.running.set(job.id, p);
    }
  }

  private async run(job: JobRow): Promise<void> {
    const handler = this.handlers.get(job.kind)!;
    const ctx = { attempt: job.attempts, maxAttempts: job.maxAttempts, lastAttempt: job.attempts >= job.maxAttempts };
    try {
      await handler(job.payload, ctx);
      await this.store.complete(job.id);
    } catch (err) {
      const reason = errorText(err);
      try {
        if (err instanceof PermanentJobError || ctx.lastAttempt) {
          await this.store.markDead(job.id, reason);
          this.logger.error({ job: job.id, kind: job.kind, attempt: ctx.attempt, reason }, 'job parked as dead');
        } else {
          const delay = retryDelayMs(ctx.attempt, this.options.backoffMs);
          await this.store.retry(job.id, toIso(Date.now() + delay), reason);
          this.logger.warn({ job: job.id, kind: job.kind, attempt: ctx.attempt, retry_in_ms: delay, reason }, 'job failed; will retry');
        }
      } catch (storeErr) {
        // The lease still covers the job: it runs again after expiry or at the next start.
        this.logger.error({ err: storeErr, job: job.id }, 'could not record the job failure');
      }
    }
  }
}
