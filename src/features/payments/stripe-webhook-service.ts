import type { Logger } from '../../logger.js';
import type { ConversationService } from '../chat/chat.types.js';
import type { EventService } from '../events/event-service.js';
import type { Tenant, TenantService } from '../tenants/tenant-service.js';
import type { OrderRecord, OrderStore } from './order-store.js';
import type { ClaimedOutcome, WebhookStore } from '../webhooks/webhook-store.js';
import type { StripeEvent, StripeGateway } from './stripe-gateway.js';
import { type Tx } from '../../db/unit-of-work.js';

/** Called once per order, after the transaction that made it paid (and stored its thank-you) has committed. */
export type PaidOrderHook = (order: OrderRecord, tenant: Tenant) => Promise<void>;

export interface WebhookDeps {
  gateway: StripeGateway;
  orders: OrderStore;
  /** The webhook inbox, where each Stripe event id is claimed once. */
  inbox: Pick<WebhookStore, 'claimingTransaction' | 'claim' | 'finishClaimed'>;
  tenants: TenantService;
  events: EventService;
  logger: Logger;
  /**
   * Where the thank-you goes: the buyer's conversation (the container's sends store it and queue its
   * delivery on the buyer's channel), in the transaction that marks the order paid, so a payment is
   * never recorded without its thank-you.
   */
  conversations: Pick<ConversationService, 'appendMessage'>;
  onPaid?: PaidOrderHook;
}

export interface WebhookResult {
  eventId: string;
  duplicate: boolean;
  outcome: ClaimedOutcome | 'duplicate';
}

interface Outcome {
  outcome: ClaimedOutcome;
  note: string | null;
  paid: OrderRecord[];
}

const ignored = (note: string): Outcome => ({ outcome: 'ignored', note, paid: [] });

/**
 * The Stripe webhook: verify the signature on the exact bytes, then — in one transaction — claim the
 * event id in the inbox and apply its database effects. A repeat delivery finds the id taken and
 * changes nothing; events that arrive out of order can only move orders forward (paid is terminal).
 */
export class StripeWebhookService {
  constructor(private readonly deps: WebhookDeps) {}

  async handle(rawBody: Buffer | undefined, signature: string | undefined): Promise<WebhookResult> {
    const { gateway, inbox, logger } = this.deps;
    const event = await gateway.verifyEvent(rawBody, signature);
    // Lookups that read outside the transaction happen first (SQLite has a single connection).
    const tenant = event.account ? await this.deps.tenants.findByRouting('stripe_account_id', event.account) : undefined;
    const account = event.type === 'account.updated' && tenant ? await this.accountState(event) : undefined;

    const tenantId = tenant?.id ?? null;
    const result = await inbox.claimingTransaction(async (trx) => {
      const item = { provider: 'stripe', externalId: event.id, tenantId, kind: event.type.slice(0, 32), payload: rawBody!.toString('utf8') };
      if (!(await inbox.claim(item, trx))) return undefined;
      const done = await this.apply(event, tenant, account, trx);
      await inbox.finishClaimed('stripe', event.id, tenantId, done.outcome, done.note, trx);
      return done;
    });
    if (!result) {
      logger.debug({ event_id: event.id, type: event.type }, 'stripe event already processed');
      return { eventId: event.id, duplicate: true, outcome: 'duplicate' };
    }
    logger.info({ event_id: event.id, type: event.type, outcome: result.outcome, note: result.note ?? undefined }, 'stripe event');
    for (const order of result.paid) await this.afterPaid(order, tenant!);
    return { eventId: event.id, duplicate: false, outcome: result.outcome };
  }

  private async apply(event: StripeEvent, tenant: Tenant | undefined, account: AccountState | undefined, trx: Tx): Promise<Outcome> {
    const live = this.deps.gateway.livemode;
    if (live !== undefined && event.livemode !== live) return ignored(`${event.livemode ? 'live' : 'test'}-mode event for a ${live ? 'live' : 'test'} key`);
    if (!event.account) return ignored('not from a connected account');
    if (!tenant) return ignored(`no tenant for account ${event.account}`);
    const obj = event.data.object;
    switch (event.type) {
      case 'account.updated':
        await this.deps.tenants.setStripe(tenant, account!, { trx });
        return { outcome: 'processed', note: null, paid: [] };
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded':
        return this.sessionPaidOrPending(tenant, obj, event.type === 'checkout.session.async_payment_succeeded', trx);
      case 'checkout.session.async_payment_failed':
      case 'checkout.session.expired':
        return this.sessionClosed(tenant, obj, event.type === 'checkout.session.expired' ? 'expired' : 'failed', trx);
      case 'invoice.paid':
        return this.invoicePaid(tenant, obj, trx);
      case 'customer.subscription.updated':
      case 'customer.subscription.deleted':
        return this.subscriptionChanged(tenant, obj, event, trx);
      default:
        return ignored(`unhandled event type ${event.type}`);
    }
  }

  private async sessionPaidOrPending(tenant: Tenant, session: Record<string, any>, asyncSucceeded: boolean, trx: Tx): Promise<Outcome> {
    const order = await this.orderOfSession(tenant, session, trx);
    if (!order) return ignored(`no order for session ${session.id}`);
    const facts = { subscriptionId: idOf(session.subscription), customerEmail: session.customer_details?.email ?? session.customer_email ?? null };
    const paid = asyncSucceeded || session.payment_status === 'paid' || session.payment_status === 'no_payment_required';
    if (!paid) {
      // An async method (bank debit…) is still settling: wait for async_payment_succeeded/failed.
      await this.deps.orders.noteSession(tenant.id, order.id, facts, trx);
      return { outcome: 'processed', note: 'payment pending', paid: [] };
    }
    return this.markPaid(tenant, order, facts, { session_id: session.id, amount_total: session.amount_total ?? order.amount }, trx);
  }

  private async sessionClosed(tenant: Tenant, session: Record<string, any>, status: 'expired' | 'failed', trx: Tx): Promise<Outcome> {
    const order = await this.orderOfSession(tenant, session, trx);
    if (!order) return ignored(`no order for session ${session.id}`);
    const changed = await this.deps.orders.closeUnpaid(tenant.id, order.id, status, trx);
    if (changed && status === 'failed') {
      await this.deps.events.record(tenant.id, 'payment_failed', { conversationId: order.conversationId, data: { order_id: order.id, session_id: session.id }, trx });
    }
    return { outcome: 'processed', note: changed ? null : `order already ${order.status}`, paid: [] };
  }

  /** The first invoice can beat checkout.session.completed; later ones (renewals) are recorded. */
  private async invoicePaid(tenant: Tenant, invoice: Record<string, any>, trx: Tx): Promise<Outcome> {
    const details = invoice.parent?.subscription_details ?? {};
    const subscriptionId = idOf(details.subscription) ?? idOf(invoice.subscription);
    let order = subscriptionId ? await this.deps.orders.findBySubscription(tenant.id, subscriptionId, trx) : undefined;
    if (!order && typeof details.metadata?.order_id === 'string') order = await this.deps.orders.get(tenant.id, details.metadata.order_id, trx);
    if (!order) return ignored(`no order for subscription ${subscriptionId ?? '(none)'}`);
    if (invoice.billing_reason === 'subscription_create') {
      const facts = { subscriptionId, customerEmail: invoice.customer_email ?? null };
      return this.markPaid(tenant, order, facts, { invoice_id: invoice.id, amount_total: invoice.amount_paid ?? order.amount }, trx);
    }
    await this.deps.events.record(tenant.id, 'payment_completed', {
      conversationId: order.conversationId,
      data: { order_id: order.id, kind: order.kind, ref: order.ref, renewal: true, invoice_id: invoice.id, amount: invoice.amount_paid, currency: invoice.currency },
      trx,
    });
    return { outcome: 'processed', note: 'renewal', paid: [] };
  }

  private async subscriptionChanged(tenant: Tenant, sub: Record<string, any>, event: StripeEvent, trx: Tx): Promise<Outcome> {
    let order = await this.deps.orders.findBySubscription(tenant.id, sub.id, trx);
    if (!order && typeof sub.metadata?.order_id === 'string') order = await this.deps.orders.get(tenant.id, sub.metadata.order_id, trx);
    if (!order) return ignored(`no order for subscription ${sub.id}`);
    const status = event.type === 'customer.subscription.deleted' ? 'canceled' : String(sub.status ?? 'unknown').slice(0, 24);
    const applied = await this.deps.orders.setSubscriptionStatus(tenant.id, order.id, status, event.created, trx);
    return { outcome: 'processed', note: applied ? null : 'older than the recorded status', paid: [] };
  }

  private async markPaid(
    tenant: Tenant,
    order: OrderRecord,
    facts: { subscriptionId: string | null; customerEmail: string | null },
    data: Record<string, unknown>,
    trx: Tx,
  ): Promise<Outcome> {
    const changed = await this.deps.orders.markPaid(tenant.id, order.id, facts, trx);
    if (!changed) return { outcome: 'processed', note: 'order already paid', paid: [] };
    await this.deps.events.record(tenant.id, 'payment_completed', {
      conversationId: order.conversationId,
      data: { order_id: order.id, kind: order.kind, ref: order.ref, amount: order.amount, currency: order.currency, ...data },
      trx,
    });
    const paid = (await this.deps.orders.get(tenant.id, order.id, trx))!;
    await this.thankYou(paid, tenant, trx);
    return { outcome: 'processed', note: null, paid: [paid] };
  }

  private async orderOfSession(tenant: Tenant, session: Record<string, any>, trx: Tx): Promise<OrderRecord | undefined> {
    if (typeof session.id === 'string') {
      const bySession = await this.deps.orders.findBySession(tenant.id, session.id, trx);
      if (bySession) return bySession;
    }
    const orderId = session.metadata?.order_id;
    return typeof orderId === 'string' ? this.deps.orders.get(tenant.id, orderId, trx) : undefined;
  }

  /**
   * account.updated events can arrive out of order; the account as Stripe has it now is the truth.
   * Without a platform key (or if Stripe cannot be reached) the event's own copy is used.
   */
  private async accountState(event: StripeEvent): Promise<AccountState> {
    const obj = event.data.object;
    const fromEvent = { chargesEnabled: Boolean(obj.charges_enabled), detailsSubmitted: Boolean(obj.details_submitted) };
    if (!this.deps.gateway.configured) return fromEvent;
    try {
      const a = await this.deps.gateway.retrieveAccount(event.account!);
      return { chargesEnabled: a.chargesEnabled, detailsSubmitted: a.detailsSubmitted };
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, account: event.account }, 'could not re-fetch the Stripe account; using the event');
      return fromEvent;
    }
  }

  private async thankYou(order: OrderRecord, tenant: Tenant, trx: Tx): Promise<void> {
    const { conversations } = this.deps;
    if (!order.conversationId) return;
    const what = order.quantity > 1 ? `${order.quantity} × ${order.name ?? order.ref}` : (order.name ?? order.ref);
    await conversations.appendMessage(
      tenant.id,
      order.conversationId,
      { role: 'assistant', text: `Thank you! Your payment for ${what} has been received. ${tenant.name} will be in touch if anything else is needed.` },
      trx,
    );
  }

  private async afterPaid(order: OrderRecord, tenant: Tenant): Promise<void> {
    try {
      await this.deps.onPaid?.(order, tenant);
    } catch (err) {
      this.deps.logger.error({ err, order_id: order.id }, 'payment recorded, but the paid-order hook failed');
    }
  }
}

type AccountState = { chargesEnabled: boolean; detailsSubmitted: boolean };

function idOf(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string') return (value as { id: string }).id;
  return null;
}
