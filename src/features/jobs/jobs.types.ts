import type { Knex } from 'knex';

/**
 * One small interface over two backends: a PostgreSQL job queue library when DATABASE_URL is
 * PostgreSQL, a built-in worker over the `jobs` table on SQLite. Producers enqueue inside the same
 * transaction as the row that needs the work (the webhook inbox), so an acknowledged webhook always has
 * its job.
 */
export interface EnqueueOptions {
  /** Run the enqueue inside this transaction. */
  trx?: Knex.Transaction;
  runAt?: Date;
  maxAttempts?: number;
  /** At most one pending job with this key (a second enqueue is a no-op). */
  jobKey?: string;
}

export interface JobContext {
  attempt: number;
  maxAttempts: number;
  /** True on the final attempt: a failure now parks the job as dead. */
  lastAttempt: boolean;
}

export type JobHandler = (payload: any, ctx: JobContext) => Promise<void>;

/** Thrown by a handler to park a job at once (no retry): the failure is permanent. */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

export interface JobQueue {
  enqueue(kind: string, payload: Record<string, unknown>, options?: EnqueueOptions): Promise<void>;
  register(kind: string, handler: JobHandler): void;
  start(): Promise<{ stop(): Promise<void> }>;
}
