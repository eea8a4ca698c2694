import type { Config } from '../../config.js';
import { GraphError } from '../channels/meta/graph-client.js';
import type { CloudClient } from '../channels/whatsapp/cloud-client.js';
import { usesCloud } from '../channels/whatsapp/cloud-transport.js';
import type { Tenant, TenantService } from '../tenants/tenant-service.js';

export interface WebhookUrls {
  meta: { callback_url: string; verify_token_set: boolean; subscribe: { page: string[]; instagram: string[] } };
  whatsapp_cloud: { callback_url: string; verify_token_set: boolean; object: 'whatsapp_business_account'; fields: string[] };
  twilio: { incoming_url: string; status_callback_url: string };
  stripe: { endpoint_url: string; events: string[]; connect: boolean };
}

export const STRIPE_EVENTS = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
  'invoice.paid',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'account.updated',
];

/** The webhook fields of whatsapp_business_account zia needs: messages and statuses, and template changes. */
export const WHATSAPP_CLOUD_FIELDS = ['messages', 'message_template_status_update', 'template_category_update'];

/** Exactly what to paste into Meta, Twilio and Stripe, built from SITE_URL. */
export function webhookUrls(config: Config, tenantSlug?: string): WebhookUrls {
  const site = config.SITE_URL;
  const tenantQuery = tenantSlug ? `?tenant=${encodeURIComponent(tenantSlug)}` : '';
  return {
    meta: {
      callback_url: `${site}/v1/meta/webhook`,
      verify_token_set: Boolean(config.META_VERIFY_TOKEN),
      subscribe: { page: ['messages', 'messaging_postbacks', 'message_echoes', 'feed'], instagram: ['messages', 'comments'] },
    },
    // The same app, callback URL and verify token as Messenger and Instagram.
    whatsapp_cloud: {
      callback_url: `${site}/v1/meta/webhook`,
      verify_token_set: Boolean(config.META_VERIFY_TOKEN),
      object: 'whatsapp_business_account',
      fields: WHATSAPP_CLOUD_FIELDS,
    },
    twilio: {
      incoming_url: `${site}/v1/twilio/whatsapp/webhook${tenantQuery}`,
      status_callback_url: `${site}/v1/twilio/whatsapp/status${tenantQuery}`,
    },
    stripe: { endpoint_url: `${site}/v1/stripe/webhook`, events: STRIPE_EVENTS, connect: true },
  };
}

export interface Finding {
  level: 'error' | 'warning';
  subject: string;
  problem: string;
  fix: string;
}

/**
 * Configuration problems that would make a provider's webhooks fail or be refused, one finding per
 * problem with the fix. Errors make `zia webhooks check` exit non-zero; warnings do not. With a Cloud
 * API client, the WhatsApp Cloud API tenants are also checked against Meta (see checkCloud).
 */
export async function checkWebhooks(config: Config, tenants: TenantService, cloud?: CloudClient): Promise<Finding[]> {
  const findings: Finding[] = [];
  const all = await tenants.list();
  const err = (subject: string, problem: string, fix: string) => findings.push({ level: 'error', subject, problem, fix });
  const warn = (subject: string, problem: string, fix: string) => findings.push({ level: 'warning', subject, problem, fix });

  const site = new URL(config.SITE_URL);
  if (['localhost', '127.0.0.1', '::1', '[::1]'].includes(site.hostname)) {
    warn('SITE_URL', `${config.SITE_URL} is not reachable by Meta, Twilio or Stripe`, 'set SITE_URL to the public https URL of this server');
  } else if (site.protocol !== 'https:') {
    warn('SITE_URL', 'is not https; Meta requires https callback URLs', 'serve zia behind TLS and set SITE_URL=https://…');
  }
  if (!config.ZIA_SECRET_KEY) err('ZIA_SECRET_KEY', 'is not set: tenant tokens cannot be stored or read', 'run `zia init` or set a 32-byte key');

  const metaTenants = all.filter((t) => t.fbPageId || t.igUserId);
  const cloudTenants = all.filter(usesCloud);
  if (metaTenants.length > 0 || cloudTenants.length > 0 || config.META_VERIFY_TOKEN) {
    const refused = cloudTenants.length > 0 ? 'every Meta webhook POST, WhatsApp Cloud API ones included, is refused' : 'every Meta webhook POST is refused';
    if (!config.META_APP_SECRET) err('META_APP_SECRET', `is not set: ${refused}`, 'set META_APP_SECRET to the App Secret from the Meta App Dashboard');
    if (!config.META_VERIFY_TOKEN) err('META_VERIFY_TOKEN', 'is not set: Meta cannot verify the callback URL', 'set META_VERIFY_TOKEN and type the same value in the App Dashboard');
  }
  for (const t of metaTenants) {
    if (!secretsOf(tenants, t).fb_page_token) err(`tenant ${t.slug}`, 'has a Facebook/Instagram id but no fb_page_token: replies cannot be sent', `zia tenant update ${t.slug} --set fb_page_token=…`);
  }
  const fbIds = new Map(all.filter((t) => t.fbPageId).map((t) => [t.fbPageId!, t.slug]));
  for (const t of all) {
    const clash = t.igUserId ? fbIds.get(t.igUserId) : undefined;
    if (clash) err(`tenant ${t.slug}`, `ig_user_id ${t.igUserId} is also the fb_page_id of ${clash}`, 'give each account its own id');
  }

  for (const t of all.filter((x) => x.whatsappFrom)) {
    const s = secretsOf(tenants, t);
    const sid = t.settings.twilio_account_sid ?? config.TWILIO_ACCOUNT_SID;
    const token = s.twilio_auth_token ?? config.TWILIO_AUTH_TOKEN;
    if (!sid) err(`tenant ${t.slug}`, 'has a WhatsApp number but no Twilio account SID', `set twilio_account_sid on the tenant or TWILIO_ACCOUNT_SID`);
    if (!token) err(`tenant ${t.slug}`, 'has a WhatsApp number but no Twilio auth token: inbound signatures cannot be checked', `set twilio_auth_token on the tenant or TWILIO_AUTH_TOKEN`);
  }
  for (const t of all.filter((x) => x.waPhoneNumberId && !usesCloud(x))) {
    warn(`tenant ${t.slug}`, `has whatsapp.phone_number_id ${t.waPhoneNumberId} but whatsapp.provider is not cloud: its Cloud API messages are recorded as ignored`, `zia tenant update ${t.slug} --set whatsapp.provider=cloud`);
  }
  if (cloudTenants.length > 0) await checkCloud(config, tenants, cloudTenants, cloud, { err, warn });
  if (config.TWILIO_ACCOUNT_SID && !config.TWILIO_AUTH_TOKEN) err('TWILIO_AUTH_TOKEN', 'is not set while TWILIO_ACCOUNT_SID is', 'set TWILIO_AUTH_TOKEN');

  if (config.STRIPE_SECRET_KEY && !config.STRIPE_WEBHOOK_SECRET && !config.STRIPE_CONNECT_WEBHOOK_SECRET) {
    err('STRIPE_WEBHOOK_SECRET', 'no Stripe endpoint secret is set: payments are never marked paid', 'add the endpoint in the Stripe Dashboard and set STRIPE_CONNECT_WEBHOOK_SECRET (whsec_…)');
  }
  for (const t of all.filter((x) => (x.settings.plans?.length ?? 0) > 0 || x.settings.catalog_url)) {
    if (!config.STRIPE_SECRET_KEY) {
      warn(`tenant ${t.slug}`, 'sells (plans or catalog) but STRIPE_SECRET_KEY is not set', 'set STRIPE_SECRET_KEY');
      break;
    }
    if (!t.stripeAccountId) warn(`tenant ${t.slug}`, 'has no connected Stripe account', `zia stripe onboard ${t.slug}`);
    else if (!t.chargesEnabled) warn(`tenant ${t.slug}`, 'Stripe onboarding is not finished: charges are disabled', `zia stripe onboard ${t.slug} (send the new link to the business)`);
  }
  return findings;
}

type Report = (subject: string, problem: string, fix: string) => void;

/**
 * The WhatsApp Cloud API tenants: a token to call Meta with, then (given a client) what Meta says —
 * the token works, the number belongs to the WABA, an app (META_APP_ID's, when set) is subscribed to the
 * WABA, and the app subscribes the fields zia needs. Tokens appear in no finding: fixes name the setting.
 * The first time the Graph API cannot be reached, that is the one finding and the live checks stop.
 */
async function checkCloud(config: Config, tenants: TenantService, cloudTenants: Tenant[], cloud: CloudClient | undefined, report: { err: Report; warn: Report }): Promise<void> {
  const { err, warn } = report;
  const graph = `${config.META_GRAPH_URL}/${config.META_GRAPH_VERSION}`;
  const unreachable = (e: unknown) => e instanceof GraphError && e.info.network !== undefined;
  const offline = (e: GraphError) => err('Graph API', `could not reach the Graph API: ${networkReason(e)}`, `check this host's outbound access to ${config.META_GRAPH_URL} (META_GRAPH_URL)`);
  let live = cloud !== undefined;
  for (const t of cloudTenants) {
    const subject = `tenant ${t.slug}`;
    const token = secretsOf(tenants, t).whatsapp_access_token;
    if (!token) {
      err(subject, 'uses the WhatsApp Cloud API but has no whatsapp_access_token: nothing can be sent or checked', `zia tenant update ${t.slug} --set whatsapp_access_token=…`);
      continue;
    }
    if (!live || !cloud) continue;
    const wabaId = t.settings.whatsapp?.waba_id ?? '';
    const numberId = t.settings.whatsapp?.phone_number_id ?? '';
    const subscribe = `curl -X POST "${graph}/${wabaId}/subscribed_apps" -H "Authorization: Bearer <the whatsapp_access_token of ${t.slug}>"`;
    try {
      const numbers = await cloud.phoneNumbers(token, wabaId);
      if (!numbers.some((n) => n.id === numberId)) {
        const listed = numbers.map((n) => `${n.id}${n.display_phone_number ? ` (${n.display_phone_number})` : ''}`).join(', ');
        err(
          subject,
          `whatsapp.phone_number_id ${numberId} is not a number of WABA ${wabaId}: its messages never reach this tenant`,
          numbers.length > 0
            ? `the WABA's numbers are ${listed}: zia tenant update ${t.slug} --set whatsapp.phone_number_id=<one of them> (or correct whatsapp.waba_id)`
            : `WABA ${wabaId} has no phone numbers: add and register the number in WhatsApp Manager, or correct whatsapp.waba_id`,
        );
      }
      const apps = await cloud.subscribedApps(token, wabaId);
      if (apps.length === 0) err(subject, `no app is subscribed to WABA ${wabaId}: Meta sends its webhooks nowhere`, subscribe);
      else if (config.META_APP_ID && !apps.some((a) => a.id === config.META_APP_ID)) {
        err(subject, `WABA ${wabaId} sends its webhooks to app ${apps.map((a) => a.id).join(', ')}, not to META_APP_ID ${config.META_APP_ID}`, `${subscribe} (with a token of app ${config.META_APP_ID}), or correct META_APP_ID`);
      }
    } catch (e) {
      if (!(e instanceof GraphError)) throw e;
      if (unreachable(e)) {
        offline(e);
        live = false;
      } else if (e.info.code === 190) {
        err(subject, 'whatsapp_access_token is invalid or expired (190)', `make a new system user token in Business Settings, then zia tenant update ${t.slug} --set whatsapp_access_token=…`);
      } else if (e.info.code === 100) {
        err(subject, `the token cannot read WABA ${wabaId} (100): a wrong whatsapp.waba_id, or the WABA is not assigned to the token's system user`, `check the id (zia tenant update ${t.slug} --set whatsapp.waba_id=…) and assign the WABA to the system user in Business Settings`);
      } else {
        err(subject, `Meta refused the check of WABA ${wabaId}: ${e.reason}`, e.transient ? 'run zia webhooks check again later' : 'give the system user whatsapp_business_management and whatsapp_business_messaging on the WABA, and the tenant a new token');
      }
    }
  }
  if (!live || !cloud) return;
  if (!config.META_APP_ID) {
    warn('META_APP_ID', `is not set: the WhatsApp webhook fields (${WHATSAPP_CLOUD_FIELDS.join(', ')}) the app subscribes to cannot be checked`, "set META_APP_ID to the app's id (App Dashboard → App settings → Basic)");
    return;
  }
  if (!config.META_APP_SECRET) return; // already an error above
  try {
    const fields = await cloud.appFields(config.META_APP_ID, config.META_APP_SECRET);
    const missing = WHATSAPP_CLOUD_FIELDS.filter((f) => !fields.includes(f));
    if (missing.length > 0) {
      err(`Meta app ${config.META_APP_ID}`, `does not subscribe the WhatsApp Business Account webhook field${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, `App Dashboard → WhatsApp → Configuration → Webhook fields: subscribe ${missing.join(', ')}`);
    }
  } catch (e) {
    if (!(e instanceof GraphError)) throw e;
    if (unreachable(e)) offline(e);
    else if (e.info.code === 190) err('META_APP_ID', `META_APP_ID ${config.META_APP_ID} and META_APP_SECRET do not make a valid app access token (190)`, 'copy both from App Dashboard → App settings → Basic');
    else err(`Meta app ${config.META_APP_ID}`, `Meta refused reading its webhook subscriptions: ${e.reason}`, e.transient ? 'run zia webhooks check again later' : 'check META_APP_ID and META_APP_SECRET');
  }
}

/** Why a Graph call got no answer, in words. */
export function networkReason(e: GraphError): string {
  if (e.info.network === 'refused') return 'connection refused';
  if (e.info.network === 'timeout') return 'no answer in time';
  return e.info.message;
}

function secretsOf(tenants: TenantService, t: Tenant) {
  try {
    return tenants.secrets(t);
  } catch {
    return {};
  }
}
