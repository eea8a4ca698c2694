import { createHmac, randomBytes } from 'node:crypto';
import type { Config } from '../../config.js';
import { BadRequestError, NotConfiguredError, UpstreamError } from '../../errors.js';
import { usesCloud } from '../channels/whatsapp/cloud-transport.js';
import type { Tenant, TenantService } from '../tenants/tenant-service.js';

export const SIMULATED_PROVIDERS = ['meta', 'whatsapp', 'stripe'] as const;
export type SimulatedProvider = (typeof SIMULATED_PROVIDERS)[number];

export interface SimulatedRequest {
  provider: SimulatedProvider;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The provider's id of the sample (the delivery log's external id). */
  externalId: string;
}

export interface SimulateInput {
  tenant: Tenant;
  text: string;
  /** Base URL of the running server (default SITE_URL). */
  baseUrl: string;
  /** Who the sample comes from: a PSID (meta), a WhatsApp number or (Cloud API) a business-scoped user id. */
  from?: string;
  /** Stripe: the order the sample session pays (default: no order, so the event is harmless). */
  orderId?: string;
}

const rand = () => randomBytes(8).toString('hex');

/**
 * Builds a provider's webhook exactly as the provider would send it — same body shape, signed the same
 * way with the same secret — so an operator can prove the public path end to end against a running
 * server. Nothing here talks to the provider itself.
 */
export async function buildSimulation(provider: SimulatedProvider, config: Config, tenants: TenantService, input: SimulateInput): Promise<SimulatedRequest> {
  const base = input.baseUrl.replace(/\/+$/, '');
  const { tenant } = input;
  if (provider === 'meta') {
    if (!config.META_APP_SECRET) throw new NotConfiguredError('META_APP_SECRET is not set: Meta webhooks cannot be signed (or accepted)');
    if (!tenant.fbPageId) throw new BadRequestError(`tenant '${tenant.slug}' has no fb_page_id`);
    const now = Date.now();
    const mid = `m_sim_${rand()}`;
    const psid = input.from ?? 'SIMULATED_PSID';
    const body = JSON.stringify({
      object: 'page',
      entry: [{ id: tenant.fbPageId, time: now, messaging: [{ sender: { id: psid }, recipient: { id: tenant.fbPageId }, timestamp: now, message: { mid, text: input.text } }] }],
    });
    // Meta signs the exact bytes it sends; so do we.
    const signature = `sha256=${createHmac('sha256', config.META_APP_SECRET).update(body).digest('hex')}`;
    return { provider, url: `${base}/v1/meta/webhook`, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body, externalId: `mid:${mid}` };
  }
  if (provider === 'whatsapp' && usesCloud(tenant)) return cloudSimulation(config, tenant, base, input);
  if (provider === 'whatsapp') {
    const token = tenants.secrets(tenant).twilio_auth_token ?? config.TWILIO_AUTH_TOKEN;
    if (!token) throw new NotConfiguredError(`no Twilio auth token: set twilio_auth_token on tenant '${tenant.slug}' or TWILIO_AUTH_TOKEN`);
    const to = tenant.whatsappFrom ?? tenant.whatsapp;
    if (!to) throw new BadRequestError(`tenant '${tenant.slug}' has no WhatsApp number (twilio_whatsapp_from)`);
    const sid = `SM${rand()}${rand()}`;
    const params: Record<string, string> = {
      AccountSid: config.TWILIO_ACCOUNT_SID ?? `AC${'0'.repeat(32)}`,
      MessageSid: sid,
      SmsMessageSid: sid,
      From: `whatsapp:${(input.from ?? '+15550001234').replace(/^whatsapp:/, '')}`,
      To: to.startsWith('whatsapp:') ? to : `whatsapp:${to}`,
      Body: input.text,
      NumMedia: '0',
      ProfileName: 'Simulated user',
      WaId: (input.from ?? '+15550001234').replace(/\D/g, ''),
    };
    const url = `${base}/v1/twilio/whatsapp/webhook?tenant=${encodeURIComponent(tenant.slug)}`;
    const { default: twilio } = await import('twilio');
    // Twilio signs the full URL it calls plus the sorted form parameters.
    const signature = twilio.getExpectedTwilioSignature(token, url, params);
    return { provider, url, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature }, body: new URLSearchParams(params).toString(), externalId: sid };
  }
  const secret = tenant.stripeAccountId ? (config.STRIPE_CONNECT_WEBHOOK_SECRET ?? config.STRIPE_WEBHOOK_SECRET) : config.STRIPE_WEBHOOK_SECRET;
  if (!secret) throw new NotConfiguredError('STRIPE_WEBHOOK_SECRET / STRIPE_CONNECT_WEBHOOK_SECRET is not set: Stripe webhooks cannot be signed (or accepted)');
  if (!tenant.stripeAccountId) throw new BadRequestError(`tenant '${tenant.slug}' has no connected Stripe account: run zia stripe connect first`);
  const id = `evt_sim_${rand()}`;
  const body = JSON.stringify({
    id,
    object: 'event',
    type: 'checkout.session.completed',
    account: tenant.stripeAccountId,
    api_version: '2025-10-29.clover',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    data: {
      object: {
        id: `cs_test_sim_${rand()}`,
        object: 'checkout.session',
        payment_status: 'paid',
        status: 'complete',
        customer_details: { email: 'simulated@example.com' },
        metadata: input.orderId ? { order_id: input.orderId, simulated: input.text } : { simulated: input.text },
      },
    },
  });
  const { default: Stripe } = await import('stripe');
  const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret });
  return { provider, url: `${base}/v1/stripe/webhook`, headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body, externalId: id };
}

const USER_ID = /^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$/;

/**
 * A text message to the tenant's Cloud API number as Meta posts it (object whatsapp_business_account,
 * the WABA as the entry, one `messages` change), signed with META_APP_SECRET over the exact bytes. The
 * sender is a number (wa_id and from, digits) or, for a customer who hides it, a business-scoped user id.
 */
function cloudSimulation(config: Config, tenant: Tenant, base: string, input: SimulateInput): SimulatedRequest {
  if (!config.META_APP_SECRET) throw new NotConfiguredError('META_APP_SECRET is not set: WhatsApp Cloud API webhooks cannot be signed (or accepted)');
  const phoneNumberId = tenant.settings.whatsapp?.phone_number_id;
  const wabaId = tenant.settings.whatsapp?.waba_id;
  if (!phoneNumberId || !wabaId) throw new BadRequestError(`tenant '${tenant.slug}' has no whatsapp.phone_number_id or whatsapp.waba_id`);
  const from = input.from ?? '+15550001234';
  const userId = USER_ID.test(from) ? from : null;
  const wa = userId ? null : from.replace(/^whatsapp:/, '').replace(/^\+/, '');
  if (wa !== null && !/^[1-9]\d{6,14}$/.test(wa)) throw new BadRequestError(`--from must be a phone number (+E.164) or a business-scoped user id (CC.…), got '${from}'`);
  const id = `wamid.${randomBytes(24).toString('base64url')}`;
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: wabaId,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: (tenant.whatsapp ?? tenant.whatsappFrom ?? phoneNumberId).replace(/\D/g, ''), phone_number_id: phoneNumberId },
              contacts: [{ profile: { name: 'Simulated user' }, ...(wa ? { wa_id: wa } : { user_id: userId }) }],
              messages: [{ ...(wa ? { from: wa } : { from_user_id: userId }), id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: input.text } }],
            },
          },
        ],
      },
    ],
  });
  const signature = `sha256=${createHmac('sha256', config.META_APP_SECRET).update(body).digest('hex')}`;
  return { provider: 'whatsapp', url: `${base}/v1/meta/webhook`, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body, externalId: `wamid:${id}` };
}

const SEND_TIMEOUT_MS = 15_000;

/**
 * Sends the request; any answer is reported as is (status and a short body). No answer at all is an
 * UpstreamError (502) saying what failed and where, since that is what the operator has to fix.
 */
export async function sendSimulation(req: SimulatedRequest): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body, signal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
    return { status: res.status, body: (await res.text()).slice(0, 2000) };
  } catch (err) {
    const url = new URL(req.url);
    const target = url.host || url.href;
    const reason = unreachableReason(err);
    throw new UpstreamError(`could not reach ${target}: ${reason}`, { url: `${url.origin}${url.pathname}`, reason });
  }
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
};

/** fetch reports "fetch failed" and hides the reason in `cause` (sometimes an AggregateError's first error). */
function unreachableReason(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${SEND_TIMEOUT_MS / 1000} s`;
  let cause = (err as { cause?: unknown })?.cause as { code?: string; message?: string; errors?: unknown[] } | undefined;
  if (cause && !cause.code && Array.isArray(cause.errors)) cause = cause.errors[0] as typeof cause;
  const code = cause?.code;
  if (code) return REASONS[code] ? `${REASONS[code]} (${code})` : code;
  return cause?.message ?? (err instanceof Error ? err.message : String(err));
}
