import ava from 'ava';
import { startApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

/** waitFor, typed as the value it waited for. */
const until = async <T>(what: string, check: () => Promise<T> | T): Promise<NonNullable<T>> => (await waitFor(what, check)) as NonNullable<T>;
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { FakeGraphApi } from '../fakes/graph-api.js';
import { FakeStripe } from '../fakes/stripe-api.js';
import { CONNECT_SECRET, PLANS, connectedTenant, startPayments } from '../helpers/stripe.js';
import { dm, META_SECRET, PAGE_ID, PAGE_TOKEN, postSigned, VERIFY_TOKEN } from '../helpers/meta.js';

const SECRET = 'whsec-outbound-secret-0123456789';

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: outbound webhooks are signed, retried after a 500, dead after the last attempt, visible in the log and replayable`, async (t) => {
    const receiver = await WebhookReceiver.start(SECRET);
    // Local receivers are private addresses: ZIA_CATALOG_ALLOW_PRIVATE governs outbound webhooks too.
    const app = await startApp(dialect, { ZIA_CATALOG_ALLOW_PRIVATE: 'true', ZIA_JOB_BACKOFF_MS: '30', ZIA_JOB_MAX_ATTEMPTS: '3' });
    try {
      const tenant = await app.services.tenants.create({ slug: 'acme', name: 'Acme', settings: { outbound_webhook_url: receiver.url, outbound_webhook_secret: SECRET } });
      const quiet = await app.services.tenants.create({ slug: 'quiet', name: 'Quiet' });
      await app.services.startWorker();

      // lead.created: a 500 first, then accepted on the retry.
      receiver.script.push(500);
      await app.services.leads.submit(quiet.id, { name: 'Nobody', email: 'nobody@example.com', whatsapp: null, channel: 'web', conversationId: null });
      await app.services.leads.submit(tenant.id, { name: 'Ada, "the first"', email: 'ada@example.com', whatsapp: '+4791234567', channel: 'web', conversationId: null });
      const row = await until('the lead.created delivery processed', async () => {
        const r = await app.services.db.knex('webhook_deliveries').where({ provider: 'outbound', status: 'processed' }).first();
        return r;
      });
      t.is(receiver.received.length, 2, 'one failed attempt, one accepted');
      for (const r of receiver.received) {
        t.true(r.valid, `signature verifies: ${r.signature}`);
        t.is(r.deliveryId, row.id);
        t.is(r.event, 'lead.created');
      }
      t.is(receiver.received[0]!.body, receiver.received[1]!.body, 'every attempt sends the same body');
      const body = receiver.received[1]!.json;
      t.like(body, { type: 'lead.created', tenant: 'acme' });
      t.like(body.data.lead, { name: 'Ada, "the first"', email: 'ada@example.com', whatsapp: '+4791234567', source_channel: 'web' });
      t.is(Number(row.attempts), 2);
      t.is(row.tenant_id, tenant.id);
      // A signature over other bytes, or with another secret, does not verify.
      t.false(receiver.verify(`${receiver.received[1]!.body} `, receiver.received[1]!.signature));

      // payment.completed, but the endpoint keeps failing: dead after 3 attempts.
      receiver.status = 500;
      await app.services.events.record(tenant.id, 'payment_completed', { data: { order_id: 'ord_1', amount: 1900, currency: 'nok' } });
      const dead = await until('the payment.completed delivery dead', async () => {
        const res = await app.admin('/v1/admin/webhooks/deliveries?provider=outbound&status=dead');
        const list = (await res.json()) as { deliveries: Array<{ id: string; attempts: number; last_error: string; kind: string }> };
        return list.deliveries[0];
      });
      t.is(dead.attempts, 3);
      t.regex(dead.last_error, /outbound webhook URL answered HTTP 500/);
      const payments = receiver.received.filter((r) => r.event === 'payment.completed');
      t.is(payments.length, 3);
      t.true(payments.every((r) => r.valid));
      t.like(payments[0]!.json, { type: 'payment.completed', data: { order_id: 'ord_1', amount: 1900 } });

      // Fixed endpoint: the operator replays it.
      receiver.status = 200;
      t.is((await app.admin(`/v1/admin/webhooks/deliveries/${dead.id}/replay`, { method: 'POST' })).status, 200);
      await waitFor('the replay processed', async () => (await app.services.webhooks.get(dead.id))?.status === 'processed');
      t.is(receiver.received.filter((r) => r.event === 'payment.completed').length, 4);
      t.is(receiver.received.filter((r) => JSON.stringify(r.json).includes('nobody@example.com')).length, 0, 'a tenant without a URL sends nothing');
    } finally {
      await app.close();
      await receiver.close();
    }
  });

  test(`${dialect}: an outbound URL on a private address is refused under the SSRF rules and parked at once`, async (t) => {
    const receiver = await WebhookReceiver.start(SECRET);
    const app = await startApp(dialect, { ZIA_JOB_BACKOFF_MS: '30', ZIA_JOB_MAX_ATTEMPTS: '3' });
    try {
      const hook = receiver.url.replace('http:', 'https:');
      await t.throwsAsync(app.services.tenants.create({ slug: 'acme', name: 'Acme', settings: { outbound_webhook_url: hook } }), { message: /settings\.outbound_webhook_url/ }, 'refused when saved');
      // A URL saved before settings were checked on save is still refused when used.
      const created = await app.services.tenants.create({ slug: 'acme', name: 'Acme', settings: { outbound_webhook_secret: SECRET } });
      const stored: unknown = (await app.services.db.knex('tenants').where({ id: created.id }).first()).settings;
      const settings = typeof stored === 'string' ? JSON.parse(stored) : stored;
      await app.services.db.knex('tenants').where({ id: created.id }).update({ settings: JSON.stringify({ ...settings, outbound_webhook_url: hook }) });
      const tenant = await app.services.tenants.getById(created.id);
      await app.services.startWorker();
      const conv = await app.services.chat.runTurn({ tenant, channel: 'web', externalUserId: 'visitor-1', text: 'hi' });
      await app.services.handoff.setPaused(tenant, conv.conversationId, true, 'test');
      const row = await until('the handoff delivery dead', () => app.services.db.knex('webhook_deliveries').where({ provider: 'outbound', status: 'dead' }).first());
      t.is(Number(row.attempts), 1, 'no retry for a forbidden address');
      t.regex(row.last_error, /outbound webhook host '127\.0\.0\.1' resolves to a forbidden address/);
      t.is(JSON.parse(row.payload).type, 'conversation.handoff');
      t.is(receiver.received.length, 0);
    } finally {
      await app.close();
      await receiver.close();
    }
  });

  test(`${dialect}: the thank-you for a paid order reaches a Messenger buyer on Messenger`, async (t) => {
    const graph = await FakeGraphApi.start('v23.0');
    graph.allowToken(PAGE_TOKEN);
    const h = await startPayments(dialect, {
      env: { META_APP_SECRET: META_SECRET, META_VERIFY_TOKEN: VERIFY_TOKEN, META_GRAPH_URL: graph.url, META_GRAPH_VERSION: 'v23.0', ZIA_JOB_BACKOFF_MS: '30' },
    });
    try {
      const tenant = await connectedTenant(h, 'beans', { plans: PLANS, fb_page_id: PAGE_ID, fb_page_token: PAGE_TOKEN });
      await h.app.services.startWorker();
      t.is((await postSigned(h.app.url, dm('m_buy_1', 'I want the coffee club', { psid: 'PSID_BUYER' }))).status, 200);
      const conv = await until('the buyer conversation', () => h.app.services.conversations.find(tenant.id, 'messenger', 'PSID_BUYER'));
      await waitFor('the bot reply', () => graph.sendsTo('PSID_BUYER').length >= 1);
      const before = graph.sendsTo('PSID_BUYER').length;

      const res = await fetch(`${h.app.url}/v1/stripe/checkout/by-plan?tenant=beans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ plan_id: 'basic', conversation_id: conv.id }) });
      t.is(res.status, 200, await res.clone().text());
      const link = (await res.json()) as { session_id: string };
      const event = h.fake.event('checkout.session.completed', h.fake.completedSession(link.session_id, 'paid', 'ada@example.com'), { account: tenant.stripeAccountId });
      for (let i = 0; i < 2; i++) t.is((await FakeStripe.deliver(`${h.app.url}/v1/stripe/webhook`, event, { secret: CONNECT_SECRET })).status, 200);

      const thanks = await until('the thank-you on Messenger', () => graph.sendsTo('PSID_BUYER').find((s) => /^Thank you! Your payment for Basic coffee club has been received/.test(s.text)));
      t.is(thanks.kind, 'dm');
      await waitFor('the thank-you marked sent', async () => (await h.app.services.db.knex('messages').where({ conversation_id: conv.id, role: 'assistant', delivery_status: 'sent' }).whereLike('text', 'Thank you!%').first()));
      t.is(graph.sendsTo('PSID_BUYER').length, before + 1, 'one thank-you, however often Stripe delivers the event');
    } finally {
      await h.close();
      await graph.close();
    }
  });
}
