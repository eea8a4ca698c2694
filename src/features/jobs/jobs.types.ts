import { type Tx } from '../../db/unit-of-work.js';

/**
 * One small interface over two backends: a PostgreSQL job queue library when DATABASE_URL is
 * PostgreSQL, a built-in worker over the `jobs` table on SQLite. Producers enqueue inside the same
 * transaction as the row that needs the work (the webhook inbox), so an acknowledged webhook always has
 * its job.
 */
export interface EnqueueOptions {
  /** Run the enqueue inside this transaction. */
  trx?: Tx;
  runAt?: Date;
  maxAttempts?: number;
  /** At most one pending job with this key (a second enqueue is a no-op). */
  jobKey?: string;
  /** Jobs of one queue run one at a time, in the order they were added (see serialQueue). */
  queue?: string;
  /** The tenant the job works for: its jobs running at once are held to the tenant's share (TenantShares). */
  tenant?: string | null;
}

/**
 * How many serial queues conversations are spread over: enough that unrelated conversations rarely wait
 * on each other (n conversations in flight share a queue in about n²/2·SERIAL_QUEUES pairs), few enough
 * that the queue engine's table of queue names stays small.
 */
export const SERIAL_QUEUES = 65536;

/**
 * The serial queue of a key (a conversation): the same key always gets the same queue, so its jobs
 * run one at a time and in order; keys are hashed onto SERIAL_QUEUES names (FNV-1a), because a queue
 * name per conversation would grow the engine's queue table without bound.
 */
export function serialQueue(key: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return `conv-${(h >>> 0) % SERIAL_QUEUES}`;
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

/** SQL text with `?` placeholders and its bindings, to be composed into a larger statement. */
export interface SqlPart {
  sql: string;
  bindings: unknown[];
}

export interface JobQueue {
  enqueue(kind: string, payload: Record<string, unknown>, options?: EnqueueOptions): Promise<void>;
  /**
   * Where jobs live in the application's own PostgreSQL database: a SELECT that adds one job for every
   * row of `source` (a CTE of the caller's statement with `id`, `kind`, `queue` and `tenant` columns;
   * `kind` names the job, `queue` its serial queue or null, `tenant` the tenant it works for or null),
   * with the payload `{ [key]: id }`, one row per job added. A producer then writes its rows and their
   * jobs in one statement — one round trip instead of a transaction's five, and one call of the queue's
   * SQL function for many rows. Absent on SQLite, where a transaction is cheap.
   */
  addJobsSql?(source: string, key: string): Promise<SqlPart>;
  register(kind: string, handler: JobHandler): void;
  start(): Promise<{ stop(): Promise<void> }>;
}
