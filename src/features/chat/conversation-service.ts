import { ConflictError, NotFoundError } from '../../errors.js';
import type { Channel, ConversationRecord, ConversationService, DeliveryUpdate, MessageRole } from './chat.types.js';
import type { ConversationRow, ConversationStore } from './conversation-store.js';
import { type Tx } from '../../db/unit-of-work.js';

function toRecord(c: ConversationRow): ConversationRecord {
  const { leadState: _leadState, ...rest } = c;
  return rest;
}

/** Conversations for the world outside the chat engine: workers, payments, operator tools. */
export class DefaultConversationService implements ConversationService {
  constructor(private readonly store: ConversationStore) {}

  async get(tenantId: string, conversationId: string, trx?: Tx): Promise<ConversationRecord> {
    const c = await this.store.findById(tenantId, conversationId, trx);
    if (!c) throw new NotFoundError('conversation not found');
    return toRecord(c);
  }

  async find(tenantId: string, channel: Channel, externalUserId: string): Promise<ConversationRecord | undefined> {
    const c = await this.store.findByUser(tenantId, channel, externalUserId);
    return c ? toRecord(c) : undefined;
  }

  async appendMessage(
    tenantId: string,
    conversationId: string,
    message: { role: MessageRole; text: string; providerMessageId?: string; deliveryStatus?: string },
    trx?: Tx,
  ): Promise<{ id: string }> {
    const c = await this.get(tenantId, conversationId, trx);
    const { id, duplicate } = await this.store.insertMessage(tenantId, { conversationId, channel: c.channel, ...message }, trx);
    if (duplicate) throw new ConflictError('a message with that provider id already exists');
    // An operator's message answers a customer who asked for a person.
    await this.store.update(tenantId, conversationId, message.role === 'operator' ? { handoffRequestedAt: null } : {}, trx);
    return { id };
  }

  async updateDelivery(
    tenantId: string,
    ref: { messageId?: string; providerMessageId?: string },
    update: DeliveryUpdate,
  ): Promise<void> {
    await this.store.updateDelivery(tenantId, ref, update);
  }

  async setPaused(tenantId: string, conversationId: string, paused: boolean): Promise<ConversationRecord> {
    await this.get(tenantId, conversationId);
    // Handing a conversation back to the bot ends the customer's wait for a person.
    await this.store.update(tenantId, conversationId, paused ? { botPaused: true } : { botPaused: false, handoffRequestedAt: null });
    return this.get(tenantId, conversationId);
  }
}
