import type { Config } from '../../config.js';
import type { Db } from '../../db/create-db.js';
import type { Logger } from '../../logger.js';
import type { ManagedJobQueue, QueueOptions } from './job-queue.js';
import { JobStore } from './job-store.js';
import { LoopGate } from './loop-gate.js';
import { PgJobQueue } from './pg-job-queue.js';
import { SqliteJobQueue } from './sqlite-job-queue.js';
import { TenantShares } from './tenant-shares.js';

/**
 * The database picks the backend: graphile-worker on PostgreSQL, the built-in worker on SQLite.
 * `tenantShare` reads a tenant's own `job_concurrency` setting; without one, a tenant's share of the
 * workers is ZIA_TENANT_CONCURRENCY.
 */
export function createJobQueue(
  config: Config,
  db: Db,
  logger: Logger,
  hooks: { observe?: QueueOptions['observe']; tenantShare?: (tenantId: string) => Promise<number | undefined> } = {},
): ManagedJobQueue {
  const store = new JobStore(db);
  const limitOf = async (tenantId: string) => (await hooks.tenantShare?.(tenantId)) ?? config.ZIA_TENANT_CONCURRENCY;
  const options = {
    concurrency: config.ZIA_WORKER_CONCURRENCY,
    maxAttempts: config.ZIA_JOB_MAX_ATTEMPTS,
    backoffMs: config.ZIA_JOB_BACKOFF_MS,
    observe: hooks.observe,
    gate: new LoopGate(config.ZIA_WORKER_CONCURRENCY),
  };
  if (db.dialect === 'pg') {
    const shares = new TenantShares({ limitOf, running: () => queue.runningByTenant() });
    const queue: PgJobQueue = new PgJobQueue(db, store, logger, { ...options, shares, connectionString: config.DATABASE_URL! });
    return queue;
  }
  return new SqliteJobQueue(store, logger, { ...options, shares: new TenantShares({ limitOf }) });
}
