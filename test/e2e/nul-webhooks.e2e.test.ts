import ava from 'ava';
import { startApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import { FakeGraphApi } from '../fakes/graph-api.js';
import { FakeStripe } from '../fakes/stripe-api.js';
import { FakeTwilioApi } from '../fakes/twilio-api.js';
import { dm, META_SECRET, PAGE_ID, PAGE_TOKEN, postSigned } from '../helpers/meta.js';
import { CONNECT_SECRET, connectedTenant, conversationOf, startPayments } from '../helpers/stripe.js';
import { ACCOUNT_SID, AUTH_TOKEN, BUSINESS, CUSTOMER, inbound, messageSid, postTwilio, PUBLIC_SITE } from '../helpers/twilio.js';

/**
 * Signed provider payloads carrying U+0000: the signature is checked on the bytes as sent, and what is
 * stored and answered has the character removed, so PostgreSQL takes it and the customer gets one reply.
 */

const NUL = '\u0000';

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: a signed Meta DM whose text contains NUL is acknowledged and answered once`, async (t) => {
    const graph = await FakeGraphApi.start('v23.0');
    graph.allowToken(PAGE_TOKEN);
    const app = await startApp(dialect, { META_APP_SECRET: META_SECRET, META_GRAPH_URL: graph.url, META_GRAPH_VERSION: 'v23.0', ZIA_JOB_BACKOFF_MS: '30', ZIA_JOB_MAX_ATTEMPTS: '3' });
    try {
      const tenant = await app.services.tenants.create({ slug: 'shop', name: 'Shop', settings: { fb_page_id: PAGE_ID, fb_page_token: PAGE_TOKEN, faq: [{ q: 'Do you ship to Oslo?', a: 'Yes, in two days.' }] } });
      await app.services.startWorker();
      const payload = dm('m_nul_1', `do you ship${NUL} to Oslo?`, { psid: `PSID${NUL}_9` });
      const raw = JSON.stringify(payload);
      t.true(raw.includes('\\u0000'), 'the bytes carry the escaped NUL the signature covers');
      const res = await postSigned(app.url, raw);
      t.is(res.status, 200, await res.clone().text());
      const delivery = await waitFor('the delivery to settle', async () => {
        const row = await app.services.db.knex('webhook_deliveries').where({ external_id: 'mid:m_nul_1' }).first();
        return row && !['received', 'failed'].includes(row.status) ? row : undefined;
      });
      t.is(delivery.status, 'processed', String(delivery.last_error));
      t.is(delivery.attempts, 1, 'no retry was needed');
      t.false(String(delivery.payload).includes('\\u0000'), 'the stored payload has no NUL');
      await waitFor('the reply', () => graph.sends.length >= 1);
      t.is(graph.sends.length, 1, 'answered exactly once');
      t.is(graph.sends[0]!.target, 'PSID_9');
      const inboundMessage = await app.services.db.knex('messages').where({ tenant_id: tenant.id, role: 'user' }).first();
      t.is(inboundMessage.text, 'do you ship to Oslo?');
    } finally {
      await app.close();
      await graph.close();
    }
  });

  test(`${dialect}: a signed Twilio WhatsApp form with NUL in Body and ProfileName is stored without it`, async (t) => {
    const twilio = await FakeTwilioApi.start();
    twilio.allowAccount(ACCOUNT_SID, AUTH_TOKEN);
    const app = await startApp(dialect, { SITE_URL: PUBLIC_SITE, TWILIO_API_URL: twilio.url, ZIA_JOB_BACKOFF_MS: '30', ZIA_JOB_MAX_ATTEMPTS: '3' });
    try {
      await app.services.tenants.create({ slug: 'wa', name: 'WA shop', settings: { twilio_account_sid: ACCOUNT_SID, twilio_auth_token: AUTH_TOKEN, twilio_whatsapp_from: BUSINESS } });
      await app.services.startWorker();
      const sid = messageSid();
      const res = await postTwilio(app.url, '/v1/twilio/whatsapp/webhook?tenant=wa', inbound(sid, `hello${NUL} there`, { ProfileName: `A${NUL}na` }));
      t.is(res.status, 200, await res.clone().text());
      const delivery = await waitFor('the delivery to settle', async () => {
        const row = await app.services.db.knex('webhook_deliveries').where({ external_id: sid }).first();
        return row && !['received', 'failed'].includes(row.status) ? row : undefined;
      });
      t.is(delivery.status, 'processed', String(delivery.last_error));
      t.is(delivery.attempts, 1);
      const item = JSON.parse(delivery.payload) as { text: string; profileName: string };
      t.is(item.text, 'hello there');
      t.is(item.profileName, 'Ana');
      await waitFor('the reply', () => twilio.messages.length >= 1);
      t.is(twilio.messages.length, 1, 'answered exactly once');
      t.is(twilio.messages[0]!.to, `whatsapp:${CUSTOMER}`);
    } finally {
      await app.close();
      await twilio.close();
    }
  });

  test(`${dialect}: a signed Stripe event with NUL in its fields is applied, not failed`, async (t) => {
    const h = await startPayments(dialect);
    try {
      const tenant = await connectedTenant(h, 'beans');
      const conv = await conversationOf(h, tenant.id);
      const res = await fetch(`${h.app.url}/v1/stripe/checkout/by-plan?tenant=beans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ plan_id: 'basic', conversation_id: conv }) });
      const link = (await res.json()) as { session_id: string; order_id: string };
      const session = h.fake.completedSession(link.session_id, 'paid', `ada${NUL}@example.com`);
      const event = h.fake.event('checkout.session.completed', session, { account: tenant.stripeAccountId });
      event.id = `${String(event.id)}${NUL}`;
      const delivered = await FakeStripe.deliver(`${h.app.url}/v1/stripe/webhook`, event, { secret: CONNECT_SECRET });
      t.is(delivered.status, 200, await delivered.clone().text());
      const order = await h.app.services.payments.getOrder(tenant, link.order_id);
      t.is(order!.status, 'paid');
      t.is(order!.customerEmail, 'ada@example.com');
      const row = await h.app.services.db.knex('webhook_deliveries').where({ provider: 'stripe' }).orderBy('created_at', 'desc').first();
      t.false(String(row.external_id).includes(NUL));
    } finally {
      await h.close();
    }
  });

  test(`${dialect}: a date outside 1970-9999 or a forged id is refused with 400 and the field path`, async (t) => {
    const app = await startApp(dialect);
    try {
      await app.services.tenants.create({ slug: 'acme', name: 'Acme' });
      for (const [path, field] of [
        ['/v1/admin/leads?since=0000-01-01T00:00:00Z', 'query.since'],
        ['/v1/admin/leads/export?until=0000-01-01', 'query.until'],
        ['/v1/admin/events?tenant=acme&since=9999-12-31T23:59:59-14:00', 'query.since'],
        ['/v1/admin/analytics?tenant=acme&from=0000-01-01T00:00:00Z', 'query.from'],
        ['/v1/admin/events?tenant=acme&conversation_id=%00', 'query.conversation_id'],
        ['/v1/admin/conversations?cursor=x%00', 'query.cursor'],
        ['/v1/admin/conversations/not-an-id', 'params.id'],
      ] as const) {
        const res = await app.admin(path);
        const body = (await res.json()) as { error: { code: string; details: Array<{ path: string }> } };
        t.is(res.status, 400, path);
        t.deepEqual(body.error.details.map((d) => d.path), [field], path);
      }
      const ok = await app.admin('/v1/admin/leads?since=1970-01-01&until=9999-12-31T23:59:59Z');
      t.is(ok.status, 200, 'the edges of the range are accepted');
      const chat = await fetch(`${app.url}/v1/chat?tenant=acme`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: `hi${NUL}there` }) });
      t.is(chat.status, 200);
      const { conversation_id } = (await chat.json()) as { conversation_id: string };
      const stored = await app.services.db.knex('messages').where({ conversation_id, role: 'user' }).first();
      t.is(stored.text, 'hithere');
    } finally {
      await app.close();
    }
  });
}
