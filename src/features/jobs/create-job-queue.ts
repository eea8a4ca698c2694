import type { Config } from '../../config.js';
import type { Db } from '../../db/create-db.js';
import type { Logger } from '../../logger.js';
import type { ManagedJobQueue, QueueOptions } from './job-queue.js';
import { JobStore } from './job-store.js';
import { LoopGate } from './loop-gate.js';
import { PgJobQueue } from './pg-job-queue.js';
import { SqliteJobQueue } from './sqlite-job-queue.js';

/** The database picks the backend: graphile-worker on PostgreSQL, the built-in worker on SQLite. */
export function createJobQueue(config: Config, db: Db, logger: Logger, observe?: QueueOptions['observe']): ManagedJobQueue {
  const store = new JobStore(db);
  const options = {
    concurrency: config.ZIA_WORKER_CONCURRENCY,
    maxAttempts: config.ZIA_JOB_MAX_ATTEMPTS,
    backoffMs: config.ZIA_JOB_BACKOFF_MS,
    observe,
    gate: new LoopGate(config.ZIA_WORKER_CONCURRENCY),
  };
  if (db.dialect === 'pg') return new PgJobQueue(db, store, logger, { ...options, connectionString: config.DATABASE_URL! });
  return new SqliteJobQueue(store, logger, options);
}
