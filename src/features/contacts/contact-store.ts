import type { Knex } from 'knex';
import { leadFromRow, type LeadRecord } from '../leads/lead-store.js';
import { orderFromRow, type OrderRecord } from '../payments/order-store.js';
import type { Db } from '../../db/create-db.js';
import { newId, readBool, readCount, readJson, readTime, writeJson } from '../../db/dialect.js';
import { jsonText } from '../../db/sql.js';
import { withTransaction } from '../../db/transaction.js';
import { on, type Tx } from '../../db/unit-of-work.js';
import { likePatterns } from './personal-data.js';

/**
 * Where a person's data lives, in one place: a person's data is spread over conversations, messages,
 * leads, orders, events, the webhook inbox and outbound sends, and an erasure must change them all in
 * one transaction. A table that comes to hold personal data belongs in this list. Besides, it owns
 * contact_erasures and retention_runs. Every query is scoped by tenant id first.
 */

export interface ContactConversation {
  id: string;
  channel: string;
  externalUserId: string;
  userName: string | null;
  botPaused: boolean;
  lastInboundAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A person's leads and orders are read as their own stores read them. */
export type ContactLead = LeadRecord;
export type ContactOrder = OrderRecord;

export interface ContactMessage {
  id: string;
  conversationId: string;
  channel: string;
  role: string;
  text: string;
  media: unknown;
  deliveryStatus: string | null;
  createdAt: string;
}

export interface ContactEvent {
  id: string;
  type: string;
  conversationId: string | null;
  data: Record<string, unknown>;
  /** The stored JSON as text, for matching. */
  text: string;
  createdAt: string;
}

export interface ContactDelivery {
  id: string;
  provider: string;
  externalId: string;
  kind: string | null;
  status: string;
  payload: string;
  result: string | null;
  lastError: string | null;
  createdAt: string;
}

export interface ContactSend {
  id: string;
  channel: string;
  status: string;
  conversationId: string | null;
  messageId: string | null;
  deliveryId: string | null;
  request: string | null;
  lastError: string | null;
  createdAt: string;
}

export interface ErasureRecord {
  id: string;
  tenantId: string;
  reference: string;
  identifierKind: string;
  identifierHash: string;
  counts: Record<string, { deleted?: number; changed?: number }>;
  createdAt: string;
}

const conversationOf = (r: any): ContactConversation => ({
  id: r.id,
  channel: r.channel,
  externalUserId: r.external_user_id,
  userName: r.user_name ?? null,
  botPaused: readBool(r.bot_paused),
  lastInboundAt: readTime(r.last_inbound_at),
  createdAt: readTime(r.created_at)!,
  updatedAt: readTime(r.updated_at)!,
});


/** `column` mentions one of the LIKE patterns (lower-case both sides: emails differ in case). */
function likeAny(q: Knex.QueryBuilder, column: string | Knex.Raw, patterns: string[]): void {
  q.where((w) => {
    for (const p of patterns) w.orWhereRaw(`lower(?) like ? escape '\\'`, [column, p]);
  });
}

export class ContactStore {
  constructor(private readonly db: Db) {}

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return withTransaction(this.db, fn);
  }

  private k(tx?: Tx): Knex {
    return on(this.db, tx);
  }

  async conversationsByUser(tenantId: string, channels: readonly string[], userIds: readonly string[], tx?: Tx): Promise<ContactConversation[]> {
    if (userIds.length === 0) return [];
    const rows = await this.k(tx)('conversations').where({ tenant_id: tenantId }).whereIn('channel', channels).whereIn('external_user_id', userIds);
    return rows.map(conversationOf);
  }

  async conversationsById(tenantId: string, ids: readonly string[], tx?: Tx): Promise<ContactConversation[]> {
    if (ids.length === 0) return [];
    return (await this.k(tx)('conversations').where({ tenant_id: tenantId }).whereIn('id', ids).orderBy('id')).map(conversationOf);
  }

  /** Leads with one of the emails or WhatsApp numbers, or given in one of the conversations. */
  async leadsOf(tenantId: string, by: { emails: readonly string[]; phones: readonly string[]; conversationIds: readonly string[] }, tx?: Tx): Promise<ContactLead[]> {
    const rows = await this.k(tx)('leads')
      .where({ tenant_id: tenantId })
      .where((w) => w.whereIn('email', by.emails).orWhereIn('whatsapp', by.phones).orWhereIn('conversation_id', by.conversationIds))
      .orderBy('id');
    return rows.map(leadFromRow);
  }

  async ordersOf(tenantId: string, by: { emails: readonly string[]; conversationIds: readonly string[] }, tx?: Tx): Promise<ContactOrder[]> {
    const emails = by.emails.map((e) => e.toLowerCase());
    const rows = await this.k(tx)('orders')
      .where({ tenant_id: tenantId })
      .where((w) => {
        w.whereIn('conversation_id', by.conversationIds);
        if (emails.length > 0) w.orWhereRaw(`lower(customer_email) in (${emails.map(() => '?').join(', ')})`, emails);
      })
      .orderBy('id');
    return rows.map(orderFromRow);
  }

  async messageCounts(tenantId: string, conversationIds: readonly string[]): Promise<Map<string, number>> {
    if (conversationIds.length === 0) return new Map();
    const rows = await this.db.knex('messages').where({ tenant_id: tenantId }).whereIn('conversation_id', conversationIds).groupBy('conversation_id').select('conversation_id').count({ n: '*' });
    return new Map(rows.map((r: any) => [r.conversation_id as string, readCount(r.n)]));
  }

  async messagesOf(tenantId: string, conversationIds: readonly string[], tx?: Tx): Promise<ContactMessage[]> {
    if (conversationIds.length === 0) return [];
    const rows = await this.k(tx)('messages').where({ tenant_id: tenantId }).whereIn('conversation_id', conversationIds).orderBy([{ column: 'created_at' }, { column: 'id' }]);
    return rows.map((r: any) => ({
      id: r.id,
      conversationId: r.conversation_id,
      channel: r.channel,
      role: r.role,
      text: r.text,
      media: readJson(r.media, null),
      deliveryStatus: r.delivery_status ?? null,
      createdAt: readTime(r.created_at)!,
    }));
  }

  /** Events of the conversations, and events whose data may mention a term (candidates: the caller decides). */
  async eventsOf(tenantId: string, conversationIds: readonly string[], terms: readonly string[], tx?: Tx): Promise<ContactEvent[]> {
    const patterns = likePatterns(terms);
    const data = jsonText(this.db, 'data');
    const rows = await this.k(tx)('events')
      .where({ tenant_id: tenantId })
      .where((w) => {
        w.whereIn('conversation_id', conversationIds);
        if (patterns.length > 0) w.orWhere((m) => likeAny(m, data, patterns));
      })
      .orderBy('id');
    return rows.map((r: any) => ({
      id: r.id,
      type: r.type,
      conversationId: r.conversation_id ?? null,
      data: readJson(r.data, {}),
      text: typeof r.data === 'string' ? r.data : JSON.stringify(r.data ?? {}),
      createdAt: readTime(r.created_at)!,
    }));
  }

  /** Inbox deliveries of the tenant that may mention a term (candidates), or are one of `ids`. */
  async deliveriesOf(tenantId: string, terms: readonly string[], ids: readonly string[], tx?: Tx): Promise<ContactDelivery[]> {
    const patterns = likePatterns(terms);
    if (patterns.length === 0 && ids.length === 0) return [];
    const rows = await this.k(tx)('webhook_deliveries')
      .where({ tenant_id: tenantId })
      .where((w) => {
        w.whereIn('id', ids);
        if (patterns.length > 0) for (const column of ['payload', 'result', 'last_error']) w.orWhere((m) => likeAny(m, this.db.knex.raw('??', [column]), patterns));
      })
      .orderBy('id');
    return rows.map((r: any) => ({
      id: r.id,
      provider: r.provider,
      externalId: r.external_id,
      kind: r.kind ?? null,
      status: r.status,
      payload: r.payload,
      result: r.result ?? null,
      lastError: r.last_error ?? null,
      createdAt: readTime(r.created_at)!,
    }));
  }

  /** Outbound sends of the conversations or messages, and those whose request may mention a term (candidates). */
  async sendsOf(tenantId: string, by: { conversationIds: readonly string[]; messageIds: readonly string[]; terms: readonly string[] }, tx?: Tx): Promise<ContactSend[]> {
    const patterns = likePatterns(by.terms);
    const rows = await this.k(tx)('outbound_sends')
      .where({ tenant_id: tenantId })
      .where((w) => {
        w.whereIn('conversation_id', by.conversationIds).orWhereIn('message_id', by.messageIds);
        if (patterns.length > 0) for (const column of ['request', 'last_error']) w.orWhere((m) => likeAny(m, this.db.knex.raw('??', [column]), patterns));
      })
      .orderBy('id');
    return rows.map((r: any) => ({
      id: r.id,
      channel: r.channel,
      status: r.status,
      conversationId: r.conversation_id ?? null,
      messageId: r.message_id ?? null,
      deliveryId: r.delivery_id ?? null,
      request: r.request ?? null,
      lastError: r.last_error ?? null,
      createdAt: readTime(r.created_at)!,
    }));
  }

  async deleteMessages(tenantId: string, conversationIds: readonly string[], tx: Tx): Promise<number> {
    if (conversationIds.length === 0) return 0;
    return this.k(tx)('messages').where({ tenant_id: tenantId }).whereIn('conversation_id', conversationIds).delete();
  }

  async deleteLeads(tenantId: string, ids: readonly string[], tx: Tx): Promise<number> {
    if (ids.length === 0) return 0;
    return this.k(tx)('leads').where({ tenant_id: tenantId }).whereIn('id', ids).delete();
  }

  async deleteWhatsAppContacts(tenantId: string, keys: readonly string[], tx: Tx): Promise<number> {
    if (keys.length === 0) return 0;
    return this.k(tx)('whatsapp_contacts').where({ tenant_id: tenantId }).whereIn('external_user_id', keys).delete();
  }

  /** The conversation stays (events and orders point at it) under a pseudonym, with nothing personal left. */
  async pseudonymiseConversation(tenantId: string, id: string, pseudonym: string, now: string, tx: Tx): Promise<void> {
    await this.k(tx)('conversations').where({ tenant_id: tenantId, id }).update({ external_user_id: pseudonym, user_name: null, lead_state: null, updated_at: now });
  }

  async scrubOrders(tenantId: string, ids: readonly string[], reference: string, now: string, tx: Tx): Promise<number> {
    if (ids.length === 0) return 0;
    return this.k(tx)('orders').where({ tenant_id: tenantId }).whereIn('id', ids).update({ customer_email: reference, updated_at: now });
  }

  async replaceEventData(tenantId: string, id: string, data: unknown, tx: Tx): Promise<void> {
    await this.k(tx)('events').where({ tenant_id: tenantId, id }).update({ data: writeJson(data) });
  }

  /** The row stays, so a provider's retry of the same delivery is still recognised and ignored. */
  async scrubDeliveries(tenantId: string, ids: readonly string[], reference: string, now: string, tx: Tx): Promise<number> {
    if (ids.length === 0) return 0;
    return this.k(tx)('webhook_deliveries').where({ tenant_id: tenantId }).whereIn('id', ids).update({ payload: JSON.stringify({ erased: reference }), result: null, last_error: null, updated_at: now });
  }

  /** The row stays, so a retried job still finds its send done and never sends it twice. */
  async scrubSends(tenantId: string, ids: readonly string[], now: string, tx: Tx): Promise<number> {
    if (ids.length === 0) return 0;
    return this.k(tx)('outbound_sends').where({ tenant_id: tenantId }).whereIn('id', ids).update({ request: null, last_error: null, updated_at: now });
  }

  async recordErasure(e: Omit<ErasureRecord, 'id'>, tx: Tx): Promise<ErasureRecord> {
    const id = newId();
    await this.k(tx)('contact_erasures').insert({
      id,
      tenant_id: e.tenantId,
      reference: e.reference,
      identifier_kind: e.identifierKind,
      identifier_hash: e.identifierHash,
      counts: writeJson(e.counts),
      created_at: e.createdAt,
    });
    return { id, ...e };
  }

  /** Conversations of the tenant silent since before `cutoff`, oldest first. */
  async expiredConversations(tenantId: string, cutoff: string, limit: number): Promise<string[]> {
    const rows = await this.db.knex('conversations').where({ tenant_id: tenantId }).where('updated_at', '<', cutoff).orderBy('updated_at').limit(limit).select('id');
    return rows.map((r: any) => r.id as string);
  }

  async countExpired(tenantId: string, cutoff: string): Promise<number> {
    const [row] = await this.db.knex('conversations').where({ tenant_id: tenantId }).where('updated_at', '<', cutoff).count({ n: '*' });
    return readCount((row as { n: unknown }).n);
  }

  /**
   * Deletes conversations with their messages, outbound sends (the sends hold the messages' text) and
   * WhatsApp contacts.
   * Leads and orders keep their rows (their foreign keys set the conversation to null); events keep
   * theirs, which has no foreign key.
   */
  async deleteConversations(tenantId: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.transaction(async (tx) => {
      const k = this.k(tx);
      await k('outbound_sends').where({ tenant_id: tenantId }).whereIn('conversation_id', ids).delete();
      await k('messages').where({ tenant_id: tenantId }).whereIn('conversation_id', ids).delete();
      // A WhatsApp customer's user id, number and profile name go with their conversation.
      const keys = k('conversations').where({ tenant_id: tenantId, channel: 'whatsapp' }).whereIn('id', ids).select('external_user_id');
      await k('whatsapp_contacts').where({ tenant_id: tenantId }).whereIn('external_user_id', keys).delete();
      return k('conversations').where({ tenant_id: tenantId }).whereIn('id', ids).delete();
    });
  }

  async recordRetentionRun(tenantId: string, ranAt: string, deleted: number): Promise<void> {
    await this.db.knex('retention_runs').insert({ tenant_id: tenantId, ran_at: ranAt, conversations_deleted: deleted }).onConflict('tenant_id').merge();
  }

  async lastRetentionRun(tenantId: string): Promise<{ ranAt: string; deleted: number } | undefined> {
    const r = await this.db.knex('retention_runs').where({ tenant_id: tenantId }).first();
    return r ? { ranAt: readTime(r.ran_at)!, deleted: Number(r.conversations_deleted) } : undefined;
  }
}
