import type { ConversationRecord, ConversationService } from '../chat/chat.types.js';
import type { EventService } from '../events/event-service.js';
import type { Tenant } from '../tenants/tenant-service.js';
import type { ConversationSends } from '../channels/conversation-sends.js';
import type { ConversationReadModel, MessageView } from '../chat/conversation-read-model.js';

export interface ConversationPage {
  conversations: ConversationRecord[];
  nextCursor: string | null;
}

/**
 * Handoff: an operator pauses the bot on one conversation (inbound messages are still stored, the
 * chat engine answers nothing while paused), replies on the conversation's own channel, and resumes.
 * Every method takes the tenant the caller may act for, so another tenant's id is a 404.
 */
export class HandoffService {
  constructor(
    private readonly deps: { store: ConversationReadModel; conversations: ConversationService; sends: ConversationSends; events: EventService },
  ) {}

  async list(tenant: Tenant | undefined, filter: { channel?: ConversationRecord['channel']; paused?: boolean; waiting?: boolean; limit: number; cursor?: string }): Promise<ConversationPage> {
    const rows = await this.deps.store.list(tenant?.id, { channel: filter.channel, paused: filter.paused, waiting: filter.waiting, limit: filter.limit + 1, before: filter.cursor });
    const more = rows.length > filter.limit && !filter.waiting;
    const page = rows.slice(0, filter.limit);
    return { conversations: page, nextCursor: more ? page[page.length - 1]!.id : null };
  }

  /** The tenant a conversation belongs to, for an admin who names only the conversation. */
  tenantIdOf(conversationId: string): Promise<string | undefined> {
    return this.deps.store.tenantIdOf(conversationId);
  }

  /** Operator replies in a conversation after a message id (the widget's poll). */
  operatorMessages(tenant: Tenant, conversationId: string, after: string | undefined): Promise<MessageView[]> {
    return this.deps.store.operatorMessages(tenant.id, conversationId, after);
  }

  async show(tenant: Tenant, conversationId: string, limit: number): Promise<{ conversation: ConversationRecord; messages: MessageView[] }> {
    const conversation = await this.deps.conversations.get(tenant.id, conversationId);
    return { conversation, messages: await this.deps.store.messages(tenant.id, conversationId, limit) };
  }

  /**
   * Pausing a paused conversation changes nothing and records nothing. Resuming hands the conversation
   * back to the bot: a customer still waiting for a person is no longer listed as waiting.
   */
  async setPaused(tenant: Tenant, conversationId: string, paused: boolean, by: string): Promise<ConversationRecord> {
    const before = await this.deps.conversations.get(tenant.id, conversationId);
    if (before.botPaused === paused && (paused || before.handoffRequestedAt === null)) return before;
    const after = await this.deps.conversations.setPaused(tenant.id, conversationId, paused);
    await this.deps.events.record(tenant.id, paused ? 'handoff_paused' : 'handoff_resumed', {
      conversationId,
      data: { channel: after.channel, by },
    });
    return after;
  }

  /** Stores the operator's message and queues its delivery on the conversation's channel. */
  async reply(tenant: Tenant, conversationId: string, text: string, by: string): Promise<{ conversation: ConversationRecord; messageId: string; delivery: 'queued' | 'stored' }> {
    const conversation = await this.deps.conversations.get(tenant.id, conversationId);
    const { id } = await this.deps.sends.appendMessage(tenant.id, conversationId, { role: 'operator', text });
    await this.deps.events.record(tenant.id, 'operator_reply', { conversationId, data: { channel: conversation.channel, message_id: id, by } });
    return { conversation, messageId: id, delivery: this.deps.sends.delivers(conversation.channel) ? 'queued' : 'stored' };
  }
}
