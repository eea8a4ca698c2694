import type { Db } from '../../db/create-db.js';
import { newId, nowIso, readJson, readTime, writeJson } from '../../db/dialect.js';

/**
 * pending   written before the provider is called (a crash leaves it here: in flight, fate unknown)
 * sent      the provider accepted it
 * failed    the provider refused it or could not be reached: nothing went out, a retry may send it
 * uncertain the provider did not answer (timeout): it may have gone out; decided on the next attempt
 * held      in doubt and not sent again: kept for an operator (`zia conversations resend`)
 */
export const SEND_STATUSES = ['pending', 'sent', 'failed', 'uncertain', 'held'] as const;
export type SendStatus = (typeof SEND_STATUSES)[number];

/** A provider request without credentials: enough to send it again later. */
export type SendRequest = { provider: string } & Record<string, unknown>;

/** Where a send belongs, so an operator can find it from the conversation or the inbox delivery. */
export interface SendContext {
  conversationId?: string | null;
  messageId?: string | null;
  deliveryId?: string | null;
}

export interface SendRecord {
  id: string;
  tenantId: string;
  key: string;
  channel: string;
  status: SendStatus;
  providerMessageId: string | null;
  lastError: string | null;
  request: SendRequest | null;
  conversationId: string | null;
  messageId: string | null;
  deliveryId: string | null;
  resends: number;
  createdAt: string;
  updatedAt: string;
}

function toRecord(r: any): SendRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    key: r.idempotency_key,
    channel: r.channel,
    status: r.status,
    providerMessageId: r.provider_message_id ?? null,
    lastError: r.last_error ?? null,
    request: readJson(r.request, null),
    conversationId: r.conversation_id ?? null,
    messageId: r.message_id ?? null,
    deliveryId: r.delivery_id ?? null,
    resends: Number(r.resends ?? 0),
    createdAt: readTime(r.created_at)!,
    updatedAt: readTime(r.updated_at)!,
  };
}

/** The sends an operator must see: in doubt now, or re-sent after a doubt (a duplicate is possible). */
const IN_DOUBT = ['uncertain', 'held'];

/** outbound_sends: one row per provider send under a deterministic key. Status changes are conditional, so two processes never both take a row. */
export class OutboundStore {
  constructor(private readonly db: Db) {}

  private q() {
    return this.db.knex('outbound_sends');
  }

  /** Records the send as pending unless the key exists; answers the row and whether it is new. */
  async begin(tenantId: string, key: string, channel: string, request: SendRequest, ctx: SendContext): Promise<{ row: SendRecord; fresh: boolean }> {
    const now = nowIso();
    const id = newId();
    await this.q()
      .insert({
        id,
        tenant_id: tenantId,
        idempotency_key: key,
        channel,
        status: 'pending',
        request: writeJson(request),
        conversation_id: ctx.conversationId ?? null,
        message_id: ctx.messageId ?? null,
        delivery_id: ctx.deliveryId ?? null,
        created_at: now,
        updated_at: now,
      })
      .onConflict('idempotency_key')
      .ignore();
    const row = await this.q().where({ idempotency_key: key, tenant_id: tenantId }).first();
    if (!row) throw new Error(`outbound send key '${key}' belongs to another tenant`);
    // A row written before requests were stored (or by the crashed attempt) learns them now.
    if (row.id !== id && !row.request) await this.q().where({ id: row.id }).update({ request: writeJson(request), conversation_id: row.conversation_id ?? ctx.conversationId ?? null, message_id: row.message_id ?? ctx.messageId ?? null, delivery_id: row.delivery_id ?? ctx.deliveryId ?? null });
    return { row: toRecord({ ...row, request: row.request ?? writeJson(request) }), fresh: row.id === id };
  }

  /** Moves a row from one of `from` to `to`; false when another attempt changed it first. */
  async transition(tenantId: string, id: string, from: SendStatus[], to: SendStatus, extra: { resend?: boolean; lastError?: string | null; providerMessageId?: string | null } = {}): Promise<boolean> {
    const update: Record<string, unknown> = { status: to, updated_at: nowIso() };
    if (extra.resend) update.resends = this.db.knex.raw('resends + 1');
    if (extra.lastError !== undefined) update.last_error = extra.lastError === null ? null : extra.lastError.slice(0, 2000);
    if (extra.providerMessageId !== undefined) update.provider_message_id = extra.providerMessageId;
    const n = await this.q().where({ tenant_id: tenantId, id }).whereIn('status', from).update(update);
    return n === 1;
  }

  /** A send the provider accepted and reported failed later (a status webhook): failed, so an operator may send it again. */
  async failedLater(tenantId: string, providerMessageId: string, lastError: string): Promise<boolean> {
    const n = await this.q().where({ tenant_id: tenantId, provider_message_id: providerMessageId, status: 'sent' }).update({ status: 'failed', last_error: lastError.slice(0, 2000), updated_at: nowIso() });
    return n > 0;
  }

  async get(tenantId: string, id: string): Promise<SendRecord | undefined> {
    const r = await this.q().where({ tenant_id: tenantId, id }).first();
    return r ? toRecord(r) : undefined;
  }

  /** Which tenant owns a send: the CLI names a send by id alone (it acts with the admin's reach). */
  async tenantIdOf(id: string): Promise<string | undefined> {
    const r = await this.q().where({ id }).first('tenant_id');
    return r?.tenant_id;
  }

  /** Sends still in doubt for a message or a delivery (other than `except`). */
  async openDoubts(tenantId: string, ref: { messageId?: string; deliveryId?: string }, except: string): Promise<number> {
    const q = this.q().where({ tenant_id: tenantId }).whereIn('status', IN_DOUBT).whereNot({ id: except });
    if (ref.messageId) q.where({ message_id: ref.messageId });
    if (ref.deliveryId) q.where({ delivery_id: ref.deliveryId });
    const [row] = await q.count({ n: '*' });
    return Number((row as { n: number | string }).n);
  }

  /**
   * Sends in doubt (uncertain, held) and those re-sent after a doubt, newest first: for one conversation,
   * one tenant, or every tenant (tenantId undefined: ADMIN_KEY only).
   */
  async inDoubt(tenantId: string | undefined, filter: { conversationId?: string; limit: number }): Promise<SendRecord[]> {
    const q = this.q()
      .where((w) => w.whereIn('status', IN_DOUBT).orWhere('resends', '>', 0))
      .orderBy([{ column: 'updated_at', order: 'desc' }, { column: 'id', order: 'desc' }])
      .limit(filter.limit);
    if (tenantId) q.where({ tenant_id: tenantId });
    if (filter.conversationId) q.where({ conversation_id: filter.conversationId });
    return (await q).map(toRecord);
  }
}
