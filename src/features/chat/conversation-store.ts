import type { Knex } from 'knex';
import type { Db, Write } from '../../db/create-db.js';
import { isUniqueViolation, translateDbError } from '../../db/db-errors.js';
import { newId, nowIso, readBool, readJson, readTime, writeJson } from '../../db/dialect.js';
import { withTransaction } from '../../db/transaction.js';
import type { LeadState } from '../leads/lead-flow.js';
import type { Channel, ConversationRecord, DeliveryUpdate, MessageRole } from './chat.types.js';
import { knexOf, on, type Tx } from '../../db/unit-of-work.js';

export interface ConversationRow extends ConversationRecord {
  leadState: LeadState | null;
}

export interface StoredMessage {
  id: string;
  role: MessageRole;
  text: string;
  createdAt: string;
}

/** A conversations row as the app sees it; the handoff read model maps rows the same way. */
export function conversationFromRow(r: any): ConversationRow {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    channel: r.channel,
    externalUserId: r.external_user_id,
    userName: r.user_name ?? null,
    botPaused: readBool(r.bot_paused),
    handoffRequestedAt: readTime(r.handoff_requested_at),
    lastInboundAt: readTime(r.last_inbound_at),
    leadState: readJson<LeadState | null>(r.lead_state, null),
    createdAt: readTime(r.created_at)!,
    updatedAt: readTime(r.updated_at)!,
  };
}

export interface ConversationPatch {
  leadState?: LeadState | null;
  botPaused?: boolean;
  /** null: nobody is waiting for a person any more. */
  handoffRequestedAt?: string | null;
  lastInboundAt?: string;
  userName?: string;
}

export interface NewMessage {
  conversationId: string;
  channel: Channel;
  role: MessageRole;
  text: string;
  providerMessageId?: string;
  deliveryStatus?: string;
  media?: unknown;
}

/** Conversations and their messages. Every method is scoped by tenant id first. */
export class ConversationStore {
  constructor(private readonly db: Db) {}

  /** The methods below take the `trx` this hands out, so a turn's writes commit together. */
  transaction<T>(fn: (trx: Tx) => Promise<T>): Promise<T> {
    return withTransaction(this.db, fn);
  }

  /** Writes prepared elsewhere in this store (the *Write methods), run in order inside `trx`. */
  async runAll(writes: Write[], trx: Tx): Promise<void> {
    for (const w of writes) await w(knexOf(trx));
  }

  async findById(tenantId: string, id: string, trx?: Tx): Promise<ConversationRow | undefined> {
    const r = await on(this.db, trx)('conversations').where({ tenant_id: tenantId, id }).first();
    return r ? conversationFromRow(r) : undefined;
  }

  async findByUser(tenantId: string, channel: Channel, externalUserId: string, trx?: Tx): Promise<ConversationRow | undefined> {
    const r = await on(this.db, trx)('conversations')
      .where({ tenant_id: tenantId, channel, external_user_id: externalUserId })
      .first();
    return r ? conversationFromRow(r) : undefined;
  }

  /**
   * Finds or creates the conversation of a user on a channel. Two processes racing for the same user
   * both end up with the one row the unique index let through. `id`: the caller has just found no
   * conversation for this user and chose the new one's id; the insert is tried without reading first.
   */
  async findOrCreate(
    tenantId: string,
    channel: Channel,
    externalUserId: string,
    userName: string | null,
    trx?: Tx,
    id?: string,
  ): Promise<{ conversation: ConversationRow; created: boolean }> {
    if (id === undefined) {
      const existing = await this.findByUser(tenantId, channel, externalUserId, trx);
      if (existing) return { conversation: existing, created: false };
    }
    const { conversation, write } = this.conversationWrite(tenantId, channel, externalUserId, userName, id ?? newId());
    // ON CONFLICT DO NOTHING rather than catching the violation: on PostgreSQL an error would abort the
    // caller's transaction. The loser of a race waits for the winner's commit, then reads its row.
    let inserted: unknown[];
    try {
      inserted = await write(on(this.db, trx)).returning('id');
    } catch (err) {
      throw translateDbError(err, 'conversation');
    }
    if (inserted.length === 0) {
      const winner = await this.findByUser(tenantId, channel, externalUserId, trx);
      if (winner) return { conversation: winner, created: false };
      throw new Error('conversation insert ignored, yet no conversation found');
    }
    return { conversation, created: true };
  }

  /**
   * The insert of a new conversation (skipped when the user already has one), not yet run, and the
   * row it writes: no column has a database-side value, so the row is not read back.
   */
  conversationWrite(tenantId: string, channel: Channel, externalUserId: string, userName: string | null, id: string): { conversation: ConversationRow; write: Write } {
    const now = nowIso();
    const row = { id, tenant_id: tenantId, channel, external_user_id: externalUserId, user_name: userName, bot_paused: false, created_at: now, updated_at: now };
    return {
      conversation: conversationFromRow({ ...row, lead_state: null, last_inbound_at: null }),
      write: (k) => k('conversations').insert(row).onConflict().ignore(),
    };
  }

  async update(
    tenantId: string,
    id: string,
    patch: ConversationPatch,
    trx?: Tx,
  ): Promise<void> {
    await this.updateWrite(tenantId, id, patch)(on(this.db, trx));
  }

  /** The update of update(), not yet run (for Db.writeAll). */
  updateWrite(tenantId: string, id: string, patch: ConversationPatch): Write {
    const row: Record<string, unknown> = { updated_at: nowIso() };
    if (patch.leadState !== undefined) row.lead_state = writeJson(patch.leadState);
    if (patch.botPaused !== undefined) row.bot_paused = patch.botPaused;
    if (patch.handoffRequestedAt !== undefined) row.handoff_requested_at = patch.handoffRequestedAt;
    if (patch.lastInboundAt !== undefined) row.last_inbound_at = patch.lastInboundAt;
    if (patch.userName !== undefined) row.user_name = patch.userName;
    return (k) => k('conversations').where({ tenant_id: tenantId, id }).update(row);
  }

  /** Writes that need nothing from one another, committed together (see Db.writeAll). */
  writeAll(writes: Write[]): Promise<void> {
    return this.db.writeAll(writes);
  }

  /** The insert of a new message, not yet run, and the id it gives the message. */
  messageWrite(tenantId: string, m: NewMessage): { id: string; write: Write } {
    const id = newId();
    const now = nowIso();
    const row = {
      id,
      tenant_id: tenantId,
      conversation_id: m.conversationId,
      channel: m.channel,
      role: m.role,
      text: m.text,
      provider_message_id: m.providerMessageId ?? null,
      delivery_status: m.deliveryStatus ?? null,
      media: writeJson(m.media),
      created_at: now,
      updated_at: now,
    };
    return { id, write: (k) => k('messages').insert(row) };
  }

  /** Inserts a message; a repeated provider message id (per tenant and channel) reports a duplicate. */
  async insertMessage(
    tenantId: string,
    m: NewMessage,
    trx?: Tx,
  ): Promise<{ id: string; duplicate: boolean }> {
    const { id, write } = this.messageWrite(tenantId, m);
    const insert = write(on(this.db, trx));
    try {
      // Only a provider message id can collide (the id is new): a repeat is skipped, not raised, so that
      // on PostgreSQL it does not abort the caller's transaction.
      if (m.providerMessageId) {
        const inserted: unknown[] = await insert.onConflict().ignore().returning('id');
        if (inserted.length === 0) return { id: '', duplicate: true };
      } else {
        await insert;
      }
    } catch (err) {
      if (m.providerMessageId && isUniqueViolation(err)) return { id: '', duplicate: true };
      throw translateDbError(err, 'message');
    }
    return { id, duplicate: false };
  }

  /** The last `limit` messages, oldest first. ULIDs break ties between messages of the same millisecond. */
  async recentMessages(tenantId: string, conversationId: string, limit: number): Promise<StoredMessage[]> {
    const rows = await this.db
      .knex('messages')
      .where({ tenant_id: tenantId, conversation_id: conversationId })
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(limit)
      .select('id', 'role', 'text', 'created_at');
    return rows.reverse().map((r: any) => ({ id: r.id, role: r.role, text: r.text, createdAt: readTime(r.created_at)! }));
  }

  /**
   * An inbound message already stored under this provider id, and the assistant's reply that followed
   * it, if one was stored: what a retried turn needs to deliver the reply instead of losing it.
   */
  async inboundWithReply(
    tenantId: string,
    channel: Channel,
    providerMessageId: string,
  ): Promise<{ userMessageId: string; reply: { id: string; text: string } | null } | undefined> {
    const k = this.db.knex;
    const user = await k('messages').where({ tenant_id: tenantId, channel, provider_message_id: providerMessageId }).first('id', 'conversation_id', 'created_at');
    if (!user) return undefined;
    const reply = await k('messages')
      .where({ tenant_id: tenantId, conversation_id: user.conversation_id, role: 'assistant' })
      .andWhere((q) => q.where('created_at', '>', user.created_at).orWhere((w) => w.where('created_at', user.created_at).andWhere('id', '>', user.id)))
      .orderBy([{ column: 'created_at' }, { column: 'id' }])
      .first('id', 'text');
    return { userMessageId: user.id, reply: reply ? { id: reply.id, text: reply.text } : null };
  }

  async countUserMessages(tenantId: string, conversationId: string): Promise<number> {
    const r = await this.db
      .knex('messages')
      .where({ tenant_id: tenantId, conversation_id: conversationId, role: 'user' })
      .count({ n: '*' })
      .first();
    return Number((r as { n?: unknown } | undefined)?.n ?? 0);
  }

  async updateDelivery(
    tenantId: string,
    ref: { messageId?: string; providerMessageId?: string },
    update: DeliveryUpdate,
  ): Promise<number> {
    const q = this.db.knex('messages').where({ tenant_id: tenantId });
    if (ref.messageId) q.andWhere({ id: ref.messageId });
    else if (ref.providerMessageId) q.andWhere({ provider_message_id: ref.providerMessageId });
    else return 0;
    if (update.replaces) {
      const statuses = update.replaces.filter((s): s is string => s !== null);
      const orNull = update.replaces.includes(null);
      q.andWhere((w) => {
        w.whereIn('delivery_status', statuses);
        if (orNull) w.orWhereNull('delivery_status');
      });
    }
    const row: Record<string, unknown> = { delivery_status: update.status, updated_at: nowIso() };
    if (update.providerMessageId !== undefined) row.provider_message_id = update.providerMessageId;
    if (update.errorCode !== undefined) row.error_code = update.errorCode;
    try {
      return await q.update(row);
    } catch (err) {
      throw translateDbError(err, 'message');
    }
  }
}
