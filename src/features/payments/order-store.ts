import type { Knex } from 'knex';
import type { Db } from '../../db/create-db.js';
import { translateDbError } from '../../db/db-errors.js';
import { newId, nowIso, readCount, readTime } from '../../db/dialect.js';
import { type Tx, on } from '../../db/unit-of-work.js';

export type OrderStatus = 'pending' | 'open' | 'paid' | 'expired' | 'failed';

export interface OrderRecord {
  id: string;
  tenantId: string;
  conversationId: string | null;
  stripeSessionId: string | null;
  stripeSubscriptionId: string | null;
  subscriptionStatus: string | null;
  kind: 'plan' | 'item';
  ref: string;
  name: string | null;
  quantity: number;
  /** Total in minor units (unit price × quantity); for plans, per interval. */
  amount: number;
  currency: string;
  status: OrderStatus;
  customerEmail: string | null;
  url: string | null;
  paidAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewOrder {
  conversationId: string | null;
  kind: 'plan' | 'item';
  ref: string;
  name: string;
  quantity: number;
  amount: number;
  currency: string;
  customerEmail: string | null;
}

export function orderFromRow(r: any): OrderRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    conversationId: r.conversation_id ?? null,
    stripeSessionId: r.stripe_session_id ?? null,
    stripeSubscriptionId: r.stripe_subscription_id ?? null,
    subscriptionStatus: r.subscription_status ?? null,
    kind: r.kind,
    ref: r.ref,
    name: r.name ?? null,
    quantity: Number(r.quantity),
    amount: Number(r.amount),
    currency: r.currency,
    status: r.status,
    customerEmail: r.customer_email ?? null,
    url: r.url ?? null,
    paidAt: readTime(r.paid_at),
    createdAt: readTime(r.created_at)!,
    updatedAt: readTime(r.updated_at)!,
  };
}

/**
 * Orders, one per checkout session. Status changes are conditional updates (`where status …`), so a
 * repeated or late webhook can never move a paid order backwards, and the caller learns whether its
 * update was the one that made the change.
 */
export class OrderStore {
  constructor(private readonly db: Db) {}

  private q(trx?: Tx) {
    return on(this.db, trx)('orders');
  }

  /** Written before Stripe is called ('pending'), so the session's metadata can name the order. */
  async insertPending(tenantId: string, o: NewOrder): Promise<OrderRecord> {
    const now = nowIso();
    const row = {
      id: newId(),
      tenant_id: tenantId,
      conversation_id: o.conversationId,
      kind: o.kind,
      ref: o.ref,
      name: o.name,
      quantity: o.quantity,
      amount: o.amount,
      currency: o.currency,
      status: 'pending',
      customer_email: o.customerEmail,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.q().insert(row);
    } catch (err) {
      throw translateDbError(err, 'order');
    }
    return (await this.get(tenantId, row.id))!;
  }

  async attachSession(tenantId: string, id: string, session: { id: string; url: string }): Promise<void> {
    await this.q().where({ tenant_id: tenantId, id, status: 'pending' }).update({ stripe_session_id: session.id, url: session.url, status: 'open', updated_at: nowIso() });
  }

  async markFailedToCreate(tenantId: string, id: string): Promise<void> {
    await this.q().where({ tenant_id: tenantId, id, status: 'pending' }).update({ status: 'failed', updated_at: nowIso() });
  }

  async get(tenantId: string, id: string, trx?: Tx): Promise<OrderRecord | undefined> {
    const r = await this.q(trx).where({ tenant_id: tenantId, id }).first();
    return r ? orderFromRow(r) : undefined;
  }

  async findBySession(tenantId: string, sessionId: string, trx?: Tx): Promise<OrderRecord | undefined> {
    const r = await this.q(trx).where({ tenant_id: tenantId, stripe_session_id: sessionId }).first();
    return r ? orderFromRow(r) : undefined;
  }

  async findBySubscription(tenantId: string, subscriptionId: string, trx?: Tx): Promise<OrderRecord | undefined> {
    const r = await this.q(trx).where({ tenant_id: tenantId, stripe_subscription_id: subscriptionId }).orderBy('created_at').first();
    return r ? orderFromRow(r) : undefined;
  }

  async list(tenantId: string, limit = 50): Promise<OrderRecord[]> {
    const rows = await this.q().where({ tenant_id: tenantId }).orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit);
    return rows.map(orderFromRow);
  }

  /** Paid is terminal: true only for the one update that made the order paid. */
  async markPaid(
    tenantId: string,
    id: string,
    patch: { sessionId?: string | null; subscriptionId?: string | null; customerEmail?: string | null },
    trx: Tx,
  ): Promise<boolean> {
    const row: Record<string, unknown> = { status: 'paid', paid_at: nowIso(), updated_at: nowIso() };
    if (patch.subscriptionId) row.stripe_subscription_id = patch.subscriptionId;
    if (patch.customerEmail) row.customer_email = patch.customerEmail;
    const n = await this.q(trx).where({ tenant_id: tenantId, id }).whereNot({ status: 'paid' }).update(row);
    return readCount(n) > 0;
  }

  /** Facts learned before payment (an async method still pending): never changes the status. */
  async noteSession(tenantId: string, id: string, patch: { subscriptionId?: string | null; customerEmail?: string | null }, trx: Tx): Promise<void> {
    const row: Record<string, unknown> = { updated_at: nowIso() };
    if (patch.subscriptionId) row.stripe_subscription_id = patch.subscriptionId;
    if (patch.customerEmail) row.customer_email = patch.customerEmail;
    await this.q(trx).where({ tenant_id: tenantId, id }).update(row);
  }

  /** open → expired / failed; a paid order stays paid whatever arrives after. */
  async closeUnpaid(tenantId: string, id: string, status: 'expired' | 'failed', trx: Tx): Promise<boolean> {
    const n = await this.q(trx).where({ tenant_id: tenantId, id }).whereIn('status', ['open', 'pending']).update({ status, updated_at: nowIso() });
    return readCount(n) > 0;
  }

  /** Applies a subscription status unless a newer event (by Stripe's `created`) already did; deleted is final. */
  async setSubscriptionStatus(tenantId: string, id: string, status: string, eventCreated: number, trx: Tx): Promise<boolean> {
    const n = await this.q(trx)
      .where({ tenant_id: tenantId, id })
      .andWhere((w) => w.whereNull('subscription_event_at').orWhere('subscription_event_at', '<=', eventCreated))
      .andWhere((w) => w.whereNull('subscription_status').orWhereNot('subscription_status', 'canceled'))
      .update({ subscription_status: status, subscription_event_at: eventCreated, updated_at: nowIso() });
    return readCount(n) > 0;
  }

  /** Whether a conversation exists and belongs to the tenant (checkout may name one). */
}
