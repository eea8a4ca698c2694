import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';

/**
 * A small Stripe API on 127.0.0.1 that checks requests the way Stripe does: Bearer secret key,
 * form-encoded bodies with bracket nesting, Stripe-Account for connected accounts, Idempotency-Key
 * (same key and parameters → the same object; other parameters → idempotency_error). Objects are
 * shaped like Stripe's. It also signs webhook events with the SDK's own test-header helper.
 */

export interface SeenRequest {
  method: string;
  path: string;
  stripeAccount: string | undefined;
  idempotencyKey: string | undefined;
  stripeVersion: string | undefined;
  body: Record<string, any>;
}

type Obj = Record<string, any>;

class StripeError extends Error {
  constructor(readonly status: number, readonly body: Obj) {
    super(body.message);
  }
}

const invalid = (message: string, param?: string, code = 'parameter_invalid') =>
  new StripeError(400, { type: 'invalid_request_error', code, message, ...(param ? { param } : {}) });
const missing = (what: string, id: string, param?: string) =>
  new StripeError(404, { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${what}: '${id}'`, ...(param ? { param } : {}) });

/** Stripe's form encoding: `a[b][0][c]=v` → { a: { b: [ { c: 'v' } ] } }. */
export function parseStripeForm(text: string): Obj {
  const root: Obj = {};
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!m) throw invalid(`malformed parameter name '${key}'`);
    const path = [m[1]!, ...[...m[2]!.matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1]!)];
    let node: Obj = root;
    for (let i = 0; i < path.length - 1; i++) node = node[path[i]!] ??= {};
    node[path[path.length - 1]!] = value;
  }
  return toArrays(root) as Obj;
}

function toArrays(v: unknown): unknown {
  if (!v || typeof v !== 'object') return v;
  const o = v as Obj;
  const keys = Object.keys(o);
  const entries = keys.map((k) => [k, toArrays(o[k])] as const);
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return entries.sort((a, b) => Number(a[0]) - Number(b[0])).map(([, x]) => x);
  }
  return Object.fromEntries(entries);
}

const rid = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

export class FakeStripe {
  readonly requests: SeenRequest[] = [];
  readonly accounts = new Map<string, Obj>();
  readonly sessions = new Map<string, Obj & { _account: string | undefined }>();
  readonly prices = new Map<string, Obj & { _account: string }>();
  private readonly idempotent = new Map<string, { params: string; status: number; body: Obj }>();
  private readonly failures: Array<{ match: string; status: number; error: Obj }> = [];
  private readonly drops: string[] = [];
  private server?: Server;
  url = '';

  constructor(readonly secretKey = `sk_test_${randomBytes(12).toString('hex')}`) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** The next request whose "METHOD /path" starts with `match` fails with this Stripe error. */
  failNext(match: string, status: number, error: Obj): void {
    this.failures.push({ match, status, error });
  }

  /** The next matching request is carried out, but the connection drops before the answer (a lost response). */
  dropResponseNext(match: string): void {
    this.drops.push(match);
  }

  seen(method: string, path: string): SeenRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  /** What the tenant does on Stripe's onboarding pages: the account becomes able to charge. */
  completeOnboarding(accountId: string): Obj {
    const a = this.accounts.get(accountId)!;
    Object.assign(a, { charges_enabled: true, payouts_enabled: true, details_submitted: true, requirements: { currently_due: [], eventually_due: [], disabled_reason: null } });
    return structuredClone(a);
  }

  addPrice(account: string, p: { unit_amount: number; currency: string; interval?: 'day' | 'week' | 'month' | 'year' }): string {
    const id = rid('price');
    this.prices.set(id, {
      _account: account,
      id,
      object: 'price',
      active: true,
      currency: p.currency,
      unit_amount: p.unit_amount,
      type: p.interval ? 'recurring' : 'one_time',
      recurring: p.interval ? { interval: p.interval, interval_count: 1 } : null,
    });
    return id;
  }

  /** The session as Stripe reports it once the buyer finished checkout. */
  completedSession(id: string, paymentStatus: 'paid' | 'unpaid' = 'paid', email = 'buyer@example.com'): Obj {
    const s = this.sessions.get(id)!;
    Object.assign(s, {
      status: 'complete',
      payment_status: paymentStatus,
      customer: s.customer ?? rid('cus'),
      customer_details: { email },
      subscription: s.mode === 'subscription' ? (s.subscription ?? rid('sub')) : null,
      payment_intent: s.mode === 'payment' ? (s.payment_intent ?? rid('pi')) : null,
    });
    return publicCopy(s);
  }

  /** An event envelope as Stripe sends it to a Connect endpoint. */
  event(type: string, object: Obj, opts: { account?: string | null; created?: number; livemode?: boolean } = {}): Obj {
    return {
      id: rid('evt'),
      object: 'event',
      api_version: Stripe.API_VERSION,
      created: opts.created ?? now(),
      livemode: opts.livemode ?? false,
      pending_webhooks: 1,
      ...(opts.account === null ? {} : { account: opts.account ?? object.account ?? undefined }),
      request: { id: rid('req'), idempotency_key: null },
      type,
      data: { object },
    };
  }

  /** The Stripe-Signature header for a payload, made by the SDK's own helper. */
  static sign(payload: string, secret: string, timestamp?: number): string {
    return Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp !== undefined ? { timestamp } : {}) });
  }

  /** POSTs an event to a webhook URL the way Stripe does; `payload` overrides the body actually sent. */
  static async deliver(url: string, event: Obj, opts: { secret: string; timestamp?: number; payload?: string; signedPayload?: string }): Promise<Response> {
    const body = opts.payload ?? JSON.stringify(event, null, 2);
    const signature = FakeStripe.sign(opts.signedPayload ?? body, opts.secret, opts.timestamp);
    return fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signature, 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
      body,
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const header = (n: string) => (req.headers[n] as string | undefined) ?? undefined;
    const send = (status: number, body: Obj, extra: Record<string, string> = {}) => {
      const drop = this.drops.findIndex((d) => `${method} ${url.pathname}`.startsWith(d));
      if (drop >= 0 && status < 400) {
        this.drops.splice(drop, 1);
        res.socket?.destroy();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': rid('req'), 'stripe-should-retry': 'false', ...extra });
      res.end(JSON.stringify(body));
    };
    try {
      const auth = header('authorization');
      if (auth !== `Bearer ${this.secretKey}`) {
        throw new StripeError(401, { type: 'invalid_request_error', message: auth?.startsWith('Bearer ') ? 'Invalid API Key provided' : 'You did not provide an API key.' });
      }
      const body = method === 'GET' ? parseStripeForm(url.search.slice(1)) : parseStripeForm(raw);
      const account = header('stripe-account');
      const idem = header('idempotency-key');
      this.requests.push({ method, path: url.pathname, stripeAccount: account, idempotencyKey: idem, stripeVersion: header('stripe-version'), body });
      const failure = this.failures.findIndex((f) => `${method} ${url.pathname}`.startsWith(f.match));
      if (failure >= 0) {
        const [f] = this.failures.splice(failure, 1);
        throw new StripeError(f!.status, f!.error);
      }
      if (account && !this.accounts.has(account)) {
        throw new StripeError(403, { type: 'invalid_request_error', code: 'account_invalid', message: `The provided key does not have access to account '${account}' (or that account does not exist).` });
      }
      if (method === 'POST' && idem) {
        const key = `${account ?? ''}|${url.pathname}|${idem}`;
        const prior = this.idempotent.get(key);
        if (prior) {
          if (prior.params !== raw) {
            throw new StripeError(400, { type: 'idempotency_error', message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idem}' if you meant to execute a different request.` });
          }
          return send(prior.status, prior.body, { 'idempotent-replayed': 'true' });
        }
        const out = this.route(method, url.pathname, body, account);
        this.idempotent.set(key, { params: raw, status: 200, body: out });
        return send(200, out);
      }
      send(200, this.route(method, url.pathname, body, account));
    } catch (err) {
      if (err instanceof StripeError) send(err.status, { error: err.body });
      else send(500, { error: { type: 'api_error', message: String(err) } });
    }
  }

  private route(method: string, path: string, body: Obj, account: string | undefined): Obj {
    let m: RegExpExecArray | null;
    if (method === 'POST' && path === '/v1/accounts') return this.createAccount(body);
    if (method === 'GET' && (m = /^\/v1\/accounts\/([\w]+)$/.exec(path))) {
      const a = this.accounts.get(m[1]!);
      if (!a) throw missing('account', m[1]!);
      return structuredClone(a);
    }
    if (method === 'POST' && path === '/v1/account_links') return this.createAccountLink(body);
    if (method === 'POST' && path === '/v1/checkout/sessions') return this.createSession(body, account);
    if (method === 'GET' && (m = /^\/v1\/checkout\/sessions\/([\w]+)$/.exec(path))) {
      const s = this.sessions.get(m[1]!);
      if (!s || s._account !== account) throw missing('checkout.session', m[1]!);
      return publicCopy(s);
    }
    if (method === 'GET' && (m = /^\/v1\/prices\/([\w]+)$/.exec(path))) {
      const p = this.prices.get(m[1]!);
      if (!p || p._account !== account) throw missing('price', m[1]!);
      return publicCopy(p);
    }
    throw new StripeError(404, { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path}).` });
  }

  private createAccount(body: Obj): Obj {
    if (!body.type && !body.controller) throw invalid('You must provide either type or controller.', 'type', 'parameter_missing');
    if (body.type && !['express', 'standard', 'custom'].includes(body.type)) throw invalid(`Invalid type: must be one of custom, express, or standard`, 'type');
    const id = `acct_${randomBytes(8).toString('hex').toUpperCase()}`;
    const account = {
      id,
      object: 'account',
      type: body.type ?? 'none',
      country: body.country ?? 'US',
      email: body.email ?? null,
      business_profile: body.business_profile ?? {},
      capabilities: Object.fromEntries(Object.keys(body.capabilities ?? {}).map((k) => [k, 'inactive'])),
      charges_enabled: false,
      payouts_enabled: false,
      details_submitted: false,
      metadata: body.metadata ?? {},
      requirements: { currently_due: ['business_type', 'external_account', 'tos_acceptance.date'], eventually_due: [], disabled_reason: 'requirements.past_due' },
      created: now(),
    };
    this.accounts.set(id, account);
    return structuredClone(account);
  }

  private createAccountLink(body: Obj): Obj {
    for (const p of ['account', 'refresh_url', 'return_url', 'type']) if (!body[p]) throw invalid(`Missing required param: ${p}.`, p, 'parameter_missing');
    if (!this.accounts.has(body.account)) throw missing('account', body.account, 'account');
    if (!['account_onboarding', 'account_update'].includes(body.type)) throw invalid('Invalid type', 'type');
    for (const p of ['refresh_url', 'return_url']) if (!/^https?:\/\//.test(body[p])) throw invalid(`Invalid URL: ${body[p]}`, p, 'url_invalid');
    const created = now();
    return { object: 'account_link', created, expires_at: created + 300, url: `https://connect.stripe.com/setup/e/${body.account}/${randomBytes(9).toString('base64url')}` };
  }

  private createSession(body: Obj, account: string | undefined): Obj {
    const mode = body.mode;
    if (!['payment', 'subscription', 'setup'].includes(mode)) throw invalid('Missing required param: mode.', 'mode', 'parameter_missing');
    if (!body.success_url) throw invalid('Missing required param: success_url.', 'success_url', 'parameter_missing');
    const items: Obj[] = Array.isArray(body.line_items) ? body.line_items : [];
    if (items.length === 0) throw invalid('line_items is required in payment and subscription mode.', 'line_items', 'parameter_missing');
    if (account && !this.accounts.get(account)!.charges_enabled) throw invalid('This account cannot currently make charges.', undefined, 'account_invalid');
    let total = 0;
    let currency: string | undefined;
    let recurring = false;
    items.forEach((li, i) => {
      const qty = Number(li.quantity ?? 1);
      if (!Number.isInteger(qty) || qty < 1) throw invalid('Invalid positive integer', `line_items[${i}][quantity]`);
      let unit: number;
      if (li.price) {
        const p = this.prices.get(li.price);
        if (!p || p._account !== account) throw missing('price', li.price, `line_items[${i}][price]`);
        unit = p.unit_amount;
        currency = p.currency;
        recurring ||= p.recurring !== null;
      } else if (li.price_data) {
        const pd = li.price_data;
        if (!pd.currency) throw invalid('Missing required param: line_items[0][price_data][currency].', `line_items[${i}][price_data][currency]`, 'parameter_missing');
        if (!/^\d+$/.test(pd.unit_amount ?? '')) throw invalid('Invalid integer', `line_items[${i}][price_data][unit_amount]`);
        if (!pd.product && !pd.product_data?.name) throw invalid('Missing required param: product_data[name].', `line_items[${i}][price_data][product_data][name]`, 'parameter_missing');
        unit = Number(pd.unit_amount);
        currency = pd.currency;
        recurring ||= Boolean(pd.recurring?.interval);
      } else throw invalid('You must specify either price or price_data.', `line_items[${i}]`, 'parameter_missing');
      total += unit * qty;
    });
    if (mode === 'subscription' && !recurring) throw invalid('You must provide at least one recurring price in `subscription` mode when using prices.', 'line_items');
    if (mode === 'payment' && recurring) throw invalid('You specified `payment` mode but passed a recurring price.', 'line_items');
    if (body.payment_intent_data && mode !== 'payment') throw invalid('payment_intent_data can only be used in payment mode.', 'payment_intent_data');
    if (body.subscription_data && mode !== 'subscription') throw invalid('subscription_data can only be used in subscription mode.', 'subscription_data');
    const fee = body.payment_intent_data?.application_fee_amount ?? body.subscription_data?.application_fee_percent;
    if (fee !== undefined && !account && !body.payment_intent_data?.transfer_data && !body.subscription_data?.transfer_data) {
      throw invalid('Can only apply an application_fee when the request is made on behalf of another account (using an OAuth key, the Stripe-Account header, or the destination parameter).');
    }
    const id = `cs_test_${randomBytes(24).toString('base64url').replace(/[-_]/g, 'a')}`;
    const created = now();
    const session = {
      _account: account,
      id,
      object: 'checkout.session',
      mode,
      status: 'open',
      payment_status: 'unpaid',
      url: `https://checkout.stripe.com/c/pay/${id}#fidkdWxOYHwnPyd1blpxYHZxWjA0`,
      success_url: body.success_url,
      cancel_url: body.cancel_url ?? null,
      client_reference_id: body.client_reference_id ?? null,
      customer: null,
      customer_email: body.customer_email ?? null,
      metadata: body.metadata ?? {},
      amount_subtotal: total,
      amount_total: total,
      currency,
      livemode: false,
      created,
      expires_at: created + 86_400,
      subscription: null,
      payment_intent: null,
      line_items_sent: items,
      payment_intent_data: body.payment_intent_data ?? null,
      subscription_data: body.subscription_data ?? null,
    };
    this.sessions.set(id, session);
    return publicCopy(session);
  }
}

function publicCopy(o: Obj): Obj {
  const { _account, line_items_sent, payment_intent_data, subscription_data, ...rest } = o;
  return structuredClone(rest);
}
