import type { Logger } from '../../../logger.js';
import type { TurnRunner, ConversationService, TurnResult } from '../../chat/chat.types.js';
import { PermanentJobError } from '../../jobs/jobs.types.js';
import type { TenantService, Tenant } from '../../tenants/tenant-service.js';
import type { DeliveryRecord } from '../../webhooks/webhook-store.js';
import type { HandlerOutcome, WebhookService } from '../../webhooks/webhook-service.js';
import { parseInput } from '../../../validation.js';
import { GraphError } from './graph-client.js';
import { LIMITS, type GraphSends } from './meta-sender.js';
import type { ChannelSender } from '../channel.types.js';
import { metaCommentItemSchema, metaMessageItemSchema, type MetaCommentItem } from './meta.schemas.js';
import { savedTurn, type SavedTurn } from '../saved-turn.js';
import { truncateText } from '../split-text.js';

const PRIVATE_REPLY_WINDOW_MS = 7 * 24 * 3_600_000;
const DEFAULT_PUBLIC_REPLY = "Thanks for your comment! We've sent you a private message.";

export interface MetaWorkerDeps {
  tenants: TenantService;
  inbox: WebhookService;
  chat: TurnRunner;
  conversations: ConversationService;
  sends: GraphSends;
  senders: { messenger: ChannelSender; instagram: ChannelSender };
  logger: Logger;
}

/**
 * Processes Meta inbox items in the worker: one turn of the chat engine, then the reply through the
 * Graph API. The turn's reply is saved on the delivery before anything is sent, so a retry (after a
 * Graph error or a crash) sends the same reply instead of asking the engine again; every send is keyed
 * on the delivery, so a retry never repeats a send that went out.
 */
export class MetaWorker {
  constructor(private readonly deps: MetaWorkerDeps) {}

  /** A direct message (Messenger, Instagram): a turn, then the reply. */
  handleMessage(delivery: DeliveryRecord): Promise<HandlerOutcome> {
    return this.permanentOnRefusal(() => this.message(delivery));
  }

  /** A comment on a post: a turn, then a public or private reply. */
  handleComment(delivery: DeliveryRecord): Promise<HandlerOutcome> {
    return this.permanentOnRefusal(() => this.comment(delivery));
  }

  /** A permanent Graph refusal parks the job with Meta's reason instead of retrying it for hours. */
  private async permanentOnRefusal(fn: () => Promise<HandlerOutcome>): Promise<HandlerOutcome> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GraphError && !err.transient) throw new PermanentJobError(err.message);
      throw err;
    }
  }

  private async tenantOf(delivery: DeliveryRecord): Promise<Tenant> {
    const tenant = delivery.tenantId ? await this.deps.tenants.getById(delivery.tenantId).catch(() => undefined) : undefined;
    if (!tenant) throw new PermanentJobError('the tenant of this delivery no longer exists');
    return tenant;
  }

  /** The engine's turn, run once per delivery; a retry reuses the saved reply. */
  private turn(delivery: DeliveryRecord, run: () => Promise<TurnResult>): Promise<SavedTurn | null> {
    return savedTurn(this.deps.inbox, this.deps.logger, delivery, run);
  }

  private async message(delivery: DeliveryRecord): Promise<HandlerOutcome> {
    const item = parseInput(metaMessageItemSchema, delivery.payload, 'delivery');
    const tenant = await this.tenantOf(delivery);
    const turn = await this.turn(delivery, () =>
      this.deps.chat.runTurn({
        tenant,
        channel: item.channel,
        externalUserId: item.senderId,
        text: item.text,
        providerMessageId: item.mid,
        ...(item.media.length > 0 ? { media: item.media } : {}),
      }),
    );
    if (!turn?.reply) return {};
    const conversation = await this.deps.conversations.find(tenant.id, item.channel, item.senderId);
    const inboundAt = item.timestamp ? new Date(item.timestamp).toISOString() : delivery.createdAt;
    const lastInboundAt = [conversation?.lastInboundAt, inboundAt].filter((v): v is string => Boolean(v)).sort().pop() ?? null;
    const result = await this.deps.senders[item.channel].send({
      tenant,
      channel: item.channel,
      conversationId: turn.conversationId,
      externalUserId: item.senderId,
      text: turn.reply,
      lastInboundAt,
      ...(turn.replyMessageId ? { messageId: turn.replyMessageId } : {}),
      deliveryId: delivery.id,
      idempotencyKey: `meta:${delivery.externalId}:reply`,
    });
    return { held: result.held ?? [] };
  }

  private async comment(delivery: DeliveryRecord): Promise<HandlerOutcome> {
    const item = parseInput(metaCommentItemSchema, delivery.payload, 'delivery');
    const tenant = await this.tenantOf(delivery);
    const opts = tenant.settings.comments ?? {};
    const keywords = opts.keywords ?? [];
    if (keywords.length > 0 && !keywords.some((k) => item.text.toLowerCase().includes(k.toLowerCase()))) {
      this.deps.logger.debug({ delivery: delivery.id }, 'comment has none of the keywords; not answered');
      return {};
    }
    const turn = await this.turn(delivery, () =>
      this.deps.chat.runTurn({
        tenant,
        channel: item.channel,
        externalUserId: item.fromId,
        text: item.text,
        providerMessageId: item.commentId,
        ...(item.fromName ? { userName: item.fromName } : {}),
      }),
    );
    if (!turn) return {};
    if (!(delivery.result as { turn?: boolean } | null)?.turn) {
      await this.deps.sends.record(tenant, 'comment_received', turn.conversationId, { channel: item.channel, comment_id: item.commentId });
    }
    if (!turn.reply) return {};
    const held: string[] = [];
    const privateOn = opts.private_reply !== false;
    const publicOn = opts.public_reply !== false;
    if (privateOn) held.push(...(await this.privateReply(delivery, tenant, item, turn)));
    if (publicOn) {
      const text = opts.public_reply_text ?? (privateOn ? DEFAULT_PUBLIC_REPLY : turn.reply);
      const outcome = await this.deps.sends.replyToComment(tenant, `meta:${delivery.externalId}:public`, item.channel, item.commentId, truncateText(text, 8000, (s) => s.length), { conversationId: turn.conversationId, deliveryId: delivery.id });
      if (!outcome.done && outcome.skipped === 'held') held.push(outcome.sendId);
      if (outcome.done) await this.deps.sends.record(tenant, 'public_reply_sent', turn.conversationId, { channel: item.channel, comment_id: item.commentId });
    }
    return { held };
  }

  /** One private reply per comment (Meta allows exactly one, within 7 days), with the full answer. */
  private async privateReply(delivery: DeliveryRecord, tenant: Tenant, item: MetaCommentItem, turn: SavedTurn): Promise<string[]> {
    const created = item.createdTime ? item.createdTime * 1000 : Date.parse(delivery.createdAt);
    if (Date.now() - created > PRIVATE_REPLY_WINDOW_MS) {
      await this.deps.sends.notSent(tenant, turn.conversationId, { channel: item.channel, reason: 'private_reply_window_closed', comment_id: item.commentId });
      return [];
    }
    const { limit, measure } = item.channel === 'fb_comment' ? LIMITS.messenger : LIMITS.instagram;
    const outcome = await this.deps.sends.sendMessage(tenant, `meta:${delivery.externalId}:private`, item.channel, {
      recipient: { comment_id: item.commentId },
      message: { text: truncateText(turn.reply!, limit, measure) },
    }, { conversationId: turn.conversationId, deliveryId: delivery.id });
    if (outcome.done) await this.deps.sends.record(tenant, 'private_reply_sent', turn.conversationId, { channel: item.channel, comment_id: item.commentId });
    return !outcome.done && outcome.skipped === 'held' ? [outcome.sendId] : [];
  }
}
