import type { Db } from '../../db/create-db.js';
import { readTime } from '../../db/dialect.js';
import { conversationFromRow } from './conversation-store.js';
import type { Channel, ConversationRecord, MessageRole } from './chat.types.js';

export interface MessageView {
  id: string;
  role: MessageRole;
  text: string;
  channel: Channel;
  deliveryStatus: string | null;
  errorCode: string | null;
  createdAt: string;
}

function conversation(r: any): ConversationRecord {
  const { leadState: _internal, ...record } = conversationFromRow(r);
  return record;
}

function message(r: any): MessageView {
  return {
    id: r.id,
    role: r.role,
    text: r.text,
    channel: r.channel,
    deliveryStatus: r.delivery_status ?? null,
    errorCode: r.error_code ?? null,
    createdAt: readTime(r.created_at)!,
  };
}

/**
 * Operator reads over conversations and messages (the chat engine's own store serves the chat path).
 * Listing is newest first by id: ids are ULIDs, so the keyset on id is creation order and stable
 * while new conversations arrive. A tenant id of undefined lists every tenant (ADMIN_KEY only).
 */
export class ConversationReadModel {
  constructor(private readonly db: Db) {}

  /** Newest first; `waiting`: customers waiting for a person, longest waiting first. */
  async list(tenantId: string | undefined, filter: { channel?: Channel; paused?: boolean; waiting?: boolean; limit: number; before?: string }): Promise<ConversationRecord[]> {
    const q = this.db.knex('conversations').limit(filter.limit);
    if (filter.waiting) q.whereNotNull('handoff_requested_at').orderBy([{ column: 'handoff_requested_at' }, { column: 'id' }]);
    else q.orderBy('id', 'desc');
    if (tenantId) q.where({ tenant_id: tenantId });
    if (filter.channel) q.where({ channel: filter.channel });
    if (filter.paused !== undefined) q.where({ bot_paused: filter.paused });
    if (filter.before) q.where('id', '<', filter.before);
    return (await q).map(conversation);
  }

  /** Which tenant owns a conversation: ADMIN_KEY routes name a conversation by id alone. */
  async tenantIdOf(conversationId: string): Promise<string | undefined> {
    const r = await this.db.knex('conversations').where({ id: conversationId }).first('tenant_id');
    return r?.tenant_id;
  }

  /** The last `limit` messages of a conversation, oldest first. */
  async messages(tenantId: string, conversationId: string, limit: number): Promise<MessageView[]> {
    const rows = await this.db
      .knex('messages')
      .where({ tenant_id: tenantId, conversation_id: conversationId })
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
      .limit(limit);
    return rows.map(message).reverse();
  }

  /** A conversation's operator messages after a message id (the web widget's poll). */
  async operatorMessages(tenantId: string, conversationId: string, after: string | undefined): Promise<MessageView[]> {
    const q = this.db.knex('messages').where({ tenant_id: tenantId, conversation_id: conversationId, role: 'operator' }).orderBy('id').limit(50);
    if (after) q.where('id', '>', after);
    return (await q).map(message);
  }

  /** Messages by id, of the given tenants only (undefined: any tenant's, for ADMIN_KEY). */
  async messagesByIds(ids: readonly string[], tenantIds?: readonly string[]): Promise<Array<MessageView & { conversationId: string }>> {
    if (ids.length === 0) return [];
    const q = this.db.knex('messages').whereIn('id', ids);
    if (tenantIds) q.whereIn('tenant_id', tenantIds);
    return (await q).map((r: any) => ({ ...message(r), conversationId: r.conversation_id }));
  }

  async message(tenantId: string, messageId: string): Promise<(MessageView & { conversationId: string }) | undefined> {
    const r = await this.db.knex('messages').where({ tenant_id: tenantId, id: messageId }).first();
    return r ? { ...message(r), conversationId: r.conversation_id } : undefined;
  }
}
