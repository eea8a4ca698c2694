import type { Config } from '../../../config.js';
import { ConflictError, NotConfiguredError, UpstreamError } from '../../../errors.js';
import type { Logger } from '../../../logger.js';
import { newId } from '../../../db/dialect.js';
import type { ConversationRecord, ConversationService } from '../../chat/chat.types.js';
import type { EventService } from '../../events/event-service.js';
import { PermanentJobError } from '../../jobs/jobs.types.js';
import type { WhatsAppLinkSender } from '../../payments/payment-service.js';
import type { Tenant, TenantService } from '../../tenants/tenant-service.js';
import type { ChannelSender, OutboundMessage, SendResult } from '../channel.types.js';
import type { SendContext } from '../outbound-store.js';
import type { OutboundSends, SendOutcome } from '../outbound-sends.js';
import { charCount, splitText } from '../split-text.js';
import { plainText } from './plain-text.js';
import { TwilioError, type TwilioClient, type TwilioCredentials, type TwilioSendParams } from './twilio-client.js';
import { replaceableBy } from './whatsapp-status.js';

/** What a Twilio send needs to be made again (credentials are read from the tenant when sent). */
type TwilioRequest = { provider: 'twilio'; params: TwilioSendParams };

export const WHATSAPP_LIMIT = 1600;
export const WINDOW_MS = 24 * 3_600_000;
export const STATUS_PATH = '/v1/twilio/whatsapp/status';

export interface WhatsAppSendsDeps {
  config: Pick<Config, 'SITE_URL' | 'TWILIO_ACCOUNT_SID' | 'TWILIO_AUTH_TOKEN' | 'TWILIO_WHATSAPP_FROM'>;
  tenants: TenantService;
  twilio: TwilioClient;
  outbound: OutboundSends;
  events: EventService;
  logger: Logger;
}

/**
 * Twilio's side of every WhatsApp send: the tenant's credentials and number (or the global ones), the
 * status callback, the once-only record in outbound_sends, and the events.
 */
export class WhatsAppSends {
  constructor(private readonly deps: WhatsAppSendsDeps) {
    deps.outbound.register('twilio', {
      send: async (tenant, request) => (await this.deps.twilio.send(this.credentials(tenant), (request as TwilioRequest).params)).sid,
      ambiguous: (err) => err instanceof TwilioError && err.ambiguous,
      acceptedStatus: 'queued',
    });
  }

  get twilio(): TwilioClient {
    return this.deps.twilio;
  }

  /** The token Twilio signs this tenant's webhooks with: the tenant's own, else the global one. */
  authToken(tenant: Tenant | undefined): string | undefined {
    return (tenant ? this.deps.tenants.secrets(tenant).twilio_auth_token : undefined) ?? this.deps.config.TWILIO_AUTH_TOKEN;
  }

  credentials(tenant: Tenant): TwilioCredentials {
    const accountSid = tenant.settings.twilio_account_sid ?? this.deps.config.TWILIO_ACCOUNT_SID;
    const authToken = this.authToken(tenant);
    if (!accountSid || !authToken) {
      throw new PermanentJobError(`no Twilio credentials for tenant '${tenant.slug}': set twilio_account_sid and twilio_auth_token, or TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN`);
    }
    return { accountSid, authToken };
  }

  from(tenant: Tenant): string {
    const number = tenant.settings.twilio_whatsapp_from ?? this.deps.config.TWILIO_WHATSAPP_FROM?.replace(/^whatsapp:/, '');
    if (!number) throw new PermanentJobError(`no WhatsApp number for tenant '${tenant.slug}': set twilio_whatsapp_from or TWILIO_WHATSAPP_FROM`);
    return `whatsapp:${number}`;
  }

  statusCallback(tenant: Tenant): string {
    return `${this.deps.config.SITE_URL}${STATUS_PATH}?tenant=${encodeURIComponent(tenant.slug)}`;
  }

  /** One message under `key`: never sent twice; one in doubt is re-sent once or held (ZIA_UNCERTAIN_SENDS). */
  async send(tenant: Tenant, key: string, to: string, content: Pick<TwilioSendParams, 'body' | 'contentSid' | 'contentVariables'>, ctx: SendContext): Promise<SendOutcome> {
    this.credentials(tenant);
    const params: TwilioSendParams = { from: this.from(tenant), to: `whatsapp:${to}`, statusCallback: this.statusCallback(tenant), ...content };
    return this.deps.outbound.once(tenant, key, 'whatsapp', { provider: 'twilio', params } satisfies TwilioRequest, ctx);
  }

  async notSent(tenant: Tenant, conversationId: string | null, data: Record<string, unknown>): Promise<void> {
    await this.deps.events.record(tenant.id, 'reply_not_sent', { conversationId, data: { channel: 'whatsapp', ...data } });
    this.deps.logger.info({ tenant: tenant.slug, ...data }, 'WhatsApp reply not sent');
  }

  async record(tenant: Tenant, type: 'reply_sent' | 'reply_failed', conversationId: string | null, data: Record<string, unknown>): Promise<void> {
    await this.deps.events.record(tenant.id, type, { conversationId, data: { channel: 'whatsapp', ...data } });
  }
}

/**
 * Messages into a WhatsApp conversation: plain text split at 1,600 characters inside the 24 h window;
 * outside it, the tenant's approved template or nothing (recorded), never free-form text.
 */
export class WhatsAppSender implements ChannelSender {
  constructor(
    private readonly sends: WhatsAppSends,
    private readonly conversations: ConversationService,
  ) {}

  async send(msg: OutboundMessage): Promise<SendResult> {
    const { tenant } = msg;
    const last = msg.lastInboundAt ? Date.parse(msg.lastInboundAt) : NaN;
    const inWindow = Number.isFinite(last) && Date.now() - last <= WINDOW_MS;
    const template = tenant.settings.whatsapp_template;
    if (!inWindow && !template) {
      const reason = 'outside_24h_window';
      await this.sends.notSent(tenant, msg.conversationId, { reason, key: msg.idempotencyKey });
      await this.delivery(msg, { status: 'not_sent', errorCode: reason });
      return { providerMessageId: null, sent: false, reason };
    }
    const parts = inWindow ? splitText(plainText(msg.text), WHATSAPP_LIMIT, charCount) : [];
    let providerMessageId: string | null = null;
    const held: string[] = [];
    const ctx = { conversationId: msg.conversationId, messageId: msg.messageId ?? null, deliveryId: msg.deliveryId ?? null };
    const note = (outcome: SendOutcome) => {
      if ('providerMessageId' in outcome) providerMessageId = outcome.providerMessageId ?? providerMessageId;
      else held.push(outcome.sendId);
    };
    try {
      if (inWindow) {
        for (const [i, body] of parts.entries()) note(await this.sends.send(tenant, `${msg.idempotencyKey}:${i}`, msg.externalUserId, { body }, ctx));
      } else {
        note(
          await this.sends.send(tenant, `${msg.idempotencyKey}:template`, msg.externalUserId, {
            contentSid: template!.content_sid,
            contentVariables: JSON.stringify(template!.variables ?? {}),
          }, ctx),
        );
      }
    } catch (err) {
      if (err instanceof TwilioError && !err.transient) {
        const code = String(err.info.code ?? err.info.status ?? 'error');
        if (err.info.code === 63016) await this.sends.notSent(tenant, msg.conversationId, { reason: err.reason, key: msg.idempotencyKey });
        else await this.sends.record(tenant, 'reply_failed', msg.conversationId, { reason: err.reason, code });
        await this.delivery(msg, { status: 'failed', errorCode: code });
      }
      throw err;
    }
    // A part held for an operator keeps the message 'held' (set where it was held) until it is resent.
    if (held.length > 0) return { providerMessageId, sent: false, reason: 'held', held };
    await this.sends.record(tenant, 'reply_sent', msg.conversationId, inWindow ? { parts: parts.length } : { template: template!.content_sid });
    // Twilio's first status; a status callback that already moved it further is not overwritten.
    if (providerMessageId) await this.delivery(msg, { status: 'queued', providerMessageId, replaces: replaceableBy('queued')! });
    return { providerMessageId, sent: true, ...(inWindow ? {} : { reason: 'template' }) };
  }

  private async delivery(msg: OutboundMessage, update: { status: string; providerMessageId?: string; errorCode?: string; replaces?: Array<string | null> }): Promise<void> {
    if (!msg.messageId) return;
    await this.conversations.updateDelivery(msg.tenant.id, { messageId: msg.messageId }, update);
  }
}

/**
 * Checkout links sent by an operator or the API (payments' send-wa): only inside the contact's 24 h
 * window (a template cannot carry the link, so it would tell the buyer nothing), and recorded in the
 * buyer's conversation with its delivery status.
 */
export class WhatsAppLinks implements WhatsAppLinkSender {
  constructor(
    private readonly sends: WhatsAppSends,
    private readonly sender: WhatsAppSender,
    private readonly conversations: ConversationService,
  ) {}

  async check(tenant: Tenant, toE164: string): Promise<void> {
    await this.openConversation(tenant, toE164);
  }

  /** The contact's conversation, when the tenant can send and the contact wrote in the last 24 hours. */
  private async openConversation(tenant: Tenant, toE164: string): Promise<ConversationRecord> {
    try {
      this.sends.credentials(tenant);
      this.sends.from(tenant);
    } catch (err) {
      throw new NotConfiguredError(`WhatsApp not configured: ${(err as Error).message}`);
    }
    const conversation = await this.conversations.find(tenant.id, 'whatsapp', toE164);
    const last = conversation?.lastInboundAt ? Date.parse(conversation.lastInboundAt) : NaN;
    if (!conversation || !Number.isFinite(last) || Date.now() - last > WINDOW_MS) {
      throw new ConflictError(`${toE164} has not written in the last 24 hours: WhatsApp allows only an approved template, which cannot carry the link`);
    }
    return conversation;
  }

  async send(tenant: Tenant, toE164: string, text: string): Promise<{ messageId: string }> {
    const conversation = await this.openConversation(tenant, toE164);
    const stored = await this.conversations.appendMessage(tenant.id, conversation.id, { role: 'assistant', text });
    let result: SendResult;
    try {
      result = await this.sender.send({
        tenant,
        channel: 'whatsapp',
        conversationId: conversation.id,
        externalUserId: toE164,
        text,
        lastInboundAt: conversation.lastInboundAt,
        messageId: stored.id,
        idempotencyKey: `whatsapp:link:${newId()}`,
      });
    } catch (err) {
      if (err instanceof TwilioError) throw new UpstreamError(err.message);
      throw err;
    }
    if (!result.providerMessageId) throw new UpstreamError('Twilio did not return a message id');
    return { messageId: result.providerMessageId };
  }
}
