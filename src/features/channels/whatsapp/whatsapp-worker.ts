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
import { GraphError } from '../meta/graph-client.js';
import { PROMPTS } from '../../leads/lead-flow.js';
import { cloudItemSchema, type CloudMediaKind } from './cloud-parser.js';
import type { CloudStore } from './cloud-store.js';
import { whatsappItemSchema } from './whatsapp.schemas.js';

export const WHATSAPP_KIND = 'whatsapp.message';
export const CLOUD_KIND = 'whatsapp.cloud';
export const MEDIA_NOTICE = "I can read text messages only: I can't open images, voice notes, videos or files here, so please describe it in text.";

export interface WhatsAppWorkerDeps {
  tenants: TenantService;
  inbox: WebhookService;
  chat: TurnRunner;
  conversations: ConversationService;
  sender: ChannelSender;
  cloudStore: CloudStore;
  logger: Logger;
}

/**
 * Processes inbound WhatsApp messages in the worker, from Twilio or Meta's Cloud API: one turn of the
 * chat engine (saved on the delivery, so a retry never asks twice), then the reply through the
 * tenant's transport, keyed on the provider's message id so a retry never sends twice.
 */
export class WhatsAppWorker {
  constructor(private readonly deps: WhatsAppWorkerDeps) {}

  /** A WhatsApp message through Twilio: a turn, then the reply. */
  async handleMessage(delivery: DeliveryRecord): Promise<HandlerOutcome> {
    const item = parseInput(whatsappItemSchema, delivery.payload, 'delivery');
    return this.refusedIsPermanent(async () =>
      this.answer(delivery, await this.tenantOf(delivery), {
        key: item.from,
        text: item.text,
        kinds: item.media.map((m) => kindOf(m.contentType)),
        media: item.media,
        messageId: item.messageSid,
        profileName: item.profileName,
        phone: item.from,
        idempotencyKey: `twilio:${item.messageSid}:reply`,
      }),
    );
  }

  /**
   * A WhatsApp message through Meta's Cloud API: the customer's conversation is found by number or by
   * business-scoped user id (one conversation either way), a tapped button is read as the answer it
   * stands for, then a turn and the reply.
   */
  async handleCloudMessage(delivery: DeliveryRecord): Promise<HandlerOutcome> {
    const item = parseInput(cloudItemSchema, delivery.payload, 'delivery');
    return this.refusedIsPermanent(async () => {
      const tenant = await this.tenantOf(delivery);
      const key = item.userId ? await this.deps.cloudStore.contactKey(tenant.id, { userId: item.userId, phone: item.phone, profileName: item.profileName }) : item.phone!;
      const phone = item.phone ?? (key.startsWith('+') ? key : null);
      return this.answer(delivery, tenant, {
        key,
        text: tappedAnswer(item.buttonId, phone) ?? item.text,
        kinds: item.media.map((m) => (m.kind === 'location' ? `a location${m.description ? ` ${m.description}` : ''}` : CLOUD_KINDS[m.kind])),
        media: item.media.map((m) => ({ ...(m.id ? { id: m.id } : {}), ...(m.mimeType ? { contentType: m.mimeType } : {}), ...(m.description ? { description: m.description } : {}) })),
        messageId: item.messageId,
        profileName: item.profileName,
        phone,
        idempotencyKey: `cloud:${item.messageId}:reply`,
        inboundAt: item.timestamp ? new Date(item.timestamp * 1000).toISOString() : undefined,
      });
    });
  }

  /** A permanent refusal (bad number, opted out, bad credentials) parks the job with the provider's reason. */
  private async refusedIsPermanent(fn: () => Promise<HandlerOutcome>): Promise<HandlerOutcome> {
    try {
      return await fn();
    } catch (err) {
      if ((err instanceof TwilioError || err instanceof GraphError) && !err.transient) {
        if (err instanceof GraphError && err.info.code === 190) this.deps.logger.error({ err: err.message }, 'WhatsApp Cloud API token refused: replies stop until the tenant has a new whatsapp_access_token');
        throw new PermanentJobError(err.message);
      }
      throw err;
    }
  }

  private async tenantOf(delivery: DeliveryRecord): Promise<Tenant> {
    const tenant = delivery.tenantId ? await this.deps.tenants.getById(delivery.tenantId).catch(() => undefined) : undefined;
    if (!tenant) throw new PermanentJobError('the tenant of this delivery no longer exists');
    return tenant;
  }

  /** One turn of the chat engine (saved on the delivery, so a retry never asks twice), then the reply, keyed on the message id. */
  private async answer(delivery: DeliveryRecord, tenant: Tenant, m: Inbound): Promise<HandlerOutcome> {
    const mediaOnly = m.text === '' && m.kinds.length > 0;
    const turn = await savedTurn(this.deps.inbox, this.deps.logger, delivery, () =>
      this.deps.chat.runTurn({
        tenant,
        channel: 'whatsapp',
        externalUserId: m.key,
        // The model cannot see attachments; it is told what arrived, so the transcript says so too.
        text: mediaOnly ? `(sent ${describe(m.kinds)} without text)` : m.text,
        providerMessageId: m.messageId,
        ...(m.profileName ? { userName: m.profileName } : {}),
        ...(m.media.length > 0 ? { media: m.media } : {}),
      }),
    );
    if (!turn?.reply) return {};
    const conversation = await this.deps.conversations.find(tenant.id, 'whatsapp', m.key);
    const lastInboundAt = [conversation?.lastInboundAt, m.inboundAt ?? delivery.createdAt].filter((v): v is string => Boolean(v)).sort().pop() ?? null;
    const result = await this.deps.sender.send({
      tenant,
      channel: 'whatsapp',
      conversationId: turn.conversationId,
      externalUserId: m.key,
      text: mediaOnly ? `${MEDIA_NOTICE}\n\n${turn.reply}` : turn.reply,
      lastInboundAt,
      ...(turn.replyMessageId ? { messageId: turn.replyMessageId } : {}),
      deliveryId: delivery.id,
      idempotencyKey: m.idempotencyKey,
      ...(turn.checkoutUrl ? { checkoutUrl: turn.checkoutUrl } : {}),
      quickReplies: quickReplies(tenant, turn.reply, m.phone, Boolean(conversation?.handoffRequestedAt)),
    });
    return { held: result.held ?? [] };
  }
}

/** What one inbound WhatsApp message is, whichever provider brought it. */
interface Inbound {
  /** The conversation's key: the number (E.164), or a business-scoped user id. */
  key: string;
  text: string;
  /** What arrived besides text ("an image", "a voice note", …). */
  kinds: string[];
  media: MediaRef[];
  messageId: string;
  profileName: string | null;
  /** The customer's number, when known. */
  phone: string | null;
  idempotencyKey: string;
  inboundAt?: string;
}

/** zia's own reply buttons; a tap arrives as the button's id. */
export const BUTTONS = {
  leadNumber: { id: 'zia:lead:number', title: 'Use this number' },
  leadSkip: { id: 'zia:lead:skip', title: 'Skip' },
  handoff: { id: 'zia:handoff', title: 'Talk to a person' },
} as const;

/** The buttons offered under a reply: the lead flow's WhatsApp question, else (handoff on, nobody asked yet) a person. */
export function quickReplies(tenant: Tenant, reply: string, phone: string | null, waitingForPerson: boolean): Array<{ id: string; title: string }> {
  if (reply.trimEnd().endsWith(PROMPTS.whatsapp)) return phone ? [BUTTONS.leadNumber, BUTTONS.leadSkip] : [BUTTONS.leadSkip];
  return tenant.settings.handoff?.enabled && !waitingForPerson ? [BUTTONS.handoff] : [];
}

/** What a tap on one of zia's buttons says: the number for the lead flow, "skip", or asking for a person. */
function tappedAnswer(buttonId: string | null, phone: string | null): string | undefined {
  if (buttonId === BUTTONS.leadNumber.id) return phone ?? undefined;
  if (buttonId === BUTTONS.leadSkip.id) return 'skip';
  if (buttonId === BUTTONS.handoff.id) return 'talk to a person';
  return undefined;
}

/** The Cloud API's message types, as the transcript names them. */
const CLOUD_KINDS: Record<Exclude<CloudMediaKind, 'location'>, string> = { image: 'an image', sticker: 'an image', audio: 'a voice note', video: 'a video', document: 'a file', other: 'a file' };

function kindOf(contentType: string | undefined): string {
  const type = contentType ?? '';
  if (type.startsWith('image/')) return 'an image';
  if (type.startsWith('audio/')) return 'a voice note';
  if (type.startsWith('video/')) return 'a video';
  return 'a file';
}

function describe(kinds: string[]): string {
  return kinds.length === 1 ? kinds[0]! : `${kinds.length} attachments (${[...new Set(kinds)].join(', ')})`;
}
