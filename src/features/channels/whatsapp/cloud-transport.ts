import type { Logger } from '../../../logger.js';
import { PermanentJobError } from '../../jobs/jobs.types.js';
import type { Tenant, TenantService } from '../../tenants/tenant-service.js';
import type { OutboundMessage } from '../channel.types.js';
import type { ReplyPlan, ReplyTransport } from '../channel-sender.js';
import type { SendContext } from '../outbound-store.js';
import type { OutboundSends, SendOutcome } from '../outbound-sends.js';
import { GraphError } from '../meta/graph-client.js';
import { charCount, splitText, truncateText } from '../split-text.js';
import { recipientOf, type CloudClient, type CloudMessage, type CloudRecipient, type CloudSendBody } from './cloud-client.js';
import type { CloudContact, CloudStore, StoredTemplate } from './cloud-store.js';
import { plainText } from './plain-text.js';
import type { ThroughputLimit } from './throughput.js';
import { replaceableBy } from './whatsapp-status.js';

/** What a Cloud API send needs to be made again (never the token: it is read from the tenant when sent). */
type CloudRequest = { provider: 'cloud'; phoneNumberId: string; body: CloudSendBody };

export const CLOUD_TEXT_LIMIT = 4096;
/** Interactive and template bodies: 1,024 characters once filled. */
export const CLOUD_BODY_LIMIT = 1024;
/** Meta's default throughput of a business number, messages per second. */
export const DEFAULT_MESSAGES_PER_SECOND = 80;

export interface CloudWhatsAppDeps {
  tenants: TenantService;
  client: CloudClient;
  store: CloudStore;
  outbound: OutboundSends;
  throughput: ThroughputLimit;
  logger: Logger;
}

/** Whether a tenant's WhatsApp goes through Meta's Cloud API (else Twilio). */
export function usesCloud(tenant: Tenant): boolean {
  return tenant.settings.whatsapp?.provider === 'cloud';
}

/**
 * Meta's WhatsApp Cloud API for one tenant at a time: its token and number, the once-only record in
 * outbound_sends (every send waits for the number's throughput first), and its message templates.
 */
export class CloudWhatsApp {
  constructor(private readonly deps: CloudWhatsAppDeps) {
    deps.outbound.register('cloud', {
      send: async (tenant, request) => {
        const r = request as CloudRequest;
        const token = this.token(tenant);
        await deps.throughput.take(r.phoneNumberId, tenant.settings.whatsapp?.messages_per_second ?? DEFAULT_MESSAGES_PER_SECOND);
        return deps.client.send(token, r.phoneNumberId, r.body);
      },
      ambiguous: (err) => err instanceof GraphError && err.ambiguous,
      acceptedStatus: 'accepted',
    });
  }

  get client(): CloudClient {
    return this.deps.client;
  }

  token(tenant: Tenant): string {
    const token = this.deps.tenants.secrets(tenant).whatsapp_access_token;
    if (!token) throw new PermanentJobError(`tenant '${tenant.slug}' has no whatsapp_access_token: set it with zia tenant update ${tenant.slug} --set whatsapp_access_token=…`);
    return token;
  }

  phoneNumberId(tenant: Tenant): string {
    const id = tenant.settings.whatsapp?.phone_number_id;
    if (!id) throw new PermanentJobError(`tenant '${tenant.slug}' has no whatsapp.phone_number_id`);
    return id;
  }

  wabaId(tenant: Tenant): string {
    const id = tenant.settings.whatsapp?.waba_id;
    if (!id) throw new PermanentJobError(`tenant '${tenant.slug}' has no whatsapp.waba_id`);
    return id;
  }

  /** One message under `key`: never sent twice; one in doubt is re-sent once or held (ZIA_UNCERTAIN_SENDS). */
  send(tenant: Tenant, key: string, body: CloudSendBody, ctx: SendContext): Promise<SendOutcome> {
    this.token(tenant);
    const request: CloudRequest = { provider: 'cloud', phoneNumberId: this.phoneNumberId(tenant), body };
    return this.deps.outbound.once(tenant, key, 'whatsapp', request, ctx);
  }

  /** The WABA's templates, read from Meta, replace the stored copy. */
  async syncTemplates(tenant: Tenant): Promise<StoredTemplate[]> {
    const templates = await this.deps.client.templates(this.token(tenant), this.wabaId(tenant));
    await this.deps.store.replaceTemplates(tenant.id, templates);
    return this.deps.store.templates(tenant.id);
  }

  templates(tenant: Tenant): Promise<StoredTemplate[]> {
    return this.deps.store.templates(tenant.id);
  }

  /**
   * The template a message outside the window goes out as: the tenant's configured one, as last synced,
   * only when Meta approved it as a utility template and the parameters fit its placeholders.
   */
  async outsideWindowTemplate(tenant: Tenant): Promise<{ template: StoredTemplate; parameters: string[] } | { reason: string }> {
    const configured = tenant.settings.whatsapp?.template;
    if (!configured) return { reason: 'no_template: set whatsapp.template to an approved utility template' };
    const stored = await this.deps.store.template(tenant.id, configured.name, configured.language);
    if (!stored) return { reason: `template_not_synced: ${configured.name} (${configured.language}) is not among the synced templates; run zia whatsapp templates sync ${tenant.slug}` };
    if (stored.status !== 'APPROVED') return { reason: `template_${stored.status.toLowerCase()}: ${stored.name} is not approved` };
    if (stored.category !== 'UTILITY') return { reason: `template_category_${stored.category.toLowerCase()}: only a utility template may carry a reply` };
    const parameters = configured.parameters ?? (stored.bodyParameters === 1 ? ['{message}'] : []);
    if (parameters.length !== stored.bodyParameters) return { reason: `template_parameters_mismatch: ${stored.name} has ${stored.bodyParameters} body parameters, whatsapp.template.parameters gives ${parameters.length}` };
    return { template: stored, parameters };
  }

  /** The customer behind a conversation key, when the Cloud API gave them a user id. */
  contact(tenant: Tenant, key: string): Promise<CloudContact | undefined> {
    return this.deps.store.contactByKey(tenant.id, key);
  }
}

/**
 * A WhatsApp conversation's messages through the Cloud API. Inside the window: text split at 4,096
 * characters, or one interactive message (the checkout link as a button, or reply buttons) when it
 * fits. Outside it: the tenant's approved utility template with its parameters filled, or nothing, with
 * the reason.
 */
export class CloudTransport implements ReplyTransport<CloudSendBody> {
  readonly channel = 'whatsapp';
  /** Meta's answer to a send: replaces zia's own 'queued'; the sent/delivered/read webhooks that may beat it are not overwritten. */
  readonly accepted = { status: 'accepted', replaces: [...replaceableBy('accepted')!, 'queued'] };

  constructor(private readonly cloud: CloudWhatsApp) {}

  async plan(msg: OutboundMessage, inWindow: boolean): Promise<ReplyPlan<CloudSendBody> | { notSent: string }> {
    const contact = await this.cloud.contact(msg.tenant, msg.externalUserId);
    const base = { messaging_product: 'whatsapp', recipient_type: 'individual', ...addressOf(contact, msg.externalUserId) } as const;
    const one = (message: CloudMessage, sent: Record<string, unknown>, reason?: string): ReplyPlan<CloudSendBody> => ({
      parts: [{ suffix: message.type === 'template' ? 'template' : '0', payload: { ...base, ...message } as CloudSendBody }],
      sent,
      ...(reason ? { reason } : {}),
    });
    if (!inWindow) {
      const found = await this.cloud.outsideWindowTemplate(msg.tenant);
      if ('reason' in found) return { notSent: found.reason };
      const values = this.fill(msg, contact?.profileName ?? null, found.template, found.parameters);
      const { template } = found;
      return one(
        { type: 'template', template: { name: template.name, language: { code: template.language }, ...(values.length ? { components: [{ type: 'body', parameters: values.map((text) => ({ type: 'text', text })) }] } : {}) } },
        { template: template.name, category: template.category.toLowerCase() },
        'template',
      );
    }
    const text = plainText(msg.text);
    if (msg.tenant.settings.whatsapp?.buttons !== false) {
      const url = msg.checkoutUrl;
      if (url && /^https:\/\//.test(url) && text.includes(url)) {
        const body = tidy(text.split(url).join('')) || 'Your checkout link';
        if (charCount(body) <= CLOUD_BODY_LIMIT) return one({ type: 'interactive', interactive: { type: 'cta_url', body: { text: body }, action: { name: 'cta_url', parameters: { display_text: 'Pay now', url } } } }, { interactive: 'cta_url' });
      }
      const buttons = msg.quickReplies ?? [];
      if (buttons.length > 0 && charCount(text) <= CLOUD_BODY_LIMIT) {
        return one({ type: 'interactive', interactive: { type: 'button', body: { text }, action: { buttons: buttons.slice(0, 3).map((b) => ({ type: 'reply', reply: { id: b.id, title: truncateText(b.title, 20, charCount) } })) } } }, { interactive: 'button' });
      }
    }
    const parts = splitText(text, CLOUD_TEXT_LIMIT, charCount).map((body, i) => ({ suffix: String(i), payload: { ...base, type: 'text', text: { body } } as CloudSendBody }));
    return { parts, sent: { parts: parts.length } };
  }

  send(tenant: Tenant, key: string, body: CloudSendBody, ctx: SendContext): Promise<SendOutcome> {
    return this.cloud.send(tenant, key, body, ctx);
  }

  /** 131047: the window closed on Meta's side before ours. */
  refusal(err: unknown) {
    if (!(err instanceof GraphError) || err.transient) return undefined;
    return { windowClosed: err.info.code === 131047, reason: err.reason, code: String(err.info.code ?? err.info.status ?? 'error') };
  }

  /**
   * The template's body parameters: {message} (the text), {name} (the customer's profile name) and
   * {business} (the tenant's name) filled in, on one line each (Meta refuses new lines and tabs in a
   * parameter), the message shortened so the filled body stays within 1,024 characters.
   */
  private fill(msg: OutboundMessage, profileName: string | null, template: StoredTemplate, parameters: string[]): string[] {
    const name = profileName ?? 'there';
    const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' · ').replace(/[\t ]+/g, ' ').trim();
    const fixed = parameters.map((p) => oneLine(p.replaceAll('{name}', name).replaceAll('{business}', msg.tenant.name)));
    const frame = charCount((template.body ?? '').replace(/\{\{\s*\d+\s*\}\}/g, '')) + fixed.reduce((n, p) => n + charCount(p.replaceAll('{message}', '')), 0);
    const uses = fixed.filter((p) => p.includes('{message}')).length;
    const room = uses > 0 ? Math.max(20, Math.floor((CLOUD_BODY_LIMIT - frame) / uses)) : 0;
    const message = truncateText(oneLine(plainText(msg.text)), room, charCount);
    return fixed.map((p) => p.replaceAll('{message}', message) || '-');
  }
}

/**
 * Where a conversation's messages go: the customer's latest number, else their latest user id (they hide
 * the number), else the key itself — so a customer who changed number is written to at the new one.
 */
function addressOf(contact: CloudContact | undefined, key: string): CloudRecipient {
  if (contact?.phone) return recipientOf(contact.phone);
  if (contact) return { recipient: contact.userId };
  return recipientOf(key);
}

/** Text with a link taken out: no dangling colon or blank lines where it stood. */
function tidy(text: string): string {
  return text
    .replace(/[ \t]+$/gm, '')
    .replace(/:[ \t]*$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
