import type { JobHandler, JobQueue } from './jobs.types.js';
import type { JobCounts, JobRow } from './job-store.js';
import type { LoopGate } from './loop-gate.js';
import type { TenantShares } from './tenant-shares.js';

/** What both backends share beyond the JobQueue contract: dead jobs an operator can see and requeue. */
export interface ManagedJobQueue extends JobQueue {
  readonly backend: 'sqlite' | 'graphile-worker';
  /** Prepares the backend's own storage (idempotent); enqueue does it on first use too. */
  prepare(): Promise<void>;
  /** Releases the backend's own connections (after any worker has stopped). */
  close(): Promise<void>;
  listDead(limit?: number): Promise<JobRow[]>;
  /** How many jobs are queued, running, waiting to retry after a failure, and dead; read on a metrics scrape. */
  counts(): Promise<JobCounts>;
  /** Requeues a dead job with a fresh attempt budget. */
  replayDead(id: string): Promise<void>;
}

export interface QueueOptions {
  concurrency: number;
  /** Attempts before a job is parked as dead. */
  maxAttempts: number;
  /** First retry delay; doubles per attempt, with jitter. */
  backoffMs: number;
  /** Told how long each handler run took and whether it threw (the job-duration metric). */
  observe?: (kind: string, seconds: number, ok: boolean) => void;
  /** Holds jobs back while the process's event loop falls behind (see LoopGate). */
  gate?: Pick<LoopGate, 'run'>;
  /** Holds each tenant's jobs running at once to its share; jobs of a tenant at its share wait queued. */
  shares?: TenantShares;
}

/**
 * The handler as both backends run it: started through the loop gate, if any, and timed for
 * QueueOptions.observe; both wrap every handler they register with it.
 */
export function queuedHandler(kind: string, handler: JobHandler, options: Pick<QueueOptions, 'observe' | 'gate'>): JobHandler {
  const { observe, gate } = options;
  const timed: JobHandler = !observe ? handler : async (payload, ctx) => {
    const started = performance.now();
    try {
      await handler(payload, ctx);
      observe(kind, (performance.now() - started) / 1000, true);
    } catch (err) {
      observe(kind, (performance.now() - started) / 1000, false);
      throw err;
    }
  };
  return gate ? (payload, ctx) => gate.run(() => timed(payload, ctx)) : timed;
}

export function errorText(err: unknown): string {
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return msg.slice(0, 2000);
}
