import test from 'ava';
import { FakeGraphApi } from '../fakes/graph-api.js';
import { startApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';
import { META_SECRET, PAGE_ID, PAGE_TOKEN, dm, postSigned } from '../helpers/meta.js';
import { connectedTenant, startPayments } from '../helpers/stripe.js';
import { waitFor } from '../helpers/wait.js';

/**
 * R6: faults of the outside world. Graph 5xx and dropped connections are retried with backoff and then
 * parked as dead (replayable); Stripe 5xx and dropped connections answer 502 JSON. Everything runs with
 * the real chat engine and offline AI, so the Meta path is checked end to end. (LLM faults — 429, 500,
 * stall, mid-stream drop — are covered in chat-openai.e2e.) An unhandled rejection fails the file.
 */

const FAQ = [{ q: 'What are your opening hours?', a: 'We open at nine and close at five.' }];

for (const dialect of dialects()) {
  test(`${dialect}: Graph 5xx and dropped connections: retried with backoff, parked as dead, answered once on replay`, async (t) => {
    const graph = await FakeGraphApi.start('v23.0');
    graph.allowToken(PAGE_TOKEN);
    const app = await startApp(dialect, {
      META_APP_SECRET: META_SECRET,
      META_VERIFY_TOKEN: 'v',
      META_GRAPH_URL: graph.url,
      ZIA_JOB_BACKOFF_MS: '20',
      ZIA_JOB_MAX_ATTEMPTS: '3',
    });
    try {
      await app.services.tenants.create({ slug: 'shop', name: 'Shop', settings: { fb_page_id: PAGE_ID, fb_page_token: PAGE_TOKEN, faq: FAQ, lead: { mode: 'off' } } });
      const worker = await app.services.startWorker();
      const rows = () => app.services.db.knex('webhook_deliveries').where({ provider: 'meta' }).orderBy('external_id');

      // A healthy path first: the offline engine answers the FAQ on Messenger.
      t.is((await postSigned(app.url, dm('m_ok', 'what are your opening hours?', { psid: 'PSID_OK' }))).status, 200);
      await waitFor('first reply', () => graph.sends.length === 1);
      t.is(graph.sends[0]!.text, FAQ[0]!.a);
      t.is(graph.sends[0]!.target, 'PSID_OK');
      await waitFor('the delivery recorded', async () => (await app.services.db.knex('events').where({ type: 'reply_sent' })).length > 0);
      t.is((await app.services.db.knex('events').where({ type: 'reply_sent' })).length, 1, 'one reply, counted once');

      // Persistent 5xx, then a dropped connection: every attempt fails, the item is parked.
      graph.failNext(2, { status: 503, message: 'Service Unavailable' });
      graph.failNext(1, { status: 0, drop: true });
      t.is((await postSigned(app.url, dm('m_down', 'what are your opening hours?', { psid: 'PSID_DOWN' }))).status, 200);
      await waitFor('parked', async () => (await rows()).find((r: any) => r.external_id.includes('m_down'))?.status === 'dead');
      const dead = (await rows()).find((r: any) => r.external_id.includes('m_down'));
      t.is(Number(dead.attempts), 3, 'retried up to ZIA_JOB_MAX_ATTEMPTS');
      t.truthy(dead.last_error);
      t.is(graph.sends.length, 1, 'nothing went out while Graph failed');

      // The operator replays it once Graph is back: one reply, not several.
      t.is((await app.admin(`/v1/admin/webhooks/deliveries/${dead.id}/replay`, { method: 'POST' })).status, 200);
      await waitFor('replayed', async () => (await rows()).find((r: any) => r.id === dead.id)?.status === 'processed');
      const toDown = graph.sends.filter((s) => s.target === 'PSID_DOWN');
      t.is(toDown.length, 1, 'exactly one reply once Graph is back');
      t.is(toDown[0]!.text, FAQ[0]!.a);
      await worker.stop();
    } finally {
      await app.close();
      await graph.close();
    }
  });

  test(`${dialect}: Stripe 5xx and a dropped connection answer 502 JSON; nothing is left half-made`, async (t) => {
    const h = await startPayments(dialect);
    try {
      await connectedTenant(h, 'shop');
      const buy = () => fetch(`${h.app.url}/v1/stripe/checkout/by-plan?tenant=shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ plan_id: 'basic' }) });
      // The fake answers Stripe-Should-Retry: false, so the SDK does not retry this one.
      h.fake.failNext('POST /v1/checkout/sessions', 500, { type: 'api_error', message: 'An unknown error occurred' });
      let res = await buy();
      t.is(res.status, 502);
      const body = (await res.json()) as any;
      t.is(body.error.code, 'upstream_error');
      t.truthy(body.error.request_id);
      h.fake.dropResponseNext('POST /v1/checkout/sessions');
      h.fake.dropResponseNext('POST /v1/checkout/sessions');
      h.fake.dropResponseNext('POST /v1/checkout/sessions');
      // A dropped connection is retried by the SDK (twice here), then answered 502.
      const before = h.fake.seen('POST', '/v1/checkout/sessions').length;
      res = await buy();
      t.is(res.status, 502);
      t.is(h.fake.seen('POST', '/v1/checkout/sessions').length - before, 3, 'the first try and two retries');
      const open = await h.app.services.db.knex('orders').whereIn('status', ['open', 'paid']);
      for (const o of open) t.truthy(o.url, 'an order is open only with a checkout link');
      res = await buy();
      t.is(res.status, 200, 'healthy again');
    } finally {
      await h.close();
    }
  });
}

test('sqlite: R6 a failing catalog never fails a chat turn', async (t) => {
  const app = await startApp('sqlite', { ZIA_CATALOG_ALLOW_PRIVATE: 'true' });
  try {
    await app.services.tenants.create({ slug: 'shop', name: 'Shop', settings: { catalog_url: 'http://127.0.0.1:9/catalog.json', faq: FAQ } });
    const res = await fetch(`${app.url}/v1/chat?tenant=shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'how much is the grinder?' }) });
    t.is(res.status, 200);
    t.truthy(((await res.json()) as any).reply);
  } finally {
    await app.close();
  }
});
