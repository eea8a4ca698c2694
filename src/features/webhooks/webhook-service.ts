import type { Db } from '../../db/create-db.js';
import { StatementBatcher } from '../../db/statement-batcher.js';
import { ownTransaction } from '../../db/unit-of-work.js';
import { ConflictError, NotFoundError } from '../../errors.js';
import type { Gauge } from 'prom-client';
import type { Logger } from '../../logger.js';
import type { JobContext, JobQueue, SqlPart } from '../jobs/jobs.types.js';
import { PermanentJobError, serialQueue } from '../jobs/jobs.types.js';
import { errorText } from '../jobs/job-queue.js';
import type { DeliveryRecord, DeliveryStatus, NewDelivery, WebhookStore } from './webhook-store.js';

/** One item of a webhook, with its inbox row's insert (`on conflict do nothing returning …`). */
interface Entry {
  provider: string;
  item: InboxItem;
  insert: SqlPart;
}

function queueOf(item: InboxItem): string | undefined {
  return item.orderKey === undefined ? undefined : serialQueue(item.orderKey);
}

function isIgnored(item: InboxItem): boolean {
  return item.ignoredReason !== undefined || item.tenantId === null;
}

/** The inbox row of an item: 'ignored' ones keep their reason in last_error. */
function delivery(provider: string, item: InboxItem): NewDelivery {
  const ignored = isIgnored(item);
  return {
    provider,
    externalId: item.externalId,
    tenantId: item.tenantId,
    kind: item.kind,
    status: ignored ? 'ignored' : 'received',
    payload: item.payload,
    lastError: ignored ? (item.ignoredReason ?? 'no tenant') : undefined,
  };
}

/** One unit of work split out of a provider's webhook payload. */
export interface InboxItem {
  externalId: string;
  tenantId: string | null;
  /** The job kind that processes it. */
  kind: string;
  payload: unknown;
  /** 'ignored' records the item without work (unknown page, …), with the reason in last_error. */
  ignoredReason?: string;
  /** Items with the same key (one conversation's messages) are handled one at a time, in order. */
  orderKey?: string;
}

export interface AcceptSummary {
  accepted: number;
  duplicates: number;
  ignored: number;
}

/**
 * What a handler reports when it finished without doing everything: `held` names sends in doubt that were
 * kept for an operator, so the delivery reads `held` rather than `processed` until they are resent.
 */
export interface HandlerOutcome {
  held?: string[];
}

export type DeliveryHandler = (delivery: DeliveryRecord, ctx: JobContext) => Promise<HandlerOutcome | void>;

/**
 * The durable inbox: every item of an acknowledged webhook is a row in webhook_deliveries and, in the
 * same transaction, a job. The job runs the item's handler; the row's status tells an operator what
 * happened (received → processed, failed while retrying, dead when parked) and can be replayed.
 */
export class WebhookService {
  /** PostgreSQL: webhooks acknowledged together under load (see inOneStatement). */
  private readonly statements = new StatementBatcher<Entry[], boolean[]>(async (webhooks) => {
    const flags = await this.writeEntries(webhooks.flat());
    let at = 0;
    return webhooks.map((entries) => flags.slice(at, (at += entries.length)));
  });

  constructor(
    private readonly db: Db,
    private readonly store: WebhookStore,
    private readonly jobs: JobQueue,
    private readonly logger: Logger,
    /** Items being handled now, by tenant (the zia_inbox_in_flight gauge). */
    private readonly inFlight?: Pick<Gauge<'tenant'>, 'inc' | 'dec'>,
  ) {}

  async accept(provider: string, items: InboxItem[]): Promise<AcceptSummary> {
    const summary: AcceptSummary = { accepted: 0, duplicates: 0, ignored: 0 };
    if (items.length === 0) return summary;
    const dupes: string[] = [];
    let duplicates: boolean[];
    if (this.jobs.addJobsSql) {
      duplicates = await this.inOneStatement(provider, items);
    } else {
      duplicates = await ownTransaction(this.db, async (trx) => {
        const flags: boolean[] = [];
        for (const item of items) {
          const { id, duplicate } = await this.store.record(delivery(provider, item), trx);
          flags.push(duplicate);
          // No job key: the delivery is new in this transaction, so it cannot have a job yet.
          if (!duplicate && !isIgnored(item)) await this.jobs.enqueue(item.kind, { deliveryId: id }, { trx, queue: queueOf(item), tenant: item.tenantId });
        }
        return flags;
      });
    }
    items.forEach((item, i) => {
      if (duplicates[i]) {
        summary.duplicates++;
        dupes.push(item.externalId);
      } else if (isIgnored(item)) summary.ignored++;
      else summary.accepted++;
    });
    if (dupes.length > 0) this.logger.info({ provider, external_ids: dupes.slice(0, 20), count: dupes.length }, 'duplicate webhook items ignored');
    return summary;
  }

  /**
   * PostgreSQL: the items' rows and the jobs of the new ones in one statement (atomic on its own).
   * Webhooks that arrive while a statement is out go in the next one together (StatementBatcher): under
   * load the queue's SQL function, the most expensive part of an acknowledgement, is called once for
   * many jobs instead of once each.
   * Resolves with whether each item was a repeat.
   */
  private inOneStatement(provider: string, items: InboxItem[]): Promise<boolean[]> {
    const entries = items.map((item) => ({ provider, item, insert: this.store.insertSql(delivery(provider, item)) }));
    return this.statements.submit(entries, entries.reduce((n, e) => n + e.insert.bindings.length, 0));
  }

  /** PostgreSQL: the entries' rows and, for the new ones, their jobs in one statement (see WebhookStore.insertAllWithJobs). */
  private async writeEntries(entries: Entry[]): Promise<boolean[]> {
    const jobs = await this.jobs.addJobsSql!('fresh', 'deliveryId');
    const flags = await this.store.insertAllWithJobs(
      entries.map((e) => ({ ...e.insert, queue: queueOf(e.item) ?? null })),
      jobs,
    );
    for (const [i, { provider, item }] of entries.entries()) if (flags[i]) await this.store.countDuplicate(provider, item.externalId);
    return flags;
  }

  /** Registers the processing of one kind of item; the row's status follows the job's fate. */
  register(kind: string, handler: DeliveryHandler): void {
    this.jobs.register(kind, async (payload, ctx) => {
      const delivery = await this.store.get(String(payload.deliveryId));
      if (!delivery) throw new PermanentJobError(`delivery ${String(payload.deliveryId)} not found`);
      // A job that finished its work but died before it was marked done is not done twice.
      if (delivery.status === 'processed' || delivery.status === 'ignored') return;
      // A held delivery waits for an operator (zia conversations resend); running it again changes nothing.
      if (delivery.status === 'held') return;
      const tenant = { tenant: delivery.tenantId ?? 'none' };
      this.inFlight?.inc(tenant);
      try {
        const outcome = await handler(delivery, ctx);
        if (outcome?.held?.length) {
          const sends = outcome.held.join(', ');
          await this.store.markHeld(delivery.id, ctx.attempt, `reply held: send ${sends} may not have reached the customer (ZIA_UNCERTAIN_SENDS=hold, or re-sent once already); zia conversations resend ${outcome.held[0]}`);
        } else await this.store.markProcessed(delivery.id, ctx.attempt);
      } catch (err) {
        const parked = err instanceof PermanentJobError || ctx.lastAttempt;
        await this.store.markFailed(delivery.id, parked ? 'dead' : 'failed', ctx.attempt, errorText(err));
        if (parked) this.logger.error({ delivery: delivery.id, kind, external_id: delivery.externalId, reason: errorText(err) }, 'webhook item parked as dead');
        throw err;
      } finally {
        this.inFlight?.dec(tenant);
      }
    });
  }

  get(id: string): Promise<DeliveryRecord | undefined> {
    return this.store.get(id);
  }

  async getOrThrow(id: string): Promise<DeliveryRecord> {
    const delivery = await this.store.get(id);
    if (!delivery) throw new NotFoundError(`delivery '${id}' not found`);
    return delivery;
  }

  list(filter: { tenantId?: string; status?: DeliveryStatus; provider?: string; limit?: number }): Promise<DeliveryRecord[]> {
    return this.store.list(filter);
  }

  countByStatus(): Promise<Record<string, number>> {
    return this.store.countByStatus();
  }

  /** A held delivery whose sends are all settled (resent by an operator) is done. */
  async settleHeld(id: string): Promise<void> {
    const delivery = await this.store.get(id);
    if (delivery?.status === 'held') await this.store.markProcessed(id, delivery.attempts);
  }

  /** Keeps what the handler produced (the reply), so a retry after a crash can still deliver it. */
  saveResult(id: string, result: Record<string, unknown>): Promise<void> {
    return this.store.saveResult(id, result);
  }

  /** Runs a delivery again (dead, failed, or a processed one an operator wants redone). */
  async replay(id: string): Promise<DeliveryRecord> {
    const delivery = await this.getOrThrow(id);
    if (!delivery.tenantId || !delivery.kind) throw new ConflictError(`delivery '${id}' has no tenant; nothing to replay`);
    if (delivery.status === 'received') throw new ConflictError(`delivery '${id}' is already queued`);
    await ownTransaction(this.db, async (trx) => {
      await this.store.requeue(id, trx);
      await this.jobs.enqueue(delivery.kind!, { deliveryId: id }, { trx, tenant: delivery.tenantId });
    });
    this.logger.info({ delivery: id, was: delivery.status }, 'webhook delivery replayed');
    return (await this.store.get(id))!;
  }
}
