import type { Knex } from 'knex';
import type { Db } from '../../db/create-db.js';
import { isUniqueViolation } from '../../db/db-errors.js';
import { newId, nowIso, readJson, readTime, writeJson } from '../../db/dialect.js';
import type { SqlPart } from '../jobs/jobs.types.js';
import { type Tx, knexOf, on, ownTransaction } from '../../db/unit-of-work.js';

/** What a delivery handled inside its claiming transaction (a Stripe event) came to. */
export type ClaimedOutcome = 'processed' | 'ignored';

/** `held`: handled, but a reply in doubt waits for an operator (zia conversations resend). */
export const DELIVERY_STATUSES = ['received', 'processed', 'failed', 'ignored', 'dead', 'held'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface NewDelivery {
  provider: string;
  externalId: string;
  tenantId: string | null;
  kind: string;
  status: DeliveryStatus;
  payload: unknown;
  lastError?: string;
}

export interface DeliveryRecord {
  id: string;
  provider: string;
  externalId: string;
  tenantId: string | null;
  kind: string | null;
  status: DeliveryStatus;
  attempts: number;
  duplicates: number;
  lastError: string | null;
  payload: Record<string, unknown>;
  result: Record<string, unknown> | null;
  processedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

function toRecord(r: any): DeliveryRecord {
  return {
    id: r.id,
    provider: r.provider,
    externalId: r.external_id,
    tenantId: r.tenant_id ?? null,
    kind: r.kind ?? null,
    status: r.status,
    attempts: Number(r.attempts),
    duplicates: Number(r.duplicates ?? 0),
    lastError: r.last_error ?? null,
    payload: readJson(r.payload, {}),
    result: readJson(r.result, null),
    processedAt: readTime(r.processed_at),
    createdAt: readTime(r.created_at)!,
    updatedAt: readTime(r.updated_at)!,
  };
}

/**
 * The inbox. Rows are keyed by (provider, external_id) and belong to a tenant only once the tenant is
 * known (an unknown page is recorded with no tenant), so lookups here are by delivery id; listings
 * filter by tenant when asked.
 */
export class WebhookStore {
  constructor(private readonly db: Db) {}

  private q(trx?: Tx) {
    return on(this.db, trx)('webhook_deliveries');
  }

  /** The row of a new delivery. */
  private row(item: NewDelivery, id: string, now: string): Record<string, unknown> {
    return {
      id,
      provider: item.provider,
      external_id: item.externalId,
      tenant_id: item.tenantId,
      kind: item.kind,
      status: item.status,
      attempts: 0,
      duplicates: 0,
      last_error: item.lastError ?? null,
      payload: JSON.stringify(item.payload),
      created_at: now,
      updated_at: now,
    };
  }

  /**
   * Inserts the item unless the provider already delivered it; a repeat bumps `duplicates` on the
   * existing row. Works the same on both engines: insert-or-ignore, then read back whose row it is.
   */
  async record(item: NewDelivery, trx: Tx): Promise<{ id: string; duplicate: boolean }> {
    const id = newId();
    const now = nowIso();
    await this.q(trx).insert(this.row(item, id, now)).onConflict(['provider', 'external_id']).ignore();
    const row = await this.q(trx).where({ provider: item.provider, external_id: item.externalId }).first('id');
    if (row.id === id) return { id, duplicate: false };
    await this.countDuplicate(item.provider, item.externalId, trx);
    return { id: row.id, duplicate: true };
  }

  /**
   * The insert-or-ignore of record() as SQL to compose into one statement, returning the new row's
   * id, kind, status and tenant (no row for a repeat).
   */
  insertSql(item: NewDelivery): SqlPart {
    const { sql, bindings } = this.q().insert(this.row(item, newId(), nowIso())).onConflict(['provider', 'external_id']).ignore().returning(['id', 'kind', 'status', 'tenant_id']).toSQL();
    return { sql, bindings: [...bindings] };
  }

  /** A repeat delivery: counted on the row the first one made. */
  /**
   * PostgreSQL: several deliveries' inserts (insertSql) and the queue's insert of a job for each new,
   * not ignored row (`jobs`, reading the CTE `fresh`: id, kind, the job's serial queue and tenant), as one
   * statement: `with d0 as (insert … on conflict do nothing returning id, kind, status), …, fresh as
   * (…), jobs as (…) select …`. Atomic on its own. Resolves with whether each insert was skipped as a
   * repeat (no row, no job).
   */
  async insertAllWithJobs(inserts: Array<SqlPart & { queue: string | null }>, jobs: SqlPart): Promise<boolean[]> {
    const ctes: string[] = [];
    const bindings: unknown[] = [];
    for (const [i, insert] of inserts.entries()) {
      ctes.push(`d${i} as (${insert.sql})`);
      bindings.push(...insert.bindings);
    }
    const fresh = inserts.map((_, i) => `select id, kind, ?::text as queue, tenant_id as tenant from d${i} where status = 'received'`).join(' union all ');
    bindings.push(...inserts.map((insert) => insert.queue));
    ctes.push(`fresh as (${fresh})`, `jobs as (${jobs.sql})`);
    bindings.push(...jobs.bindings);
    // `jobs` is referenced, so the jobs are added.
    const columns = [...inserts.map((_, i) => `(select id from d${i}) as d${i}`), '(select count(*) from jobs) as jobs'];
    const result = await this.db.knex.raw(`with ${ctes.join(', ')} select ${columns.join(', ')}`, bindings as Knex.RawBinding[]);
    const row = (result as { rows: Array<Record<string, unknown>> }).rows[0]!;
    return inserts.map((_, i) => row[`d${i}`] === null);
  }

  async countDuplicate(provider: string, externalId: string, trx?: Tx): Promise<void> {
    await this.q(trx).where({ provider, external_id: externalId }).update({ duplicates: this.db.knex.raw('duplicates + 1'), updated_at: nowIso() });
  }

  async get(id: string): Promise<DeliveryRecord | undefined> {
    const r = await this.q().where({ id }).first();
    return r ? toRecord(r) : undefined;
  }

  async list(filter: { tenantId?: string; status?: DeliveryStatus; provider?: string; limit?: number }): Promise<DeliveryRecord[]> {
    const q = this.q().orderBy('created_at', 'desc').limit(Math.min(filter.limit ?? 100, 1000));
    if (filter.tenantId) q.where({ tenant_id: filter.tenantId });
    if (filter.status) q.where({ status: filter.status });
    if (filter.provider) q.where({ provider: filter.provider });
    return (await q).map(toRecord);
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.q().select('status').count({ n: '*' }).groupBy('status');
    return Object.fromEntries(rows.map((r: any) => [r.status, Number(r.n)]));
  }

  async saveResult(id: string, result: Record<string, unknown>): Promise<void> {
    await this.q().where({ id }).update({ result: writeJson(result), updated_at: nowIso() });
  }

  async markProcessed(id: string, attempts: number): Promise<void> {
    const now = nowIso();
    await this.q().where({ id }).update({ status: 'processed', attempts, last_error: null, processed_at: now, updated_at: now });
  }

  async markHeld(id: string, attempts: number, reason: string): Promise<void> {
    await this.q().where({ id }).update({ status: 'held', attempts, last_error: reason.slice(0, 2000), updated_at: nowIso() });
  }

  async markFailed(id: string, status: 'failed' | 'dead', attempts: number, error: string): Promise<void> {
    await this.q().where({ id }).update({ status, attempts, last_error: error.slice(0, 2000), updated_at: nowIso() });
  }

  /**
   * Deliveries handled where they arrive (Stripe's): the claim, the effects and finish() share one
   * transaction, so a repeat delivery either waits for the first and then finds the row, or finds it
   * committed already. Its own transaction, never batched with other requests' writes.
   */
  claimingTransaction<T>(fn: (trx: Tx) => Promise<T>): Promise<T> {
    return ownTransaction(this.db, fn);
  }

  /** False when this provider's id was recorded before (a duplicate delivery). */
  async claim(item: Omit<NewDelivery, 'status'>, trx: Tx): Promise<boolean> {
    const now = nowIso();
    try {
      // A savepoint, so a duplicate's unique violation does not poison the outer PostgreSQL transaction.
      await knexOf(trx).transaction(async (sp) => {
        await sp('webhook_deliveries').insert({ ...this.row({ ...item, status: 'received' }, newId(), now), attempts: 1, payload: item.payload });
      });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  async finishClaimed(provider: string, externalId: string, tenantId: string | null, outcome: ClaimedOutcome, note: string | null, trx: Tx): Promise<void> {
    const now = nowIso();
    await this.q(trx).where({ provider, external_id: externalId }).update({ status: outcome, last_error: note, processed_at: now, updated_at: now, tenant_id: tenantId });
  }

  async requeue(id: string, trx: Tx): Promise<void> {
    await this.q(trx).where({ id }).update({ status: 'received', last_error: null, processed_at: null, updated_at: nowIso() });
  }
}
