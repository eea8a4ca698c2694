import type { Logger } from '../../../logger.js';
import { parseInput } from '../../../validation.js';
import type { TurnRunner, ConversationService, MediaRef } from '../../chat/chat.types.js';
import { PermanentJobError } from '../../jobs/jobs.types.js';
import type { Tenant, TenantService } from '../../tenants/tenant-service.js';
import type { DeliveryRecord } from '../../webhooks/webhook-store.js';
import type { HandlerOutcome, WebhookService } from '../../webhooks/webhook-service.js';
import type { ChannelSender } from '../channel.types.js';
import { savedTurn } from '../saved-turn.js';
import { TwilioError } from './twilio-client.js';
import { whatsappItemSchema } from './whatsapp.schemas.js';

export const WHATSAPP_KIND = 'whatsapp.message';
export const MEDIA_NOTICE = "I can read text messages only: I can't open images, voice notes, videos or files here, so please describe it in text.";

export interface WhatsAppWorkerDeps {
  tenants: TenantService;
  inbox: WebhookService;
  chat: TurnRunner;
  conversations: ConversationService;
  sender: ChannelSender;
  logger: Logger;
}

/**
 * Processes inbound WhatsApp messages in the worker: one turn of the chat engine (saved on the
 * delivery, so a retry never asks twice), then the reply through Twilio, keyed on the MessageSid so a
 * retry never sends twice.
 */
export class WhatsAppWorker {
  constructor(private readonly deps: WhatsAppWorkerDeps) {}

  /** A WhatsApp message: a turn, then the reply through Twilio. */
  async handleMessage(delivery: DeliveryRecord): Promise<HandlerOutcome> {
    try {
      return await this.message(delivery);
    } catch (err) {
      // A permanent refusal (bad number, opted out, bad credentials) parks the job with Twilio's reason.
      if (err instanceof TwilioError && !err.transient) throw new PermanentJobError(err.message);
      throw err;
    }
  }

  private async tenantOf(delivery: DeliveryRecord): Promise<Tenant> {
    const tenant = delivery.tenantId ? await this.deps.tenants.getById(delivery.tenantId).catch(() => undefined) : undefined;
    if (!tenant) throw new PermanentJobError('the tenant of this delivery no longer exists');
    return tenant;
  }

  private async message(delivery: DeliveryRecord): Promise<HandlerOutcome> {
    const item = parseInput(whatsappItemSchema, delivery.payload, 'delivery');
    const tenant = await this.tenantOf(delivery);
    const mediaOnly = item.text === '' && item.media.length > 0;
    const turn = await savedTurn(this.deps.inbox, this.deps.logger, delivery, () =>
      this.deps.chat.runTurn({
        tenant,
        channel: 'whatsapp',
        externalUserId: item.from,
        // The model cannot see attachments; it is told what arrived, so the transcript says so too.
        text: mediaOnly ? `(sent ${describe(item.media)} without text)` : item.text,
        providerMessageId: item.messageSid,
        ...(item.profileName ? { userName: item.profileName } : {}),
        ...(item.media.length > 0 ? { media: item.media } : {}),
      }),
    );
    if (!turn?.reply) return {};
    const conversation = await this.deps.conversations.find(tenant.id, 'whatsapp', item.from);
    const lastInboundAt = [conversation?.lastInboundAt, delivery.createdAt].filter((v): v is string => Boolean(v)).sort().pop() ?? null;
    const result = await this.deps.sender.send({
      tenant,
      channel: 'whatsapp',
      conversationId: turn.conversationId,
      externalUserId: item.from,
      text: mediaOnly ? `${MEDIA_NOTICE}\n\n${turn.reply}` : turn.reply,
      lastInboundAt,
      ...(turn.replyMessageId ? { messageId: turn.replyMessageId } : {}),
      deliveryId: delivery.id,
      idempotencyKey: `twilio:${item.messageSid}:reply`,
    });
    return { held: result.held ?? [] };
  }
}

function describe(media: MediaRef[]): string {
  const kinds = media.map((m) => {
    const type = m.contentType ?? '';
    if (type.startsWith('image/')) return 'an image';
    if (type.startsWith('audio/')) return 'a voice note';
    if (type.startsWith('video/')) return 'a video';
    return 'a file';
  });
  return kinds.length === 1 ? kinds[0]! : `${kinds.length} attachments (${[...new Set(kinds)].join(', ')})`;
}
