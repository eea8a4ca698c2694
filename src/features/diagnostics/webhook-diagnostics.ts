import type { Config } from '../../config.js';
import type { Tenant, TenantService } from '../tenants/tenant-service.js';

export interface WebhookUrls {
  meta: { callback_url: string; verify_token_set: boolean; subscribe: { page: string[]; instagram: string[] } };
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
 * problem with the fix. Errors make `zia webhooks check` exit non-zero; warnings do not.
 */
export async function checkWebhooks(config: Config, tenants: TenantService): Promise<Finding[]> {
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
  if (metaTenants.length > 0 || config.META_VERIFY_TOKEN) {
    if (!config.META_APP_SECRET) err('META_APP_SECRET', 'is not set: every Meta webhook POST is refused', 'set META_APP_SECRET to the App Secret from the Meta App Dashboard');
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

function secretsOf(tenants: TenantService, t: Tenant) {
  try {
    return tenants.secrets(t);
  } catch {
    return {};
  }
}
