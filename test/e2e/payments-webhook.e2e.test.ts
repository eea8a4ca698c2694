import test from 'ava';
import { FakeStripe } from '../fakes/stripe-api.js';
import { dialects } from '../helpers/db.js';
import { CONNECT_SECRET, WEBHOOK_SECRET, connectedTenant, conversationOf, recordingConversations, startPayments, type PaymentsHarness } from '../helpers/stripe.js';

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function checkout(h: PaymentsHarness, slug: string, body: Record<string, unknown>) {
  const path = body.plan_id ? 'by-plan' : 'by-item';
  const res = await post(`${h.app.url}/v1/stripe/checkout/${path}?tenant=${slug}`, body);
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { order_id: string; session_id: string; url: string };
}

async function state(h: PaymentsHarness, tenantId: string) {
  const k = h.app.services.db.knex;
  const orders = await k('orders').where({ tenant_id: tenantId }).orderBy('id').select('id', 'status', 'paid_at', 'stripe_subscription_id', 'subscription_status', 'customer_email');
  const events = await k('events').where({ tenant_id: tenantId }).orderBy('id').select('type', 'conversation_id');
  const deliveries = await k('webhook_deliveries').where({ provider: 'stripe' }).orderBy('id').select('external_id', 'status');
  const tenants = await k('tenants').orderBy('id').select('slug', 'charges_enabled', 'details_submitted', 'stripe_account_id');
  return JSON.stringify({ orders, events, deliveries, tenants });
}

for (const dialect of dialects()) {
  test(`${dialect}: a signed checkout.session.completed marks the order paid once, however often it is delivered`, async (t) => {
    const convs = recordingConversations();
    const paidHook: string[] = [];
    const h = await startPayments(dialect, { services: { thankYouTo: convs.service, onPaid: async (o) => void paidHook.push(o.id) } });
    try {
      const tenant = await connectedTenant(h, 'beans');
      const conv = await conversationOf(h, tenant.id);
      const link = await checkout(h, 'beans', { plan_id: 'basic', conversation_id: conv });
      const event = h.fake.event('checkout.session.completed', h.fake.completedSession(link.session_id, 'paid', 'ada@example.com'), { account: tenant.stripeAccountId });
      const webhook = `${h.app.url}/v1/stripe/webhook`;

      // Sequential repeats, then a burst of concurrent ones.
      for (let i = 0; i < 3; i++) t.is((await FakeStripe.deliver(webhook, event, { secret: CONNECT_SECRET })).status, 200);
      const burst = await Promise.all(Array.from({ length: 8 }, () => FakeStripe.deliver(webhook, event, { secret: CONNECT_SECRET })));
      t.deepEqual(burst.map((r) => r.status), Array(8).fill(200));

      const order = await h.app.services.payments.getOrder(tenant, link.order_id);
      t.is(order!.status, 'paid');
      t.truthy(order!.paidAt);
      t.is(order!.customerEmail, 'ada@example.com');
      t.truthy(order!.stripeSubscriptionId);
      const paidEvents = await h.app.services.events.list(tenant.id, { type: 'payment_completed', limit: 10 });
      t.is(paidEvents.length, 1, 'payment_completed recorded exactly once');
      t.is(paidEvents[0]!.conversationId, conv);
      t.is(convs.messages.length, 1, 'one thank-you in the buyer\'s conversation');
      t.like(convs.messages[0], { tenantId: tenant.id, conversationId: conv, role: 'assistant' });
      t.regex(convs.messages[0]!.text, /Thank you! Your payment for Basic coffee club has been received/);
      t.deepEqual(paidHook, [link.order_id]);
      const rows = await h.app.services.db.knex('webhook_deliveries').where({ provider: 'stripe', external_id: event.id });
      t.is(rows.length, 1);
      t.is(rows[0].status, 'processed');
      t.is(rows[0].tenant_id, tenant.id);

      // Out of order: the session's expiry arriving after payment does not un-pay it.
      const expired = h.fake.event('checkout.session.expired', { ...event.data.object, status: 'expired' }, { account: tenant.stripeAccountId });
      t.is((await FakeStripe.deliver(webhook, expired, { secret: CONNECT_SECRET })).status, 200);
      t.is((await h.app.services.payments.getOrder(tenant, link.order_id))!.status, 'paid');

      // The first invoice of the subscription adds nothing; a renewal is recorded.
      const sub = order!.stripeSubscriptionId!;
      const invoice = (reason: string) => ({ id: `in_${reason}`, object: 'invoice', billing_reason: reason, amount_paid: 1900, currency: 'nok', parent: { type: 'subscription_details', subscription_details: { subscription: sub, metadata: { order_id: link.order_id } } } });
      await FakeStripe.deliver(webhook, h.fake.event('invoice.paid', invoice('subscription_create'), { account: tenant.stripeAccountId }), { secret: CONNECT_SECRET });
      const renewal = h.fake.event('invoice.paid', invoice('subscription_cycle'), { account: tenant.stripeAccountId });
      await FakeStripe.deliver(webhook, renewal, { secret: CONNECT_SECRET });
      await FakeStripe.deliver(webhook, renewal, { secret: CONNECT_SECRET });
      const all = await h.app.services.events.list(tenant.id, { type: 'payment_completed', limit: 10 });
      t.is(all.length, 2);
      t.is(all.filter((e) => e.data.renewal === true).length, 1);
      t.is(convs.messages.length, 1, 'renewals post no second thank-you');

      // Subscription status: a late, older update does not overwrite a newer one; deleted is final.
      const subObj = (status: string) => ({ id: sub, object: 'subscription', status, metadata: { order_id: link.order_id } });
      const t0 = Math.floor(Date.now() / 1000);
      await FakeStripe.deliver(webhook, h.fake.event('customer.subscription.updated', subObj('past_due'), { account: tenant.stripeAccountId, created: t0 + 10 }), { secret: CONNECT_SECRET });
      await FakeStripe.deliver(webhook, h.fake.event('customer.subscription.updated', subObj('active'), { account: tenant.stripeAccountId, created: t0 + 5 }), { secret: CONNECT_SECRET });
      t.is((await h.app.services.payments.getOrder(tenant, link.order_id))!.subscriptionStatus, 'past_due');
      await FakeStripe.deliver(webhook, h.fake.event('customer.subscription.deleted', subObj('canceled'), { account: tenant.stripeAccountId, created: t0 + 20 }), { secret: CONNECT_SECRET });
      await FakeStripe.deliver(webhook, h.fake.event('customer.subscription.updated', subObj('active'), { account: tenant.stripeAccountId, created: t0 + 30 }), { secret: CONNECT_SECRET });
      t.is((await h.app.services.payments.getOrder(tenant, link.order_id))!.subscriptionStatus, 'canceled');
    } finally {
      await h.close();
    }
  });

  test(`${dialect}: tampered body, wrong secret, stale timestamp or no signature → 400 and nothing changes`, async (t) => {
    const convs = recordingConversations();
    const h = await startPayments(dialect, { services: { thankYouTo: convs.service } });
    try {
      const tenant = await connectedTenant(h, 'guarded');
      const link = await checkout(h, 'guarded', { plan_id: 'basic', conversation_id: await conversationOf(h, tenant.id) });
      const event = h.fake.event('checkout.session.completed', h.fake.completedSession(link.session_id), { account: tenant.stripeAccountId });
      const webhook = `${h.app.url}/v1/stripe/webhook`;
      const before = await state(h, tenant.id);
      const body = JSON.stringify(event, null, 2);
      const tampered = body.replace('"payment_status": "paid"', '"payment_status": "paid" ');
      t.not(tampered, body);

      const attempts: Array<[string, Promise<Response>]> = [
        ['tampered body', FakeStripe.deliver(webhook, event, { secret: CONNECT_SECRET, payload: tampered, signedPayload: body })],
        ['wrong secret', FakeStripe.deliver(webhook, event, { secret: 'whsec_not_the_right_one' })],
        ['timestamp older than 300 s', FakeStripe.deliver(webhook, event, { secret: CONNECT_SECRET, timestamp: Math.floor(Date.now() / 1000) - 301 })],
        ['re-serialized JSON', FakeStripe.deliver(webhook, event, { secret: CONNECT_SECRET, payload: JSON.stringify(event), signedPayload: body })],
        ['no signature', fetch(webhook, { method: 'POST', headers: { 'content-type': 'application/json' }, body })],
        ['not JSON', fetch(webhook, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': FakeStripe.sign('x{', CONNECT_SECRET) }, body: 'x{' })],
      ];
      for (const [what, p] of attempts) t.is((await p).status, 400, what);
      t.is(await state(h, tenant.id), before, 'no order, event, delivery or tenant changed');
      t.is(convs.messages.length, 0);

      // The same event, properly signed with either endpoint secret, is accepted.
      t.is((await FakeStripe.deliver(webhook, event, { secret: WEBHOOK_SECRET, timestamp: Math.floor(Date.now() / 1000) - 250 })).status, 200);
      t.is((await h.app.services.payments.getOrder(tenant, link.order_id))!.status, 'paid');

      // The page the buyer lands on reads the order; it never marks anything paid itself.
      const page = await fetch(`${h.app.url}/checkout/success?tenant=guarded&session_id=${link.session_id}`);
      t.is(page.status, 200);
      t.regex(page.headers.get('content-type')!, /^text\/html/);
      const html = await page.text();
      t.regex(html, /Payment received/);
      t.regex(html, /Basic coffee club/);
      t.regex(html, /go back to your chat with Shop guarded/);
      const cancel = await (await fetch(`${h.app.url}/checkout/cancel?tenant=guarded`)).text();
      t.regex(cancel, /Checkout cancelled/);
      t.regex(cancel, /Nothing was charged/);
      const expired = await (await fetch(`${h.app.url}/stripe/connect/refresh?tenant=guarded`)).text();
      t.regex(expired, /zia stripe onboard guarded/);
      t.regex(expired, /Stripe Connect onboarding for Shop guarded/);
    } finally {
      await h.close();
    }
  });

  test(`${dialect}: account.updated follows the account as Stripe has it now, not a stale copy`, async (t) => {
    const h = await startPayments(dialect);
    try {
      const tenant = await connectedTenant(h, 'acct');
      t.true(tenant.chargesEnabled);
      t.true(tenant.detailsSubmitted);
      const stale = { ...h.fake.accounts.get(tenant.stripeAccountId!), charges_enabled: false, details_submitted: false };
      const res = await FakeStripe.deliver(`${h.app.url}/v1/stripe/webhook`, h.fake.event('account.updated', stale, { account: tenant.stripeAccountId, created: 1 }), { secret: CONNECT_SECRET });
      t.is(res.status, 200);
      t.true((await h.app.services.tenants.get('acct')).chargesEnabled, 'a late event does not switch payments off');
      t.true(h.fake.seen('GET', `/v1/accounts/${tenant.stripeAccountId}`).length >= 2, 'the account was re-fetched');

      // A live-mode event at a test-mode key is ignored.
      h.fake.accounts.get(tenant.stripeAccountId!)!.charges_enabled = false;
      await FakeStripe.deliver(`${h.app.url}/v1/stripe/webhook`, h.fake.event('account.updated', stale, { account: tenant.stripeAccountId, livemode: true }), { secret: CONNECT_SECRET });
      t.true((await h.app.services.tenants.get('acct')).chargesEnabled);
      await FakeStripe.deliver(`${h.app.url}/v1/stripe/webhook`, h.fake.event('account.updated', stale, { account: tenant.stripeAccountId }), { secret: CONNECT_SECRET });
      t.false((await h.app.services.tenants.get('acct')).chargesEnabled, 'Stripe disabled charges: so does zia');
      const doc = (await (await fetch(`${h.app.url}/openapi.json`)).json()) as any;
      for (const p of ['/v1/stripe/checkout/by-plan', '/v1/stripe/checkout/by-item', '/v1/stripe/checkout/qr', '/v1/stripe/checkout/send-wa', '/v1/stripe/webhook', '/v1/admin/stripe/connect/onboard']) {
        t.truthy(doc.paths[p], `${p} documented`);
      }
    } finally {
      await h.close();
    }
  });

  test(`${dialect}: async payments wait for the outcome; expiry closes open orders; foreign accounts are ignored`, async (t) => {
    const convs = recordingConversations();
    const h = await startPayments(dialect, { services: { thankYouTo: convs.service } });
    try {
      const tenant = await connectedTenant(h, 'sepa');
      const webhook = `${h.app.url}/v1/stripe/webhook`;
      const send = (type: string, obj: Record<string, unknown>, account: string | null = tenant.stripeAccountId) =>
        FakeStripe.deliver(webhook, h.fake.event(type, obj, { account }), { secret: CONNECT_SECRET });

      const a = await checkout(h, 'sepa', { plan_id: 'pro' });
      const unpaid = h.fake.completedSession(a.session_id, 'unpaid');
      t.is((await send('checkout.session.completed', unpaid)).status, 200);
      t.is((await h.app.services.payments.getOrder(tenant, a.order_id))!.status, 'open', 'unpaid: still waiting');
      await send('checkout.session.async_payment_succeeded', { ...unpaid, payment_status: 'paid' });
      t.is((await h.app.services.payments.getOrder(tenant, a.order_id))!.status, 'paid');
      await send('checkout.session.async_payment_failed', unpaid);
      t.is((await h.app.services.payments.getOrder(tenant, a.order_id))!.status, 'paid', 'paid is terminal');

      const b = await checkout(h, 'sepa', { plan_id: 'basic' });
      const bUnpaid = h.fake.completedSession(b.session_id, 'unpaid');
      await send('checkout.session.completed', bUnpaid);
      await send('checkout.session.async_payment_failed', bUnpaid);
      t.is((await h.app.services.payments.getOrder(tenant, b.order_id))!.status, 'failed');
      t.is((await h.app.services.events.list(tenant.id, { type: 'payment_failed', limit: 5 })).length, 1);

      const c = await checkout(h, 'sepa', { plan_id: 'basic' });
      await send('checkout.session.expired', { ...h.fake.sessions.get(c.session_id), status: 'expired', _account: undefined });
      t.is((await h.app.services.payments.getOrder(tenant, c.order_id))!.status, 'expired');

      // An event for an account zia does not know, or one without an account, changes nothing.
      const d = await checkout(h, 'sepa', { plan_id: 'basic' });
      const dPaid = h.fake.completedSession(d.session_id);
      t.is((await send('checkout.session.completed', dPaid, 'acct_SOMEONEELSE')).status, 200);
      t.is((await send('checkout.session.completed', dPaid, null)).status, 200);
      t.is((await h.app.services.payments.getOrder(tenant, d.order_id))!.status, 'open');
      const ignored = await h.app.services.db.knex('webhook_deliveries').where({ status: 'ignored' }).count({ n: '*' });
      t.is(Number(ignored[0]!.n), 2);
      t.is(convs.messages.length, 0, 'orders without a conversation get no thank-you message');
    } finally {
      await h.close();
    }
  });
}
