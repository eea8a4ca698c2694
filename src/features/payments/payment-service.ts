import type { Stripe } from 'stripe';
import type { Config } from '../../config.js';
import { ConflictError, NotConfiguredError, NotFoundError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { CatalogLookup } from '../catalog/catalog.types.js';
import type { EventService } from '../events/event-service.js';
import type { Tenant, TenantService } from '../tenants/tenant-service.js';
import type { Plan } from '../tenants/tenant.schemas.js';
import type { OrderRecord, OrderStore } from './order-store.js';
import type { LinkSource } from './payments.schemas.js';
import type { CheckoutCreator, CheckoutLink, CheckoutRequest } from './payments.types.js';
import type { StripeGateway } from './stripe-gateway.js';
import type { ConversationService } from '../chat/chat.types.js';

/** Sends a checkout link over WhatsApp; provided by the WhatsApp channel when it is configured. */
export interface WhatsAppLinkSender {
  /** Refuses (not configured, outside the window) before a link is made for nothing. */
  check?(tenant: Tenant, toE164: string): Promise<void>;
  /** `url`: the link in the text, for a channel that shows it as a button. */
  send(tenant: Tenant, toE164: string, text: string, url?: string): Promise<{ messageId: string }>;
}

/** What payments need of Stripe: the StripeGateway, or `zia eval`'s recorder of checkout sessions. */
export type PaymentGateway = Pick<StripeGateway, 'configured' | 'createExpressAccount' | 'createAccountLink' | 'retrievePrice' | 'createCheckoutSession'>;

export interface PaymentDeps {
  config: Pick<Config, 'SITE_URL' | 'ZIA_PLATFORM_FEE_PERCENT'>;
  gateway: PaymentGateway;
  orders: OrderStore;
  /** The conversation an order is made in must be the tenant's own. */
  conversations: Pick<ConversationService, 'get'>;
  tenants: TenantService;
  events: EventService;
  logger: Logger;
  /** The tenant's catalog: the only source of item names and prices. Absent → by-item answers 503. */
  catalog?: CatalogLookup;
  whatsapp?: WhatsAppLinkSender;
}

export interface OnboardResult {
  accountId: string;
  url: string;
  expiresAt: number;
  accountCreated: boolean;
  chargesEnabled: boolean;
  detailsSubmitted: boolean;
}

/** The onboarding result as the API and `zia stripe onboard --json` show it. */
export function onboardingView(tenant: Tenant, r: OnboardResult) {
  return {
    tenant: tenant.slug,
    account_id: r.accountId,
    url: r.url,
    expires_at: r.expiresAt,
    account_created: r.accountCreated,
    charges_enabled: r.chargesEnabled,
    details_submitted: r.detailsSubmitted,
  };
}

interface Priced {
  name: string;
  description?: string;
  unitAmount: number;
  currency: string;
  lineItem: Stripe.Checkout.SessionCreateParams.LineItem;
}

export class PaymentService implements CheckoutCreator {
  constructor(private readonly deps: PaymentDeps) {}

  /**
   * Creates the tenant's Express account once (the Idempotency-Key is derived from the tenant id, so
   * a retry after a lost response gets the same account back) and a fresh single-use onboarding link.
   */
  async onboard(tenant: Tenant, opts: { country?: string; email?: string } = {}): Promise<OnboardResult> {
    const { gateway, tenants, config } = this.deps;
    if (!gateway.configured) throw notConfigured();
    let current = tenant;
    let accountCreated = false;
    if (!current.stripeAccountId) {
      const account = await gateway.createExpressAccount({
        idempotencyKey: `zia-connect-account-${tenant.id}`,
        country: opts.country,
        email: opts.email,
        businessName: tenant.name,
        metadata: { tenant: tenant.slug, tenant_id: tenant.id },
      });
      current = await tenants.setStripe(tenant, {
        stripeAccountId: account.id,
        chargesEnabled: account.chargesEnabled,
        detailsSubmitted: account.detailsSubmitted,
      });
      accountCreated = true;
    }
    const slug = encodeURIComponent(tenant.slug);
    const link = await gateway.createAccountLink(current.stripeAccountId!, {
      refreshUrl: `${config.SITE_URL}/stripe/connect/refresh?tenant=${slug}`,
      returnUrl: `${config.SITE_URL}/stripe/connect/return?tenant=${slug}`,
    });
    return {
      accountId: current.stripeAccountId!,
      url: link.url,
      expiresAt: link.expiresAt,
      accountCreated,
      chargesEnabled: current.chargesEnabled,
      detailsSubmitted: current.detailsSubmitted,
    };
  }

  async createCheckout(tenant: Tenant, request: CheckoutRequest): Promise<CheckoutLink> {
    const { gateway, orders, events, config } = this.deps;
    if (!gateway.configured) throw notConfigured();
    if (request.kind === 'item' && !this.deps.catalog?.configured(tenant)) {
      throw new NotConfiguredError(`no catalog configured for tenant '${tenant.slug}': checkout by item needs settings.catalog_url`);
    }
    const accountId = assertCanCharge(tenant);
    const quantity = request.kind === 'plan' ? 1 : (request.quantity ?? 1);
    const priced = request.kind === 'plan' ? await this.pricePlan(tenant, accountId, request.ref) : await this.priceItem(tenant, request.ref);
    const conversationId = request.conversationId ?? null;
    // Another tenant's conversation is as unknown as a made-up id (404).
    if (conversationId) await this.deps.conversations.get(tenant.id, conversationId);

    const order = await orders.insertPending(tenant.id, {
      conversationId,
      kind: request.kind,
      ref: request.ref,
      name: priced.name,
      quantity,
      amount: priced.unitAmount * quantity,
      currency: priced.currency,
      customerEmail: request.customerEmail ?? null,
    });
    const metadata: Record<string, string> = { tenant: tenant.slug, order_id: order.id };
    if (conversationId) metadata.conversation_id = conversationId;
    const slug = encodeURIComponent(tenant.slug);
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: request.kind === 'plan' ? 'subscription' : 'payment',
      line_items: [{ ...priced.lineItem, quantity }],
      success_url: `${config.SITE_URL}/checkout/success?tenant=${slug}&session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${config.SITE_URL}/checkout/cancel?tenant=${slug}&order_id=${order.id}`,
      metadata,
      ...(conversationId ? { client_reference_id: conversationId } : {}),
      ...(request.customerEmail ? { customer_email: request.customerEmail } : {}),
    };
    const fee = config.ZIA_PLATFORM_FEE_PERCENT;
    if (request.kind === 'plan') {
      params.subscription_data = { metadata, ...(fee > 0 ? { application_fee_percent: Math.round(fee * 100) / 100 } : {}) };
    } else {
      const feeAmount = Math.round((order.amount * fee) / 100);
      params.payment_intent_data = { metadata, ...(feeAmount > 0 ? { application_fee_amount: feeAmount } : {}) };
    }

    let session;
    try {
      session = await gateway.createCheckoutSession(accountId, params, `zia-checkout-${order.id}`);
    } catch (err) {
      await orders.markFailedToCreate(tenant.id, order.id);
      throw err;
    }
    await orders.attachSession(tenant.id, order.id, session);
    await events.record(tenant.id, 'checkout_created', {
      conversationId,
      data: { order_id: order.id, kind: request.kind, ref: request.ref, amount: order.amount, currency: order.currency, quantity, session_id: session.id },
    });
    return {
      orderId: order.id,
      url: session.url,
      sessionId: session.id,
      kind: request.kind,
      name: priced.name,
      amount: order.amount,
      currency: order.currency,
      quantity,
    };
  }

  /** A link for a QR code or a WhatsApp message: a new one by plan or item, or an open order's own. */
  async linkFor(tenant: Tenant, source: LinkSource): Promise<CheckoutLink> {
    const common = { conversationId: source.conversation_id ?? null, customerEmail: source.customer_email ?? null };
    if (source.plan_id) return this.createCheckout(tenant, { kind: 'plan', ref: source.plan_id, ...common });
    if (source.item_id) return this.createCheckout(tenant, { kind: 'item', ref: source.item_id, quantity: source.quantity, ...common });
    const order = await this.deps.orders.get(tenant.id, source.order_id!);
    if (!order || !order.url || !order.stripeSessionId) throw new NotFoundError('order not found');
    if (order.status !== 'open') throw new ConflictError(`order is ${order.status}; create a new checkout link`);
    return {
      orderId: order.id,
      url: order.url,
      sessionId: order.stripeSessionId,
      kind: order.kind,
      name: order.name ?? order.ref,
      amount: order.amount,
      currency: order.currency,
      quantity: order.quantity,
    };
  }

  async sendLink(tenant: Tenant, toE164: string, source: LinkSource): Promise<{ link: CheckoutLink; messageId: string }> {
    const sender = this.deps.whatsapp;
    if (!sender) throw new NotConfiguredError('WhatsApp not configured: checkout links cannot be sent over WhatsApp yet');
    await sender.check?.(tenant, toE164);
    const link = await this.linkFor(tenant, source);
    const price = this.formatPrice(tenant, link.amount, link.currency);
    const what = link.quantity > 1 ? `${link.quantity} × ${link.name}` : link.name;
    const text = `${tenant.name}: here is your checkout link for ${what} (${price}${link.kind === 'plan' ? ' per period' : ''}):\n${link.url}`;
    const { messageId } = await sender.send(tenant, toE164, text, link.url);
    return { link, messageId };
  }

  formatPrice(tenant: Tenant, amountMinor: number, currency: string): string {
    if (this.deps.catalog) return this.deps.catalog.formatPrice(tenant, amountMinor, currency);
    return formatMoney(amountMinor, currency, tenant.settings.locale);
  }

  findOrderBySession(tenant: Tenant, sessionId: string): Promise<OrderRecord | undefined> {
    return this.deps.orders.findBySession(tenant.id, sessionId);
  }

  getOrder(tenant: Tenant, orderId: string): Promise<OrderRecord | undefined> {
    return this.deps.orders.get(tenant.id, orderId);
  }

  listOrders(tenant: Tenant, limit?: number): Promise<OrderRecord[]> {
    return this.deps.orders.list(tenant.id, limit);
  }

  private async pricePlan(tenant: Tenant, accountId: string, planId: string): Promise<Priced> {
    const plan = (tenant.settings.plans ?? []).find((p: Plan) => p.id === planId);
    if (!plan) throw new NotFoundError(`plan '${planId}' not found`);
    const product = { name: plan.name, ...(plan.description ? { description: plan.description } : {}) };
    if (plan.price_id) {
      // The price lives on the connected account (direct charges); its amount is read for the order.
      const known = plan.amount !== undefined && plan.currency !== undefined;
      const price = known ? { unitAmount: plan.amount!, currency: plan.currency! } : await this.deps.gateway.retrievePrice(accountId, plan.price_id);
      return { name: plan.name, unitAmount: price.unitAmount, currency: price.currency, lineItem: { price: plan.price_id } };
    }
    return {
      name: plan.name,
      unitAmount: plan.amount!,
      currency: plan.currency!,
      lineItem: { price_data: { currency: plan.currency!, unit_amount: plan.amount!, recurring: { interval: plan.interval! }, product_data: product } },
    };
  }

  private async priceItem(tenant: Tenant, itemId: string): Promise<Priced> {
    const item = await this.deps.catalog!.find(tenant, itemId);
    if (!item) throw new NotFoundError(`item '${itemId}' not found in the catalog`);
    if (item.available === false) throw new ConflictError(`item '${itemId}' is not available`);
    if (!Number.isInteger(item.price) || item.price <= 0) throw new ConflictError(`item '${itemId}' has no price`);
    const currency = item.currency.toLowerCase();
    const product = { name: item.name, ...(item.description ? { description: item.description.slice(0, 500) } : {}) };
    return { name: item.name, unitAmount: item.price, currency, lineItem: { price_data: { currency, unit_amount: item.price, product_data: product } } };
  }
}

/** The JSON shape of a checkout link, shared by the HTTP API and `zia checkout --json`. */
export function linkView(link: CheckoutLink) {
  return {
    url: link.url,
    order_id: link.orderId,
    session_id: link.sessionId,
    kind: link.kind,
    name: link.name,
    amount: link.amount,
    currency: link.currency,
    quantity: link.quantity,
  };
}

function notConfigured(): NotConfiguredError {
  return new NotConfiguredError('payments are disabled: set STRIPE_SECRET_KEY to the platform account\'s secret key');
}

function assertCanCharge(tenant: Tenant): string {
  if (!tenant.stripeAccountId) {
    throw new ConflictError(`tenant '${tenant.slug}' has no Stripe account yet: run \`zia stripe onboard ${tenant.slug}\``);
  }
  if (!tenant.chargesEnabled) {
    throw new ConflictError(`tenant '${tenant.slug}' cannot take payments yet: finish Stripe onboarding (\`zia stripe onboard ${tenant.slug}\`)`);
  }
  return tenant.stripeAccountId;
}

export function formatMoney(amountMinor: number, currency: string, locale?: string): string {
  try {
    const fmt = new Intl.NumberFormat(locale ?? 'en', { style: 'currency', currency: currency.toUpperCase() });
    const digits = fmt.resolvedOptions().maximumFractionDigits ?? 2;
    return fmt.format(amountMinor / 10 ** digits);
  } catch {
    return `${currency.toUpperCase()} ${(amountMinor / 100).toFixed(2)}`;
  }
}
