import type { Logger } from '../../logger.js';
import type { ConversationService, DeliveryUpdate } from '../chat/chat.types.js';
import type { EventService } from '../events/event-service.js';
import type { Tenant } from '../tenants/tenant-service.js';
import type { ChannelSender, OutboundMessage, SendResult } from './channel.types.js';
import type { SendContext } from './outbound-store.js';
import type { SendOutcome } from './outbound-sends.js';

/** Meta and WhatsApp accept free-form messages for 24 hours after the user's last message. */
export const REPLY_WINDOW_MS = 24 * 3_600_000;

export function inReplyWindow(lastInboundAt: string | null | undefined, now = Date.now()): boolean {
  const last = lastInboundAt ? Date.parse(lastInboundAt) : NaN;
  return Number.isFinite(last) && now - last <= REPLY_WINDOW_MS;
}

/** How a message goes out on one provider: the requests, and what they mean for the events. */
export interface ReplyPlan<Payload> {
  /** One provider request per part, each sent once under the message's key plus its suffix. */
  parts: Array<{ suffix: string; payload: Payload }>;
  /** What reply_sent records besides the channel. */
  sent: Record<string, unknown>;
  /** Why a message that went out is not the text itself (a template outside the window). */
  reason?: string;
}

type Planned<Payload> = ReplyPlan<Payload> | { notSent: string } | undefined;

/** A channel's provider, as the reply routine needs it. */
export interface ReplyTransport<Payload> {
  readonly channel: 'messenger' | 'instagram' | 'whatsapp';
  /** The delivery status a message has once the provider has taken it, and which statuses it may replace. */
  readonly accepted: Pick<DeliveryUpdate, 'status' | 'replaces'>;
  /** The requests that deliver the message; undefined (outside the window) or notSent when nothing may be sent. */
  plan(msg: OutboundMessage, inWindow: boolean): Planned<Payload> | Promise<Planned<Payload>>;
  /** One request, never sent twice under `key` (OutboundSends). */
  send(tenant: Tenant, key: string, payload: Payload, ctx: SendContext): Promise<SendOutcome>;
  /** A refusal the provider will repeat (not worth retrying), classified; undefined for anything else. */
  refusal(err: unknown): { windowClosed: boolean; reason: string; code: string } | undefined;
}

/**
 * The one sequence of every message into a Messenger, Instagram or WhatsApp conversation: the 24 h
 * window, the parts sent once each, the message's delivery status and the events. A part held for an
 * operator (ZIA_UNCERTAIN_SENDS=hold) keeps the message `held` until it is resent.
 */
export class ReplySender<Payload> implements ChannelSender {
  constructor(
    private readonly transport: ReplyTransport<Payload>,
    private readonly deps: { conversations: ConversationService; events: EventService; logger: Logger },
  ) {}

  async send(msg: OutboundMessage): Promise<SendResult> {
    const { transport } = this;
    const plan = await transport.plan(msg, inReplyWindow(msg.lastInboundAt));
    if (!plan || 'notSent' in plan) {
      const reason = plan?.notSent ?? 'outside_24h_window';
      await this.notSent(msg, reason);
      await this.delivery(msg, { status: 'not_sent', errorCode: reason.split(':')[0]! });
      return { providerMessageId: null, sent: false, reason };
    }
    let providerMessageId: string | null = null;
    const held: string[] = [];
    const ctx = { conversationId: msg.conversationId, messageId: msg.messageId ?? null, deliveryId: msg.deliveryId ?? null };
    try {
      for (const part of plan.parts) {
        const outcome = await transport.send(msg.tenant, `${msg.idempotencyKey}:${part.suffix}`, part.payload, ctx);
        if ('providerMessageId' in outcome) providerMessageId = outcome.providerMessageId ?? providerMessageId;
        else held.push(outcome.sendId);
      }
    } catch (err) {
      const refused = transport.refusal(err);
      if (refused) {
        if (refused.windowClosed) await this.notSent(msg, refused.reason);
        else await this.record(msg, 'reply_failed', { reason: refused.reason, code: refused.code });
        await this.delivery(msg, { status: 'failed', errorCode: refused.code });
      }
      throw err;
    }
    if (held.length > 0) return { providerMessageId, sent: false, reason: 'held', held };
    await this.record(msg, 'reply_sent', plan.sent);
    await this.delivery(msg, { ...transport.accepted, providerMessageId: providerMessageId ?? undefined });
    return { providerMessageId, sent: true, ...(plan.reason ? { reason: plan.reason } : {}) };
  }

  private async notSent(msg: OutboundMessage, reason: string): Promise<void> {
    await this.record(msg, 'reply_not_sent', { reason, key: msg.idempotencyKey });
    this.deps.logger.info({ tenant: msg.tenant.slug, channel: this.transport.channel, reason, key: msg.idempotencyKey }, 'reply not sent');
  }

  private async record(msg: OutboundMessage, type: 'reply_sent' | 'reply_failed' | 'reply_not_sent', data: Record<string, unknown>): Promise<void> {
    await this.deps.events.record(msg.tenant.id, type, { conversationId: msg.conversationId, data: { channel: this.transport.channel, message_id: msg.messageId ?? null, ...data } });
  }

  private async delivery(msg: OutboundMessage, update: DeliveryUpdate): Promise<void> {
    if (!msg.messageId) return;
    await this.deps.conversations.updateDelivery(msg.tenant.id, { messageId: msg.messageId }, update);
  }
}
