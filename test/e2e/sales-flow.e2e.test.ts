import test from 'ava';
import { FakeStripe } from '../fakes/stripe-api.js';
import { startFakeShop } from '../fakes/catalog-server.js';
import { dialects } from '../helpers/db.js';
import { CONNECT_SECRET, startPayments } from '../helpers/stripe.js';

/**
 * The whole sale with every real part: a shop's catalog on a (loopback) URL, the offline assistant
 * quoting its price, a checkout link made on the tenant's connected Stripe account at the catalog's
 * price, and the signed payment event closing the order and thanking the buyer in the conversation.
 */
for (const dialect of dialects()) {
  test(`${dialect}: ask the price, buy through the chat, pay: catalog → assistant → Stripe → thank-you`, async (t) => {
    const shop = await startFakeShop();
    shop.json('/catalog.json', { products: [{ id: 'grinder', name: 'Burr Coffee Grinder', price: '89.00', currency: 'EUR', stock: 3 }, { id: 'mug', name: 'Stoneware Mug', price: 12.5, currency: 'EUR' }] });
    const h = await startPayments(dialect, { env: { ZIA_CATALOG_ALLOW_PRIVATE: 'true', ZIA_PLATFORM_FEE_PERCENT: '5' } });
    try {
      const onboard = await h.app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug: 'roastery', name: 'Roastery', settings: { catalog_url: `${shop.url}/catalog.json`, locale: 'en', lead: { mode: 'off' } } }) });
      t.is(onboard.status, 201);
      const tenant = await h.app.services.tenants.get('roastery');
      const link = await h.app.admin('/v1/admin/stripe/connect/onboard', { method: 'POST', body: JSON.stringify({ tenant: 'roastery' }) });
      t.is(link.status, 200);
      const account = (await h.app.services.tenants.get('roastery')).stripeAccountId!;
      const enabled = h.fake.event('account.updated', h.fake.completeOnboarding(account), { account });
      t.is((await FakeStripe.deliver(`${h.app.url}/v1/stripe/webhook`, enabled, { secret: CONNECT_SECRET })).status, 200);

      const say = async (message: string, conversation_id?: string) => {
        const res = await fetch(`${h.app.url}/v1/chat?tenant=roastery`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message, conversation_id, visitor_id: 'buyer-1' }) });
        t.is(res.status, 200);
        return (await res.json()) as { reply: string; conversation_id: string; checkout_url?: string };
      };
      const price = await say('How much is the coffee grinder?');
      t.regex(price.reply, /Burr Coffee Grinder costs €89\.00/);
      t.regex(price.reply, /in stock/);

      const buy = await say('I want to buy the grinder', price.conversation_id);
      t.truthy(buy.checkout_url, buy.reply);
      const session = [...h.fake.sessions.values()].at(-1)!;
      t.is(buy.checkout_url, session.url);
      t.is(session._account, account, 'created on the connected account');
      const sent = h.fake.seen('POST', '/v1/checkout/sessions').at(-1)!;
      t.is(sent.stripeAccount, account);
      t.is(sent.body.line_items[0].price_data.unit_amount, '8900', "the catalog's price, in cents");
      t.is(sent.body.payment_intent_data.application_fee_amount, '445', '5% platform fee');
      t.is(session.client_reference_id, price.conversation_id);

      const paid = h.fake.event('checkout.session.completed', h.fake.completedSession(session.id, 'paid', 'buyer@example.com'), { account });
      t.is((await FakeStripe.deliver(`${h.app.url}/v1/stripe/webhook`, paid, { secret: CONNECT_SECRET })).status, 200);
      const order = await h.app.services.db.knex('orders').where({ tenant_id: tenant.id, stripe_session_id: session.id }).first();
      t.is(order.status, 'paid');
      const messages = await h.app.services.db.knex('messages').where({ conversation_id: price.conversation_id }).orderBy('created_at');
      t.regex(messages.at(-1).text, /Thank you! Your payment for Burr Coffee Grinder/);
      const types = (await h.app.services.events.list(tenant.id, { limit: 50 })).map((e) => e.type);
      for (const type of ['conversation_started', 'checkout_created', 'payment_completed']) t.true(types.includes(type), type);
    } finally {
      await h.close();
      await shop.close();
    }
  });
}
