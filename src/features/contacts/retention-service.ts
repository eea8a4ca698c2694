import { nowIso } from '../../db/dialect.js';
import type { Logger } from '../../logger.js';
import type { JobQueue } from '../jobs/jobs.types.js';
import type { Tenant } from '../tenants/tenant-service.js';
import type { ContactStore } from './contact-store.js';

/**
 * Each tenant's `retention_days`: conversations (with their messages and sends) silent for longer are
 * deleted by an hourly job. Every run is keyed by its hour, so however many workers start and ask for
 * the next one, the queue holds one job per hour for the whole fleet; a run first asks for the next, so
 * the chain goes on even when a run fails. The chain exists only while some tenant has retention_days
 * (a worker starting or a tenant given the setting starts it), so a deployment that uses none has no
 * job waiting in its queue.
 */
export const RETENTION_JOB = 'contacts.retention';
const EVERY_MS = 60 * 60_000;
const DAY_MS = 86_400_000;
/** Conversations deleted per transaction: short transactions keep chat turns flowing meanwhile. */
const BATCH = 500;

export interface RetentionStatus {
  days: number | null;
  /** Conversations silent for longer than `days` and not yet deleted. */
  past: number;
  lastRun: { ranAt: string; deleted: number } | null;
}

export class RetentionService {
  private readonly scheduling = new Set<Promise<void>>();

  constructor(
    private readonly deps: {
      store: ContactStore;
      tenants: { list(): Promise<Tenant[]> };
      jobs: JobQueue;
      logger: Logger;
    },
  ) {}

  /** Queues the next hour's run when some tenant has retention_days (a worker starting asks). */
  async scheduleIfUsed(): Promise<void> {
    if ((await this.deps.tenants.list()).some((t) => t.settings.retention_days !== undefined)) await this.schedule();
  }

  /**
   * A tenant was given retention_days: start the chain (a no-op when it runs already). Called from a
   * change listener, so the promise is kept for drain() — a CLI process must not close first.
   */
  tenantChanged(tenant: Tenant): void {
    if (tenant.settings.retention_days === undefined) return;
    const job: Promise<void> = this.schedule()
      .catch((err: unknown) => this.deps.logger.error({ err, tenant: tenant.slug }, 'retention could not be scheduled'))
      .finally(() => this.scheduling.delete(job));
    this.scheduling.add(job);
  }

  async drain(): Promise<void> {
    await Promise.all(this.scheduling);
  }

  /** Queues the next hour's run unless it is queued already. */
  async schedule(now = Date.now()): Promise<void> {
    const runAt = new Date(Math.floor(now / EVERY_MS) * EVERY_MS + EVERY_MS);
    await this.deps.jobs.enqueue(RETENTION_JOB, {}, { runAt, jobKey: `${RETENTION_JOB}:${runAt.toISOString()}` });
  }

  async runJob(): Promise<void> {
    const tenants = await this.deps.tenants.list();
    if (tenants.some((t) => t.settings.retention_days !== undefined)) await this.schedule();
    for (const tenant of tenants) {
      const days = tenant.settings.retention_days;
      if (days === undefined) continue;
      const deleted = await this.expire(tenant, days);
      if (deleted > 0) this.deps.logger.info({ tenant: tenant.slug, deleted, retention_days: days }, 'expired conversations deleted');
    }
  }

  /** Deletes the tenant's conversations silent for more than `days`, a batch at a time; answers how many. */
  async expire(tenant: Tenant, days: number, now = Date.now()): Promise<number> {
    const cutoff = new Date(now - days * DAY_MS).toISOString();
    let deleted = 0;
    for (;;) {
      const ids = await this.deps.store.expiredConversations(tenant.id, cutoff, BATCH);
      deleted += await this.deps.store.deleteConversations(tenant.id, ids);
      if (ids.length < BATCH) break;
    }
    await this.deps.store.recordRetentionRun(tenant.id, nowIso(), deleted);
    return deleted;
  }

  async status(tenant: Tenant, now = Date.now()): Promise<RetentionStatus> {
    const days = tenant.settings.retention_days ?? null;
    const past = days === null ? 0 : await this.deps.store.countExpired(tenant.id, new Date(now - days * DAY_MS).toISOString());
    return { days, past, lastRun: (await this.deps.store.lastRetentionRun(tenant.id)) ?? null };
  }
}
