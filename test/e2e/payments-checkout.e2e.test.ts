import test from 'ava';
import { dialects } from '../helpers/db.js';
import { startApp } from '../helpers/app.js';
import { connectedTenant, conversationOf, decodePng, fixedCatalog, startPayments } from '../helpers/stripe.js';

const catalog = fixedCatalog([
  { id: 'beans-1kg', name: 'Espresso beans 1 kg', price: 34900, currency: 'nok', description: 'Dark roast' },
  { id: 'mug', name: 'Mug', price: 12900, currency: 'nok' },
  { id: 'gone', name: 'Old grinder', price: 99900, currency: 'nok', available: false },
]);

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

for (const dialect of dialects()) {
  test(`${dialect}: by-item takes name and price from the catalog only, on the connected account with the platform fee`, async (t) => {
    const h = await startPayments(dialect, { env: { ZIA_PLATFORM_FEE_PERCENT: '5' }, services: { catalog } });
    try {
      const tenant = await connectedTenant(h, 'roastery');
      const conv = await conversationOf(h, tenant.id);
      const res = await post(`${h.app.url}/v1/stripe/checkout/by-item?tenant=roastery`, {
        item_id: 'beans-1kg',
        quantity: 2,
        conversation_id: conv,
        price: 100,
        amount: 1,
        unit_amount: 1,
        name: 'Free beans',
      });
      t.is(res.status, 200, await res.clone().text());
      const link = (await res.json()) as any;
      t.is(link.amount, 69800, 'catalog price × quantity, whatever the request said');
      t.is(link.name, 'Espresso beans 1 kg');
      t.is(link.currency, 'nok');
      t.regex(link.url, /^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/);

      const [sent] = h.fake.seen('POST', '/v1/checkout/sessions');
      t.truthy(sent);
      t.is(sent!.stripeAccount, tenant.stripeAccountId!, 'a direct charge: created on the connected account');
      t.is(sent!.idempotencyKey, `zia-checkout-${link.order_id}`);
      t.is(sent!.body.mode, 'payment');
      t.deepEqual(sent!.body.line_items, [{ price_data: { currency: 'nok', unit_amount: '34900', product_data: { name: 'Espresso beans 1 kg', description: 'Dark roast' } }, quantity: '2' }]);
      t.is(sent!.body.payment_intent_data.application_fee_amount, '3490', '5% of 698.00');
      t.is(sent!.body.client_reference_id, conv);
      t.deepEqual(sent!.body.metadata, { tenant: 'roastery', order_id: link.order_id, conversation_id: conv });
      t.is(sent!.body.success_url, 'http://127.0.0.1/checkout/success?tenant=roastery&session_id={CHECKOUT_SESSION_ID}');
      t.true(sent!.body.cancel_url.startsWith('http://127.0.0.1/checkout/cancel?tenant=roastery'));
      t.is(h.fake.sessions.get(link.session_id)!.amount_total, 69800, 'Stripe was asked for the catalog amount');

      const order = await h.app.services.payments.getOrder(tenant, link.order_id);
      t.like(order, { status: 'open', kind: 'item', ref: 'beans-1kg', quantity: 2, amount: 69800, stripeSessionId: link.session_id, conversationId: conv });
      const events = await h.app.services.events.list(tenant.id, { type: 'checkout_created', limit: 10 });
      t.is(events.length, 1);
      t.is(events[0]!.conversationId, conv);

      // Bounds and lookups.
      t.is((await post(`${h.app.url}/v1/stripe/checkout/by-item?tenant=roastery`, { item_id: 'mug', quantity: 100 })).status, 400);
      t.is((await post(`${h.app.url}/v1/stripe/checkout/by-item?tenant=roastery`, { item_id: 'mug', quantity: 0 })).status, 400);
      t.is((await post(`${h.app.url}/v1/stripe/checkout/by-item?tenant=roastery`, { item_id: 'nope' })).status, 404);
      t.is((await post(`${h.app.url}/v1/stripe/checkout/by-item?tenant=roastery`, { item_id: 'gone' })).status, 409);
      t.is((await post(`${h.app.url}/v1/stripe/checkout/by-item`, { tenant: 'roastery', item_id: 'mug', conversation_id: '01HZZZZZZZZZZZZZZZZZZZZZZZ' })).status, 404, 'unknown conversation');
      t.is((await post(`${h.app.url}/v1/stripe/checkout/by-item?tenant=nope`, { item_id: 'mug' })).status, 404);
      t.is((await post(`${h.app.url}/v1/stripe/checkout/by-item`, { item_id: 'mug' })).status, 400, 'no tenant');
      t.is(h.fake.seen('POST', '/v1/checkout/sessions').length, 1, 'refused requests never reached Stripe');
      t.false(h.app.logs.text.includes(h.fake.secretKey), 'the platform key is never logged');
    } finally {
      await h.close();
    }
  });

  test(`${dialect}: by-plan creates a subscription session with the plan's recurring price`, async (t) => {
    const h = await startPayments(dialect, { env: { ZIA_PLATFORM_FEE_PERCENT: '2.5' } });
    try {
      const tenant = await connectedTenant(h, 'club');
      let res = await post(`${h.app.url}/v1/stripe/checkout/by-plan?tenant=club`, { plan_id: 'pro', customer_email: 'ada@example.com', amount: 1 });
      t.is(res.status, 200, await res.clone().text());
      const link = (await res.json()) as any;
      t.like(link, { kind: 'plan', name: 'Pro coffee club', amount: 4900, currency: 'nok', quantity: 1 });
      const [sent] = h.fake.seen('POST', '/v1/checkout/sessions');
      t.is(sent!.stripeAccount, tenant.stripeAccountId!);
      t.is(sent!.body.mode, 'subscription');
      t.deepEqual(sent!.body.line_items[0].price_data, {
        currency: 'nok',
        unit_amount: '4900',
        recurring: { interval: 'month' },
        product_data: { name: 'Pro coffee club', description: 'Two bags a month' },
      });
      t.is(sent!.body.subscription_data.application_fee_percent, '2.5');
      t.is(sent!.body.subscription_data.metadata.order_id, link.order_id);
      t.is(sent!.body.customer_email, 'ada@example.com');
      t.is(sent!.body.payment_intent_data, undefined);

      // A plan that names a Stripe price on the connected account: the amount is read from Stripe.
      const priceId = h.fake.addPrice(tenant.stripeAccountId!, { unit_amount: 9900, currency: 'nok', interval: 'year' });
      await h.app.services.tenants.update('club', { settings: { plans: [{ id: 'yearly', name: 'Yearly', price_id: priceId }] } });
      res = await post(`${h.app.url}/v1/stripe/checkout/by-plan`, { tenant: 'club', plan_id: 'yearly' });
      t.is(res.status, 200, await res.clone().text());
      t.like(await res.json(), { amount: 9900, currency: 'nok' });
      t.deepEqual(h.fake.seen('POST', '/v1/checkout/sessions')[1]!.body.line_items, [{ price: priceId, quantity: '1' }]);
      t.is((await post(`${h.app.url}/v1/stripe/checkout/by-plan?tenant=club`, { plan_id: 'basic' })).status, 404, 'plans were replaced');

      // Stripe failing: an upstream error, and the order is not left open.
      h.fake.failNext('POST /v1/checkout/sessions', 500, { type: 'api_error', message: 'boom' });
      res = await post(`${h.app.url}/v1/stripe/checkout/by-plan?tenant=club`, { plan_id: 'yearly' });
      t.is(res.status, 502);
      const orders = await h.app.services.payments.listOrders(tenant);
      t.is(orders.filter((o) => o.status === 'open').length, 2);
      t.is(orders.filter((o) => o.status === 'failed').length, 1);
    } finally {
      await h.close();
    }
  });

  test(`${dialect}: the QR decodes to exactly the checkout URL; only links zia made`, async (t) => {
    const sent: Array<{ to: string; text: string }> = [];
    const h = await startPayments(dialect, {
      services: { catalog, whatsappLinks: { send: async (_t, to, text) => (sent.push({ to, text }), { messageId: 'SM0123' }) } },
    });
    try {
      const tenant = await connectedTenant(h, 'qr-shop');
      let res = await post(`${h.app.url}/v1/stripe/checkout/qr?tenant=qr-shop`, { item_id: 'mug', quantity: 3 });
      t.is(res.status, 200, res.ok ? '' : await res.clone().text());
      t.is(res.headers.get('content-type'), 'image/png');
      const url = res.headers.get('x-checkout-url')!;
      const orderId = res.headers.get('x-order-id')!;
      t.is(decodePng(Buffer.from(await res.arrayBuffer())), url);
      t.is((await h.app.services.payments.getOrder(tenant, orderId))!.url, url, 'the QR is of the stored link');

      res = await post(`${h.app.url}/v1/stripe/checkout/qr?tenant=qr-shop&format=svg`, { order_id: orderId });
      t.is(res.status, 200);
      t.regex(res.headers.get('content-type')!, /^image\/svg\+xml/);
      t.regex(await res.text(), /^<svg/);
      t.is(res.headers.get('x-checkout-url'), url, 'an existing order gives its own link, no new session');
      t.is(h.fake.seen('POST', '/v1/checkout/sessions').length, 1);

      t.is((await post(`${h.app.url}/v1/stripe/checkout/qr?tenant=qr-shop`, { url: 'https://evil.example' })).status, 400, 'no QR of an arbitrary URL');
      t.is((await post(`${h.app.url}/v1/stripe/checkout/qr?tenant=qr-shop`, { plan_id: 'basic', item_id: 'mug' })).status, 400);
      await connectedTenant(h, 'other-shop');
      t.is((await post(`${h.app.url}/v1/stripe/checkout/qr?tenant=other-shop`, { order_id: orderId })).status, 404, 'another tenant\'s order');

      // send-wa: needs a key; validates E.164; sends the link it made.
      res = await post(`${h.app.url}/v1/stripe/checkout/send-wa?tenant=qr-shop`, { plan_id: 'basic', to: '+4791234567' });
      t.is(res.status, 401);
      res = await h.app.admin('/v1/stripe/checkout/send-wa?tenant=qr-shop', { method: 'POST', body: JSON.stringify({ plan_id: 'basic', to: '004791234567' }) });
      t.is(res.status, 400);
      res = await h.app.admin('/v1/stripe/checkout/send-wa?tenant=qr-shop', { method: 'POST', body: JSON.stringify({ plan_id: 'basic', to: '+4791234567' }) });
      t.is(res.status, 200, await res.clone().text());
      const body = (await res.json()) as any;
      t.is(body.message_id, 'SM0123');
      t.is(sent.length, 1);
      t.is(sent[0]!.to, '+4791234567');
      t.true(sent[0]!.text.includes(body.url));
    } finally {
      await h.close();
    }
  });

  test(`${dialect}: clear refusals: no key (503), no catalog (503), no WhatsApp (503), not onboarded (409); the setting is named to operators only`, async (t) => {
    const bare = await startApp(dialect);
    try {
      await bare.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug: 'nokey', name: 'No key' }) });
      const res = await post(`${bare.url}/v1/stripe/checkout/by-plan?tenant=nokey`, { plan_id: 'x' });
      t.is(res.status, 503);
      t.notRegex(((await res.json()) as any).error.message, /STRIPE_SECRET_KEY/, 'an anonymous caller is not told which setting is missing');
      t.regex(bare.logs.text, /STRIPE_SECRET_KEY/, "the operator's log is");
      const onboard = await bare.admin('/v1/admin/stripe/connect/onboard', { method: 'POST', body: JSON.stringify({ tenant: 'nokey' }) });
      t.is(onboard.status, 503);
      t.regex(((await onboard.json()) as any).error.message, /STRIPE_SECRET_KEY/);
    } finally {
      await bare.close();
    }

    const h = await startPayments(dialect);
    try {
      await connectedTenant(h, 'nocat');
      let res = await post(`${h.app.url}/v1/stripe/checkout/by-item?tenant=nocat`, { item_id: 'mug' });
      t.is(res.status, 503);
      t.is(((await res.json()) as any).error.code, 'not_configured');
      t.regex(h.app.logs.text, /no catalog configured/);
      res = await h.app.admin('/v1/stripe/checkout/send-wa?tenant=nocat', { method: 'POST', body: JSON.stringify({ plan_id: 'basic', to: '+4791234567' }) });
      t.is(res.status, 503);
      t.regex(((await res.json()) as any).error.message, /WhatsApp not configured/);

      await h.app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug: 'fresh', name: 'Fresh', settings: { plans: [{ id: 'basic', name: 'B', amount: 100, currency: 'usd', interval: 'month' }] } }) });
      res = await post(`${h.app.url}/v1/stripe/checkout/by-plan?tenant=fresh`, { plan_id: 'basic' });
      t.is(res.status, 409);
      t.regex(((await res.json()) as any).error.message, /zia stripe onboard fresh/);
      // The answer to the account creation is lost: the SDK retries with the same Idempotency-Key and
      // gets the same account back, so the tenant never ends up with two.
      h.fake.dropResponseNext('POST /v1/accounts');
      res = await h.app.admin('/v1/admin/stripe/connect/onboard', { method: 'POST', body: JSON.stringify({ tenant: 'fresh' }) });
      t.is(res.status, 200, await res.clone().text());
      const attempts = h.fake.seen('POST', '/v1/accounts').filter((r) => r.body.metadata?.tenant === 'fresh');
      t.is(attempts.length, 2);
      t.is(attempts[0]!.idempotencyKey, attempts[1]!.idempotencyKey);
      t.is([...h.fake.accounts.values()].filter((a) => a.metadata.tenant === 'fresh').length, 1);
      t.is(((await res.json()) as any).account_id, (await h.app.services.tenants.get('fresh')).stripeAccountId);
      res = await post(`${h.app.url}/v1/stripe/checkout/by-plan?tenant=fresh`, { plan_id: 'basic' });
      t.is(res.status, 409, 'an account that has not finished onboarding cannot charge yet');
      t.is(h.fake.seen('POST', '/v1/checkout/sessions').length, 0);
    } finally {
      await h.close();
    }
  });
}
