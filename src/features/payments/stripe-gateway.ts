import type { Stripe } from 'stripe';
import type { Config } from '../../config.js';
import { AppError, NotConfiguredError, UpstreamError } from '../../errors.js';
import { packageVersion } from '../../paths.js';
import { withoutNul } from '../../validation.js';

/**
 * The only code that talks to Stripe. The SDK is imported on first use so `zia --help` stays fast;
 * STRIPE_API_URL points it at a proxy or a local fake (the SDK takes host, port and protocol apart).
 */

export type StripeConfig = Pick<Config, 'STRIPE_SECRET_KEY' | 'STRIPE_API_URL' | 'STRIPE_WEBHOOK_SECRET' | 'STRIPE_CONNECT_WEBHOOK_SECRET'>;

export interface ConnectedAccount {
  id: string;
  chargesEnabled: boolean;
  detailsSubmitted: boolean;
  payoutsEnabled: boolean;
}

export interface AccountLinkResult {
  url: string;
  expiresAt: number;
}

export interface CheckoutSessionResult {
  id: string;
  url: string;
}

export interface PriceInfo {
  unitAmount: number;
  currency: string;
  recurring: boolean;
}

/** The webhook event as zia reads it: the envelope, with the object left loosely typed. */
export interface StripeEvent {
  id: string;
  type: string;
  created: number;
  livemode: boolean;
  account?: string | null;
  data: { object: Record<string, any>; previous_attributes?: Record<string, unknown> };
}

export class SignatureError extends AppError {
  constructor(message: string) {
    super(400, 'invalid_signature', message);
  }
}

type StripeModule = typeof import('stripe');

export function splitApiUrl(url: string): { host: string; port: number; protocol: 'http' | 'https' } {
  const u = new URL(url);
  const protocol = u.protocol === 'http:' ? 'http' : 'https';
  // WHATWG keeps IPv6 brackets in hostname; Node's http.request wants the bare address.
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port ? Number(u.port) : protocol === 'http' ? 80 : 443, protocol };
}

export class StripeGateway {
  private sdk?: Promise<StripeModule>;
  private client?: Stripe;

  constructor(private readonly config: StripeConfig) {}

  get configured(): boolean {
    return Boolean(this.config.STRIPE_SECRET_KEY);
  }

  /** Test keys only see test events and live keys live ones; undefined when no key is set. */
  get livemode(): boolean | undefined {
    const key = this.config.STRIPE_SECRET_KEY;
    if (!key) return undefined;
    return /^(sk|rk)_live_/.test(key);
  }

  async createExpressAccount(input: { idempotencyKey: string; country?: string; email?: string; metadata: Record<string, string>; businessName: string }): Promise<ConnectedAccount> {
    const stripe = await this.api();
    const account = await this.call(() =>
      stripe.accounts.create(
        {
          type: 'express',
          ...(input.country ? { country: input.country } : {}),
          ...(input.email ? { email: input.email } : {}),
          capabilities: { card_payments: { requested: true }, transfers: { requested: true } },
          business_profile: { name: input.businessName },
          metadata: input.metadata,
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    return toAccount(account);
  }

  async retrieveAccount(accountId: string): Promise<ConnectedAccount> {
    const stripe = await this.api();
    return toAccount(await this.call(() => stripe.accounts.retrieve(accountId)));
  }

  async createAccountLink(accountId: string, urls: { refreshUrl: string; returnUrl: string }): Promise<AccountLinkResult> {
    const stripe = await this.api();
    const link = await this.call(() =>
      stripe.accountLinks.create({ account: accountId, type: 'account_onboarding', refresh_url: urls.refreshUrl, return_url: urls.returnUrl }),
    );
    return { url: link.url, expiresAt: link.expires_at };
  }

  /** A price on the connected account (plans that name a Stripe price id). */
  async retrievePrice(accountId: string, priceId: string): Promise<PriceInfo> {
    const stripe = await this.api();
    const price = await this.call(() => stripe.prices.retrieve(priceId, {}, { stripeAccount: accountId }));
    if (price.unit_amount === null) throw new UpstreamError(`price ${priceId} has no fixed unit amount`);
    return { unitAmount: price.unit_amount, currency: price.currency, recurring: price.recurring !== null };
  }

  /** A direct charge: the session lives on the connected account (Stripe-Account header). */
  async createCheckoutSession(accountId: string, params: Stripe.Checkout.SessionCreateParams, idempotencyKey: string): Promise<CheckoutSessionResult> {
    const stripe = await this.api();
    const session = await this.call(() => stripe.checkout.sessions.create(params, { stripeAccount: accountId, idempotencyKey }));
    if (!session.url) throw new UpstreamError('Stripe returned a checkout session without a URL');
    return { id: session.id, url: session.url };
  }

  /**
   * Verifies a webhook against the platform endpoint secret, then the Connect endpoint secret, on the
   * exact bytes received. Throws SignatureError (400) when neither matches or the timestamp is stale.
   */
  async verifyEvent(rawBody: Buffer | undefined, signature: string | undefined): Promise<StripeEvent> {
    const secrets = [this.config.STRIPE_WEBHOOK_SECRET, this.config.STRIPE_CONNECT_WEBHOOK_SECRET].filter((s): s is string => Boolean(s));
    if (secrets.length === 0) {
      throw new NotConfiguredError('Stripe webhooks are disabled: set STRIPE_WEBHOOK_SECRET and/or STRIPE_CONNECT_WEBHOOK_SECRET');
    }
    if (!rawBody || rawBody.length === 0) throw new SignatureError('empty body');
    if (!signature) throw new SignatureError('missing Stripe-Signature header');
    const { default: StripeCtor } = await this.loadSdk();
    for (const secret of secrets) {
      try {
        // The signature covers the bytes as sent; what is kept and acted on has no U+0000 (see withoutNul).
        return withoutNul(StripeCtor.webhooks.constructEvent(rawBody, signature, secret) as unknown as StripeEvent);
      } catch {
        // try the next endpoint secret
      }
    }
    throw new SignatureError('signature verification failed');
  }

  private loadSdk(): Promise<StripeModule> {
    this.sdk ??= import('stripe');
    return this.sdk;
  }

  private async api(): Promise<Stripe> {
    const key = this.config.STRIPE_SECRET_KEY;
    if (!key) throw new NotConfiguredError('payments are disabled: set STRIPE_SECRET_KEY to the platform account\'s secret key');
    if (this.client) return this.client;
    const { default: StripeCtor } = await this.loadSdk();
    const target = this.config.STRIPE_API_URL ? splitApiUrl(this.config.STRIPE_API_URL) : {};
    this.client = new StripeCtor(key, {
      // Pinned to the version this SDK was built for, so payloads match its types.
      apiVersion: StripeCtor.API_VERSION as Stripe.LatestApiVersion,
      timeout: 20_000,
      appInfo: { name: 'zia', version: packageVersion() },
      ...target,
    });
    return this.client;
  }

  /** Stripe's errors become AppErrors: the message is Stripe's own, never the key or the request. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = err as { type?: string; message?: string; statusCode?: number; code?: string };
      if (e?.type === 'StripeAuthenticationError') {
        throw new UpstreamError('Stripe rejected the platform key (check STRIPE_SECRET_KEY)');
      }
      if (typeof e?.type === 'string' && e.type.startsWith('Stripe')) {
        throw new UpstreamError(`Stripe: ${e.message ?? 'request failed'}`, { stripe_status: e.statusCode, stripe_code: e.code });
      }
      throw err;
    }
  }
}

function toAccount(a: Stripe.Account): ConnectedAccount {
  return {
    id: a.id,
    chargesEnabled: Boolean(a.charges_enabled),
    detailsSubmitted: Boolean(a.details_submitted),
    payoutsEnabled: Boolean(a.payouts_enabled),
  };
}
