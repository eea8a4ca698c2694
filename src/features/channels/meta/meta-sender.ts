import type { Logger } from '../../../logger.js';
import type { EventService } from '../../events/event-service.js';
import type { TenantService, Tenant } from '../../tenants/tenant-service.js';
import type { ConversationService } from '../../chat/chat.types.js';
import { PermanentJobError } from '../../jobs/jobs.types.js';
import type { ChannelSender, OutboundMessage, SendResult } from '../channel.types.js';
import type { SendContext } from '../outbound-store.js';
import type { OutboundSends, SendOutcome } from '../outbound-sends.js';
import { GraphError, type GraphClient, type SendApiBody } from './graph-client.js';
import { charCount, splitText, utf8Bytes } from '../split-text.js';

/** What a Graph send needs to be made again (never the token: it is read from the tenant when sent). */
type GraphRequest =
  | { provider: 'graph'; op: 'message'; body: SendApiBody }
  | { provider: 'graph'; op: 'comment_reply'; platform: 'facebook' | 'instagram'; commentId: string; text: string };

export const WINDOW_MS = 24 * 3_600_000;
export const LIMITS = {
  messenger: { limit: 2000, measure: charCount },
  instagram: { limit: 1000, measure: utf8Bytes },
} as const;

/**
 * Meta's side of every send: the page token, the 24 h window, the once-only record in outbound_sends,
 * and the events. Used for bot replies by the worker and, through ChannelSender, by anyone that sends
 * into a Messenger or Instagram conversation (payments, operators).
 */
export class MetaSends {
  constructor(
    private readonly tenants: TenantService,
    private readonly graph: GraphClient,
    private readonly outbound: OutboundSends,
    private readonly events: EventService,
    private readonly logger: Logger,
  ) {
    outbound.register('graph', {
      send: (tenant, request) => {
        const r = request as GraphRequest;
        const token = this.token(tenant);
        return r.op === 'message' ? this.graph.sendMessage(token, r.body) : this.graph.replyToComment(token, r.platform, r.commentId, r.text);
      },
      ambiguous: (err) => err instanceof GraphError && err.ambiguous,
      acceptedStatus: 'sent',
    });
  }

  token(tenant: Tenant): string {
    const token = this.tenants.secrets(tenant).fb_page_token;
    if (!token) throw new PermanentJobError(`tenant '${tenant.slug}' has no fb_page_token: set it with zia tenant update`);
    return token;
  }

  sendMessage(tenant: Tenant, key: string, channel: string, body: SendApiBody, ctx: SendContext): Promise<SendOutcome> {
    this.token(tenant);
    return this.outbound.once(tenant, key, channel, { provider: 'graph', op: 'message', body } satisfies GraphRequest, ctx);
  }

  /** A public reply is never re-sent automatically: a duplicate would be public. It is held instead. */
  replyToComment(tenant: Tenant, key: string, channel: 'fb_comment' | 'ig_comment', commentId: string, text: string, ctx: SendContext): Promise<SendOutcome> {
    this.token(tenant);
    const request: GraphRequest = { provider: 'graph', op: 'comment_reply', platform: channel === 'fb_comment' ? 'facebook' : 'instagram', commentId, text };
    return this.outbound.once(tenant, key, channel, request, ctx, { resendable: false });
  }

  async notSent(tenant: Tenant, conversationId: string | null, data: Record<string, unknown>): Promise<void> {
    await this.events.record(tenant.id, 'reply_not_sent', { conversationId, data });
    this.logger.info({ tenant: tenant.slug, ...data }, 'reply not sent');
  }

  async record(tenant: Tenant, type: 'reply_sent' | 'reply_failed' | 'public_reply_sent' | 'private_reply_sent' | 'comment_received', conversationId: string | null, data: Record<string, unknown>) {
    await this.events.record(tenant.id, type, { conversationId, data });
  }
}

/** Direct messages on Messenger or Instagram, split to the channel's limit, only inside the 24 h window. */
export class MetaDmSender implements ChannelSender {
  constructor(
    private readonly channel: 'messenger' | 'instagram',
    private readonly sends: MetaSends,
    private readonly conversations: ConversationService,
  ) {}

  async send(msg: OutboundMessage): Promise<SendResult> {
    const last = msg.lastInboundAt ? Date.parse(msg.lastInboundAt) : NaN;
    if (!Number.isFinite(last) || Date.now() - last > WINDOW_MS) {
      const reason = 'outside_24h_window';
      await this.sends.notSent(msg.tenant, msg.conversationId, { channel: this.channel, reason, key: msg.idempotencyKey });
      await this.delivery(msg, { status: 'not_sent', errorCode: reason });
      return { providerMessageId: null, sent: false, reason };
    }
    const { limit, measure } = LIMITS[this.channel];
    const parts = splitText(msg.text, limit, measure);
    let providerMessageId: string | null = null;
    const held: string[] = [];
    const ctx = { conversationId: msg.conversationId, messageId: msg.messageId ?? null, deliveryId: msg.deliveryId ?? null };
    try {
      for (const [i, text] of parts.entries()) {
        const outcome = await this.sends.sendMessage(msg.tenant, `${msg.idempotencyKey}:${i}`, this.channel, {
          recipient: { id: msg.externalUserId },
          messaging_type: 'RESPONSE',
          message: { text },
        }, ctx);
        if ('providerMessageId' in outcome) providerMessageId = outcome.providerMessageId ?? providerMessageId;
        else held.push(outcome.sendId);
      }
    } catch (err) {
      if (err instanceof GraphError && !err.transient) {
        const windowClosed = err.info.code === 10;
        if (windowClosed) await this.sends.notSent(msg.tenant, msg.conversationId, { channel: this.channel, reason: err.reason, key: msg.idempotencyKey });
        else await this.sends.record(msg.tenant, 'reply_failed', msg.conversationId, { channel: this.channel, reason: err.reason });
        await this.delivery(msg, { status: 'failed', errorCode: String(err.info.code ?? 'error') });
      }
      throw err;
    }
    // A part held for an operator keeps the message 'held' (set where it was held) until it is resent.
    if (held.length > 0) return { providerMessageId, sent: false, reason: 'held', held };
    await this.sends.record(msg.tenant, 'reply_sent', msg.conversationId, { channel: this.channel, parts: parts.length });
    await this.delivery(msg, { status: 'sent', providerMessageId: providerMessageId ?? undefined });
    return { providerMessageId, sent: true };
  }

  private async delivery(msg: OutboundMessage, update: { status: string; providerMessageId?: string; errorCode?: string }): Promise<void> {
    if (!msg.messageId) return;
    await this.conversations.updateDelivery(msg.tenant.id, { messageId: msg.messageId }, update);
  }
}
