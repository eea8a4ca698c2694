import type { Config } from '../../../config.js';
import { ConflictError, NotConfiguredError, UpstreamError } from '../../../errors.js';
import { newId } from '../../../db/dialect.js';
import type { ConversationRecord, ConversationService } from '../../chat/chat.types.js';
import { PermanentJobError } from '../../jobs/jobs.types.js';
import type { WhatsAppLinkSender } from '../../payments/payment-service.js';
import type { Tenant, TenantService } from '../../tenants/tenant-service.js';
import type { ChannelSender, OutboundMessage, SendResult } from '../channel.types.js';
import { inReplyWindow, type ReplyPlan, type ReplyTransport } from '../channel-sender.js';
import type { SendContext } from '../outbound-store.js';
import type { OutboundSends, SendOutcome } from '../outbound-sends.js';
import { charCount, splitText } from '../split-text.js';
import { plainText } from './plain-text.js';
import { TwilioError, type TwilioClient, type TwilioCredentials, type TwilioSendParams } from './twilio-client.js';
import { replaceableBy } from './whatsapp-status.js';
import { usesCloud, type CloudWhatsApp } from './cloud-transport.js';
import { GraphError } from '../meta/graph-client.js';

/** What a Twilio send needs to be made again (credentials are read from the tenant when sent). */
type TwilioRequest = { provider: 'twilio'; params: TwilioSendParams };

/** One WhatsApp message to a number (E.164, without the whatsapp: prefix): text, or a template. */
export type TwilioContent = { to: string } & Pick<TwilioSendParams, 'body' | 'contentSid' | 'contentVariables'>;

export const WHATSAPP_LIMIT = 1600;
export const STATUS_PATH = '/v1/twilio/whatsapp/status';

export interface WhatsAppTransportDeps {
  config: Pick<Config, 'SITE_URL' | 'TWILIO_ACCOUNT_SID' | 'TWILIO_AUTH_TOKEN' | 'TWILIO_WHATSAPP_FROM'>;
  tenants: TenantService;
  twilio: TwilioClient;
  outbound: OutboundSends;
}

/**
 * Twilio's side of every WhatsApp send: the tenant's credentials and number (or the global ones), the
 * status callback, the once-only record in outbound_sends, and what a message turns into (plan).
 */
export class WhatsAppTransport implements ReplyTransport<TwilioContent> {
  readonly channel = 'whatsapp';
  /** Twilio's first status; a status callback that already moved the message further is not overwritten. */
  readonly accepted = { status: 'queued', replaces: replaceableBy('queued')! };

  constructor(private readonly deps: WhatsAppTransportDeps) {
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
  async send(tenant: Tenant, key: string, { to, ...content }: TwilioContent, ctx: SendContext): Promise<SendOutcome> {
    this.credentials(tenant);
    const params: TwilioSendParams = { from: this.from(tenant), to: `whatsapp:${to}`, statusCallback: this.statusCallback(tenant), ...content };
    return this.deps.outbound.once(tenant, key, 'whatsapp', { provider: 'twilio', params } satisfies TwilioRequest, ctx);
  }

  /**
   * Inside the window: plain text split at 1,600 characters. Outside it: the tenant's approved
   * template, or nothing — never free-form text.
   */
  plan(msg: OutboundMessage, inWindow: boolean): ReplyPlan<TwilioContent> | undefined {
    if (inWindow) {
      const parts = splitText(plainText(msg.text), WHATSAPP_LIMIT, charCount).map((body, i) => ({ suffix: String(i), payload: { to: msg.externalUserId, body } }));
      return { parts, sent: { parts: parts.length } };
    }
    const template = msg.tenant.settings.whatsapp_template;
    if (!template) return undefined;
    return {
      parts: [{ suffix: 'template', payload: { to: msg.externalUserId, contentSid: template.content_sid, contentVariables: JSON.stringify(template.variables ?? {}) } }],
      sent: { template: template.content_sid, category: template.category ?? 'unknown' },
      reason: 'template',
    };
  }

  /** Twilio's 63016: free-form text outside the window, refused on Twilio's side. */
  refusal(err: unknown) {
    if (!(err instanceof TwilioError) || err.transient) return undefined;
    return { windowClosed: err.info.code === 63016, reason: err.reason, code: String(err.info.code ?? err.info.status ?? 'error') };
  }
}

/**
 * Checkout links sent by an operator or the API (payments' send-wa): only inside the contact's 24 h
 * window (a template cannot carry the link, so it would tell the buyer nothing), and recorded in the
 * buyer's conversation with its delivery status.
 */
export class WhatsAppCheckoutLinks implements WhatsAppLinkSender {
  constructor(
    private readonly transport: WhatsAppTransport,
    private readonly cloud: CloudWhatsApp,
    private readonly sender: ChannelSender,
    private readonly conversations: ConversationService,
  ) {}

  async check(tenant: Tenant, toE164: string): Promise<void> {
    await this.openConversation(tenant, toE164);
  }

  /** The contact's conversation, when the tenant can send and the contact wrote in the last 24 hours. */
  private async openConversation(tenant: Tenant, toE164: string): Promise<ConversationRecord> {
    try {
      if (usesCloud(tenant)) {
        this.cloud.token(tenant);
        this.cloud.phoneNumberId(tenant);
      } else {
        this.transport.credentials(tenant);
        this.transport.from(tenant);
      }
    } catch (err) {
      throw new NotConfiguredError(`WhatsApp not configured: ${(err as Error).message}`);
    }
    const conversation = await this.conversations.find(tenant.id, 'whatsapp', toE164);
    if (!conversation || !inReplyWindow(conversation.lastInboundAt)) {
      throw new ConflictError(`${toE164} has not written in the last 24 hours: WhatsApp allows only an approved template, which cannot carry the link`);
    }
    return conversation;
  }

  async send(tenant: Tenant, toE164: string, text: string, url?: string): Promise<{ messageId: string }> {
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
        ...(url ? { checkoutUrl: url } : {}),
      });
    } catch (err) {
      if (err instanceof TwilioError || err instanceof GraphError) throw new UpstreamError(err.message);
      throw err;
    }
    if (!result.providerMessageId) throw new UpstreamError(`${usesCloud(tenant) ? 'the WhatsApp Cloud API' : 'Twilio'} did not return a message id`);
    return { messageId: result.providerMessageId };
  }
}
