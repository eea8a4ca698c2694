import type { JobQueue } from './jobs.types.js';
import type { JobRow } from './job-store.js';

/** What both backends share beyond the JobQueue contract: dead jobs an operator can see and requeue. */
export interface ManagedJobQueue extends JobQueue {
  readonly backend: 'sqlite' | 'graphile-worker';
  /** Prepares the backend's own storage (idempotent); enqueue does it on first use too. */
  prepare(): Promise<void>;
  /** Releases the backend's own connections (after any worker has stopped). */
  close(): Promise<void>;
  listDead(limit?: number): Promise<JobRow[]>;
  /** Requeues a dead job with a fresh attempt budget. */
  replayDead(id: string): Promise<void>;
}

export interface QueueOptions {
  concurrency: number;
  /** Attempts before a job is parked as dead. */
  maxAttempts: number;
  /** First retry delay; doubles per attempt, with jitter. */
  backoffMs: number;
}

export function errorText(err: unknown): string {
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return msg.slice(0, 2000);
}
