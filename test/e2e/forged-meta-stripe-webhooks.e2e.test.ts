import test from 'ava';
import { createHmac } from 'node:crypto';
import { FakeGraphApi } from '../fakes/graph-api.js';
import { FakeStripe } from '../fakes/stripe-api.js';
import { dialects } from '../helpers/db.js';
import { META_SECRET, PAGE_ID, PAGE_TOKEN, dm, sign } from '../helpers/meta.js';
import { CONNECT_SECRET, WEBHOOK_SECRET, connectedTenant, startPayments } from '../helpers/stripe.js';

/**
 * R2: forged, altered, stale, replayed and unsigned webhooks are all rejected with nothing stored,
 * nothing enqueued and nothing sent. Each case is one request; the state of every table a webhook can
 * touch is compared before and after the whole corpus.
 */

interface Case {
  name: string;
  send: () => Promise<Response>;
}

function metaCases(url: string): Case[] {
  const hook = `${url}/v1/meta/webhook`;
  const body = JSON.stringify(dm('m_forged_1', 'I would like to buy everything'));
  const post = (payload: string, headers: Record<string, string>) => fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload });
  const good = sign(body);
  return [
    { name: 'meta: no signature', send: () => post(body, {}) },
    { name: 'meta: empty signature', send: () => post(body, { 'x-hub-signature-256': '' }) },
    { name: 'meta: signed with another secret', send: () => post(body, { 'x-hub-signature-256': sign(body, 'not-the-app-secret') }) },
    { name: 'meta: body altered after signing (one character)', send: () => post(body.replace('buy', 'buz'), { 'x-hub-signature-256': good }) },
    { name: 'meta: body re-serialised with other spacing', send: () => post(JSON.stringify(JSON.parse(body), null, 1), { 'x-hub-signature-256': good }) },
    { name: 'meta: truncated signature', send: () => post(body, { 'x-hub-signature-256': good.slice(0, -2) }) },
    { name: 'meta: signature with one hex digit changed', send: () => post(body, { 'x-hub-signature-256': good.slice(0, -1) + (good.endsWith('0') ? '1' : '0') }) },
    { name: 'meta: legacy sha1 header only', send: () => post(body, { 'x-hub-signature': `sha1=${createHmac('sha1', META_SECRET).update(body).digest('hex')}` }) },
    { name: 'meta: sha1 value under the sha256 header', send: () => post(body, { 'x-hub-signature-256': `sha1=${createHmac('sha1', META_SECRET).update(body).digest('hex')}` }) },
    { name: 'meta: no algorithm prefix', send: () => post(body, { 'x-hub-signature-256': good.slice(7) }) },
    { name: 'meta: signature of an empty body, body sent', send: () => post(body, { 'x-hub-signature-256': sign('') }) },
    { name: 'meta: garbage signature', send: () => post(body, { 'x-hub-signature-256': 'sha256=zzzz' }) },
    { name: 'meta: signature of another delivery', send: () => post(body, { 'x-hub-signature-256': sign(JSON.stringify(dm('m_other', 'hi'))) }) },
    { name: 'meta: body with a trailing newline added', send: () => post(`${body}\n`, { 'x-hub-signature-256': good }) },
  ];
}

function stripeCases(url: string, account: string, sessionId: string, fake: FakeStripe): Case[] {
  const hook = `${url}/v1/stripe/webhook`;
  const event = fake.event('checkout.session.completed', fake.completedSession(sessionId, 'paid'), { account });
  const body = JSON.stringify(event);
  const now = Math.floor(Date.now() / 1000);
  const post = (payload: string, signature?: string) =>
    fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', ...(signature !== undefined ? { 'stripe-signature': signature } : {}) }, body: payload });
  return [
    { name: 'stripe: no signature', send: () => post(body) },
    { name: 'stripe: empty signature', send: () => post(body, '') },
    { name: 'stripe: signed with another secret', send: () => post(body, FakeStripe.sign(body, 'whsec_not_ours')) },
    { name: 'stripe: body tampered (amount)', send: () => post(body.replace('"paid"', '"paid" '), FakeStripe.sign(body, CONNECT_SECRET)) },
    { name: 'stripe: timestamp older than 300 s', send: () => post(body, FakeStripe.sign(body, CONNECT_SECRET, now - 301)) },
    { name: 'stripe: replay of a day-old delivery', send: () => post(body, FakeStripe.sign(body, WEBHOOK_SECRET, now - 86_400)) },
    { name: 'stripe: timestamp changed after signing', send: () => post(body, FakeStripe.sign(body, CONNECT_SECRET, now - 10).replace(/t=\d+/, `t=${now - 5}`)) },
    { name: 'stripe: v0 scheme only', send: () => post(body, `t=${now},v0=${createHmac('sha256', CONNECT_SECRET).update(`${now}.${body}`).digest('hex')}`) },
    { name: 'stripe: hmac without the timestamp prefix', send: () => post(body, `t=${now},v1=${createHmac('sha256', CONNECT_SECRET).update(body).digest('hex')}`) },
    { name: 'stripe: garbage header', send: () => post(body, 'nonsense') },
    { name: 'stripe: signature of another event', send: () => post(body, FakeStripe.sign(JSON.stringify({ ...event, id: 'evt_other' }), CONNECT_SECRET)) },
    { name: 'stripe: not JSON, validly signed with a wrong secret', send: () => post('not json', FakeStripe.sign('not json', 'whsec_x')) },
    { name: 'stripe: re-serialised body', send: () => post(JSON.stringify(event, null, 2), FakeStripe.sign(body, CONNECT_SECRET)) },
    { name: 'stripe: whsec prefix missing from the secret used', send: () => post(body, FakeStripe.sign(body, CONNECT_SECRET.slice(6))) },
  ];
}

for (const dialect of dialects()) {
  test(`${dialect}: forged, altered, stale, replayed and unsigned webhooks are rejected with no side effects`, async (t) => {
    const graph = await FakeGraphApi.start();
    graph.allowToken(PAGE_TOKEN);
    const h = await startPayments(dialect, { env: { META_APP_SECRET: META_SECRET, META_VERIFY_TOKEN: 'v', META_GRAPH_URL: graph.url } });
    try {
      const tenant = await connectedTenant(h, 'shop', { plans: [{ id: 'basic', name: 'Basic', amount: 1000, currency: 'usd', interval: 'month' }], fb_page_id: PAGE_ID, fb_page_token: PAGE_TOKEN });
      const link = (await (await fetch(`${h.app.url}/v1/stripe/checkout/by-plan?tenant=shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ plan_id: 'basic' }) })).json()) as any;
      const worker = await h.app.services.startWorker();
      const k = h.app.services.db.knex;
      const snapshot = async () =>
        JSON.stringify({
          deliveries: await k('webhook_deliveries').select('provider', 'external_id', 'status', 'duplicates'),
          jobs: await k('jobs').count({ n: '*' }),
          messages: await k('messages').count({ n: '*' }),
          orders: await k('orders').select('id', 'status'),
          events: await k('events').select('type'),
          tenants: await k('tenants').select('charges_enabled'),
        });
      const before = await snapshot();
      const cases = [...metaCases(h.app.url), ...stripeCases(h.app.url, tenant.stripeAccountId!, link.session_id, h.fake)];
      t.true(cases.length >= 28, `${cases.length} cases`);
      for (const c of cases) {
        const res = await c.send();
        t.true(res.status >= 400 && res.status < 500, `${c.name}: ${res.status}`);
      }
      await new Promise((r) => setTimeout(r, 300));
      t.is(await snapshot(), before, 'nothing stored, enqueued or changed');
      t.is(graph.sends.length, 0, 'nothing sent to the Graph API');
      await worker.stop();
    } finally {
      await h.close();
      await graph.close();
    }
  });
}
