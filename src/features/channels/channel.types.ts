import type { Tenant } from '../tenants/tenant-service.js';
import type { Channel } from '../chat/chat.types.js';

/**
 * Sending a message on a conversation's own channel: used by the workers for bot replies, by payments
 * for the thank-you, and by operators for handoff replies. Each channel registers one sender.
 */
export interface OutboundMessage {
  tenant: Tenant;
  channel: Channel;
  conversationId: string;
  externalUserId: string;
  text: string;
  /** When the user last wrote: outside the channel's window no free-form message is sent. */
  lastInboundAt: string | null;
  /** The stored message this send delivers, so its delivery status can be recorded. */
  messageId?: string;
  /** The inbox delivery this send answers, so an operator finds a send in doubt from the webhook log. */
  deliveryId?: string;
  /** Deterministic key: the same key is never sent twice (recorded in outbound_sends). */
  idempotencyKey: string;
  /** The checkout link in the text, where a channel can show it as a button. */
  checkoutUrl?: string;
  /** Answers the customer can tap, where a channel has reply buttons; a tap comes back as its id. */
  quickReplies?: Array<{ id: string; title: string }>;
}

export interface SendResult {
  providerMessageId: string | null;
  /** False when the send was refused without contacting the provider (e.g. outside the 24 h window). */
  sent: boolean;
  reason?: string;
  /** Sends in doubt kept for an operator (ZIA_UNCERTAIN_SENDS=hold): the message did not (fully) go out. */
  held?: string[];
}

export interface ChannelSender {
  send(message: OutboundMessage): Promise<SendResult>;
}

export type ChannelSenders = Partial<Record<Channel, ChannelSender>>;
