import ava from 'ava';

const concurrent = ava;
const serial = ava.serial;
import { startApp, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';
import { EchoChatEngine } from '../helpers/echo-chat-engine.js';
import { waitFor } from '../helpers/wait.js';
import { FakeGraphApi } from '../fakes/graph-api.js';
import { dm, fbComment, IG_ID, igComment, META_SECRET, PAGE_ID, PAGE_TOKEN, postSigned, VERIFY_TOKEN } from '../helpers/meta.js';

interface Ctx {
  app: TestApp;
  graph: FakeGraphApi;
  chat: EchoChatEngine;
  tenantId: string;
  close(): Promise<void>;
}

async function setup(dialect: 'sqlite' | 'pg', env: Record<string, string | undefined> = {}, settings: Record<string, unknown> = {}): Promise<Ctx> {
  const graph = await FakeGraphApi.start('v23.0');
  graph.allowToken(PAGE_TOKEN);
  const chat = new EchoChatEngine();
  const app = await startApp(
    dialect,
    { META_APP_SECRET: META_SECRET, META_VERIFY_TOKEN: VERIFY_TOKEN, META_GRAPH_URL: graph.url, META_GRAPH_VERSION: 'v23.0', ZIA_JOB_BACKOFF_MS: '30', ZIA_JOB_MAX_ATTEMPTS: '4', ...env },
    { chat },
  );
  const tenant = await app.services.tenants.create({ slug: 'shop', name: 'Shop', settings: { fb_page_id: PAGE_ID, ig_user_id: IG_ID, fb_page_token: PAGE_TOKEN, ...settings } });
  await app.services.startWorker();
  return {
    app,
    graph,
    chat,
    tenantId: tenant.id,
    async close() {
      await app.close();
      await graph.close();
    },
  };
}

const deliveries = (c: Ctx) => c.app.services.db.knex('webhook_deliveries').orderBy('external_id');
const settled = async (c: Ctx) => (await c.app.services.db.knex('webhook_deliveries').whereIn('status', ['received', 'failed']).count({ n: '*' }))[0]!.n == 0;

function batch() {
  return [
    dm('m_dm_1', 'do you ship to Oslo?'),
    { object: 'page', entry: [{ id: PAGE_ID, time: Date.now(), changes: [fbComment('555_901', 'Price?')] }] },
    { object: 'instagram', entry: [{ id: IG_ID, time: Date.now(), changes: [igComment('17900000000000001', 'In stock?')] }] },
  ];
}

for (const dialect of dialects()) {
  // PostgreSQL tests one at a time: each app holds a pool and a queue pool, and the server is shared.
  const test = dialect === 'pg' ? serial : concurrent;
  test(`${dialect}: verification handshake echoes the challenge; a wrong token is refused`, async (t) => {
    const c = await setup(dialect);
    const ok = await fetch(`${c.app.url}/v1/meta/webhook?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`);
    t.is(ok.status, 200);
    t.regex(ok.headers.get('content-type') ?? '', /^text\/plain/);
    t.is(await ok.text(), '1158201444');
    const bad = await fetch(`${c.app.url}/v1/meta/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1`);
    t.is(bad.status, 403);
    await c.close();
  });

  test(`${dialect}: a signed batch (Messenger DM, FB comment, IG comment) is acknowledged, then each item is answered`, async (t) => {
    const c = await setup(dialect);
    for (const payload of batch()) t.is((await postSigned(c.app.url, payload)).status, 200);
    await waitFor('all items processed', () => settled(c));
    const rows = await deliveries(c);
    t.deepEqual(rows.map((r) => [r.external_id, r.status]), [
      ['fb_comment:555_901', 'processed'],
      ['ig_comment:17900000000000001', 'processed'],
      ['mid:m_dm_1', 'processed'],
    ]);
    const dmSends = c.graph.sendsTo('PSID_1');
    t.is(dmSends.length, 1);
    t.is(dmSends[0]!.kind, 'dm');
    t.is(dmSends[0]!.messagingType, 'RESPONSE');
    t.is(dmSends[0]!.text, 'Reply to: do you ship to Oslo?');
    const fb = c.graph.sendsTo('555_901');
    t.deepEqual(fb.map((s) => s.kind).sort(), ['fb_comment_reply', 'private_reply']);
    t.is(fb.find((s) => s.kind === 'private_reply')!.text, 'Reply to: Price?');
    const ig = c.graph.sendsTo('17900000000000001');
    t.deepEqual(ig.map((s) => s.kind).sort(), ['ig_comment_reply', 'private_reply']);
    t.is(c.graph.sends.length, 5);
    t.deepEqual(c.chat.calls.map((x) => x.channel).sort(), ['fb_comment', 'ig_comment', 'messenger']);
    const events = await c.app.services.events.list(c.tenantId, { limit: 100 });
    const count = (type: string) => events.filter((e) => e.type === type).length;
    t.is(count('private_reply_sent'), 2);
    t.is(count('public_reply_sent'), 2);
    t.is(count('comment_received'), 2);
    t.is(count('reply_sent'), 1);
    t.false(c.app.logs.text.includes(PAGE_TOKEN), 'the page token never reaches a log');
    await c.close();
  });

  test(`${dialect}: the same delivery posted five times gets one reply per item`, async (t) => {
    const c = await setup(dialect);
    for (let i = 0; i < 5; i++) for (const payload of batch()) t.is((await postSigned(c.app.url, payload)).status, 200);
    await waitFor('all items processed', () => settled(c));
    const rows = await deliveries(c);
    t.is(rows.length, 3);
    t.deepEqual(rows.map((r) => Number(r.duplicates)), [4, 4, 4]);
    t.is(c.graph.sendsTo('PSID_1').length, 1);
    t.is(c.graph.sendsTo('555_901').length, 2);
    t.is(c.graph.sendsTo('17900000000000001').length, 2);
    t.is(c.graph.sends.length, 5);
    await c.close();
  });

  test(`${dialect}: a message id of 400 characters is stored, answered once, and known again when repeated`, async (t) => {
    const c = await setup(dialect);
    // Meta sets no maximum for a message id; one longer than its column once failed the ack with a 500.
    const mid = `m_${'A1b2C3d4'.repeat(50)}`;
    for (let i = 0; i < 2; i++) t.is((await postSigned(c.app.url, dm(mid, 'do you ship to Oslo?'))).status, 200);
    await waitFor('the message processed', () => settled(c));
    const rows = await deliveries(c);
    t.deepEqual(rows.map((r) => [r.external_id, r.status, Number(r.duplicates)]), [[`mid:${mid}`, 'processed', 1]]);
    t.is(c.graph.sendsTo('PSID_1').length, 1);
    await c.close();
  });

  test(`${dialect}: bad or missing signatures are refused and nothing is stored; no secret → refused`, async (t) => {
    const c = await setup(dialect);
    const payload = JSON.stringify(dm('m_forged', 'hi'));
    t.is((await postSigned(c.app.url, payload, { signature: null })).status, 401);
    t.is((await postSigned(c.app.url, payload, { secret: 'wrong-secret' })).status, 403);
    t.is((await postSigned(c.app.url, payload, { signature: 'sha256=zz' })).status, 403);
    // Signed, then altered by one byte in transit.
    const signed = (await import('../helpers/meta.js')).sign(payload);
    t.is((await postSigned(c.app.url, payload.replace('hi', 'ho'), { signature: signed })).status, 403);
    t.is((await deliveries(c)).length, 0);
    t.is(c.graph.sends.length, 0);
    await c.close();

    const n = await setup(dialect, { META_APP_SECRET: undefined });
    t.is((await postSigned(n.app.url, payload)).status, 503);
    t.regex(n.app.logs.text, /META_APP_SECRET is not set/);
    t.is((await deliveries(n)).length, 0);
    await n.close();
  });

  test(`${dialect}: echoes, the page's own comments, reads, deliveries, edits and removals produce nothing`, async (t) => {
    const c = await setup(dialect);
    const page = {
      object: 'page',
      entry: [
        {
          id: PAGE_ID,
          time: Date.now(),
          messaging: [
            { sender: { id: PAGE_ID }, recipient: { id: 'PSID_1' }, timestamp: Date.now(), message: { mid: 'm_echo', text: 'Reply to: x', is_echo: true, app_id: 1 } },
            { sender: { id: 'PSID_1' }, recipient: { id: PAGE_ID }, timestamp: Date.now(), delivery: { mids: ['m_x'], watermark: 1 } },
            { sender: { id: 'PSID_1' }, recipient: { id: PAGE_ID }, timestamp: Date.now(), read: { watermark: 1 } },
            { sender: { id: 'PSID_1' }, recipient: { id: PAGE_ID }, timestamp: Date.now(), message_edit: { mid: 'm_1', text: 'edited', num_edit: 1 } },
          ],
          changes: [fbComment('555_own', 'Thanks!', PAGE_ID), { field: 'feed', value: { ...fbComment('555_x', 'edited').value, verb: 'edited' } }, { field: 'feed', value: { ...fbComment('555_y', '').value, verb: 'remove' } }],
        },
      ],
    };
    const ig = { object: 'instagram', entry: [{ id: IG_ID, time: Date.now(), changes: [igComment('1790_own', 'our reply', IG_ID)], messaging: [{ sender: { id: IG_ID }, recipient: { id: 'IGSID_7' }, timestamp: Date.now(), message: { mid: 'ig_echo', text: 'x', is_echo: true } }] }] };
    t.is((await postSigned(c.app.url, page)).status, 200);
    t.is((await postSigned(c.app.url, ig)).status, 200);
    // A real item afterwards: once it is answered, anything dropped above would have been answered too.
    t.is((await postSigned(c.app.url, dm('m_after', 'hello'))).status, 200);
    await waitFor('the real item', () => c.graph.sends.length === 1);
    await waitFor('settled', () => settled(c));
    t.deepEqual((await deliveries(c)).map((r) => r.external_id), ['mid:m_after']);
    t.is(c.chat.calls.length, 1);
    await c.close();
  });

  test(`${dialect}: an unknown page is recorded as ignored and gets no reply`, async (t) => {
    const c = await setup(dialect);
    t.is((await postSigned(c.app.url, dm('m_other', 'hi', { page: '999999' }))).status, 200);
    const rows = await deliveries(c);
    t.is(rows.length, 1);
    t.is(rows[0]!.status, 'ignored');
    t.is(rows[0]!.tenant_id, null);
    t.regex(rows[0]!.last_error, /no tenant has fb_page_id 999999/);
    t.is(c.chat.calls.length, 0);
    await c.close();
  });

  test(`${dialect}: a transient Graph error is retried and the reply goes out once`, async (t) => {
    const c = await setup(dialect);
    c.graph.failNext(1, { status: 500, code: 2, message: 'Service temporarily unavailable' });
    c.graph.failNext(1, { status: 400, code: 613, message: 'Calls to this api have exceeded the rate limit.' });
    t.is((await postSigned(c.app.url, dm('m_retry', 'hello'))).status, 200);
    await waitFor('settled', () => settled(c));
    const [row] = await deliveries(c);
    t.is(row.status, 'processed', `${row.last_error}\n${c.app.logs.lines.filter((l) => l.includes('"level":50') || l.includes('"level":40')).join('\n')}`);
    t.is(Number(row.attempts), 3);
    t.is(c.graph.sends.length, 1);
    t.is(c.graph.refused.length, 2);
    t.is(c.chat.calls.length, 1, 'the engine ran once; retries reuse the saved reply');
    await c.close();
  });

  test(`${dialect}: a permanent Graph error parks the item as dead with the reason; replay sends it`, async (t) => {
    const c = await setup(dialect);
    c.graph.failNext(1, { status: 400, code: 551, message: 'This person isn\'t available right now.' });
    t.is((await postSigned(c.app.url, dm('m_dead', 'hello'))).status, 200);
    await waitFor('dead', async () => (await deliveries(c))[0]?.status === 'dead');
    const [row] = await deliveries(c);
    t.regex(row.last_error, /551/);
    t.is(Number(row.attempts), 1, 'not retried');
    t.is(c.graph.sends.length, 0);
    const send = await c.app.services.db.knex('outbound_sends').first();
    t.is(send.status, 'failed');
    const log = await c.app.admin('/v1/admin/webhooks/deliveries?status=dead');
    t.is(log.status, 200);
    const listed = (await log.json()) as { deliveries: Array<{ id: string; last_error: string }> };
    t.deepEqual(listed.deliveries.map((d) => d.id), [row.id]);
    t.is((await fetch(`${c.app.url}/v1/admin/webhooks/deliveries/${row.id}/replay`, { method: 'POST' })).status, 401);
    t.is((await c.app.admin(`/v1/admin/webhooks/deliveries/${row.id}/replay`, { method: 'POST' })).status, 200);
    await waitFor('replayed', async () => (await deliveries(c))[0]?.status === 'processed');
    t.is(c.graph.sends.length, 1);
    t.is(c.chat.calls.length, 1);
    await c.close();
  });

  // What a kill -9 during the Graph call leaves behind: the pending record, and the saved turn.
  const inFlight = async (c: Ctx) => {
    const now = new Date().toISOString();
    await c.app.services.db.knex('outbound_sends').insert({ id: '01HZZZZZZZZZZZZZZZZZZZZZZZ', tenant_id: c.tenantId, idempotency_key: 'meta:mid:m_inflight:reply:0', channel: 'messenger', status: 'pending', created_at: now, updated_at: now });
    c.graph.failNext(1, { status: 0, drop: true }, (x) => x.target === 'PSID_net');
    t0(await postSigned(c.app.url, dm('m_inflight', 'hello')));
    t0(await postSigned(c.app.url, dm('m_net', 'hello', { psid: 'PSID_net' })));
  };
  const t0 = (res: Response) => {
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
  };

  test(`${dialect}: a send found in flight (a crash between recording and answering) is sent once more by default, and the log says so`, async (t) => {
    const c = await setup(dialect);
    await inFlight(c);
    await waitFor('settled', () => settled(c));
    t.is(c.graph.sendsTo('PSID_1').length, 1, 'the uncertain send is sent again, once');
    t.is(c.graph.sendsTo('PSID_net').length, 1, 'a connection error (nothing accepted) is retried');
    const rows = await c.app.services.db.knex('outbound_sends').orderBy('idempotency_key');
    t.deepEqual(rows.map((r) => [r.idempotency_key, r.status, Number(r.resends)]), [['meta:mid:m_inflight:reply:0', 'sent', 1], ['meta:mid:m_net:reply:0', 'sent', 0]]);
    t.deepEqual((await deliveries(c)).map((d) => d.status), ['processed', 'processed']);
    t.regex(c.app.logs.text, /"key":"meta:mid:m_inflight:reply:0".*send was in flight.*sent once more/);
    // Still listed for the operator: a duplicate is possible.
    const listed = (await (await c.app.admin('/v1/admin/webhooks/deliveries')).json()) as { sends_in_doubt: Array<{ key: string; status: string; resends: number }> };
    t.deepEqual(listed.sends_in_doubt.map((s) => [s.key, s.status, s.resends]), [['meta:mid:m_inflight:reply:0', 'sent', 1]]);
    await c.close();
  });

  test(`${dialect}: with ZIA_UNCERTAIN_SENDS=hold a send found in flight is not repeated; the delivery reads held until an operator resends it`, async (t) => {
    const c = await setup(dialect, { ZIA_UNCERTAIN_SENDS: 'hold' });
    await inFlight(c);
    await waitFor('settled', () => settled(c));
    t.is(c.graph.sendsTo('PSID_1').length, 0, 'the uncertain send is not repeated');
    t.is(c.graph.sendsTo('PSID_net').length, 1, 'a connection error (nothing accepted) is retried');
    const rows = await c.app.services.db.knex('outbound_sends').orderBy('idempotency_key');
    t.deepEqual(rows.map((r) => [r.idempotency_key, r.status]), [['meta:mid:m_inflight:reply:0', 'held'], ['meta:mid:m_net:reply:0', 'sent']]);
    const held = (await deliveries(c)).find((d) => d.external_id === 'mid:m_inflight')!;
    t.is(held.status, 'held');
    t.regex(held.last_error, /zia conversations resend 01HZZZZZZZZZZZZZZZZZZZZZZZ/);
    t.regex(c.app.logs.text, /"key":"meta:mid:m_inflight:reply:0".*held for an operator/);
    // The delivery log lists the send, with whom it was for and the delivery it answers.
    const listed = (await (await c.app.admin('/v1/admin/webhooks/deliveries?status=held')).json()) as { deliveries: Array<{ id: string }>; sends_in_doubt: Array<{ id: string; status: string; to: string; delivery_id: string }> };
    t.deepEqual(listed.deliveries.map((d) => d.id), [held.id]);
    t.deepEqual(listed.sends_in_doubt.map((s) => [s.id, s.status, s.to, s.delivery_id]), [['01HZZZZZZZZZZZZZZZZZZZZZZZ', 'held', 'PSID_1', held.id]]);
    // By hand, through the API: sent, the message and the delivery are done; a second resend is refused.
    const res = await c.app.admin(`/v1/admin/sends/01HZZZZZZZZZZZZZZZZZZZZZZZ/resend`, { method: 'POST' });
    t.is(res.status, 200, await res.clone().text());
    t.is(c.graph.sendsTo('PSID_1').length, 1);
    t.is((await deliveries(c)).find((d) => d.external_id === 'mid:m_inflight')!.status, 'processed');
    const again = await c.app.admin(`/v1/admin/sends/01HZZZZZZZZZZZZZZZZZZZZZZZ/resend`, { method: 'POST' });
    t.is(again.status, 409);
    t.regex(((await again.json()) as { error: { message: string } }).error.message, /was delivered/);
    await c.close();
  });

  test(`${dialect}: outside the 24 h window nothing is sent and the reason is recorded`, async (t) => {
    const c = await setup(dialect);
    t.is((await postSigned(c.app.url, dm('m_old', 'late', { timestamp: Date.now() - 25 * 3_600_000 }))).status, 200);
    await waitFor('settled', () => settled(c));
    t.is(c.graph.sends.length, 0);
    const events = await c.app.services.events.list(c.tenantId, { limit: 100 });
    const notSent = events.find((e) => e.type === 'reply_not_sent');
    t.truthy(notSent);
    t.is((notSent!.data as Record<string, unknown>).reason, 'outside_24h_window');
    await c.close();
  });

  test(`${dialect}: comment options: public reply off, custom text, keywords`, async (t) => {
    const c = await setup(dialect, {}, { comments: { public_reply: false, keywords: ['price'] } });
    const payload = { object: 'page', entry: [{ id: PAGE_ID, time: Date.now(), changes: [fbComment('555_a', 'What is the PRICE?'), fbComment('555_b', 'nice photo')] }] };
    t.is((await postSigned(c.app.url, payload)).status, 200);
    await waitFor('settled', () => settled(c));
    t.deepEqual(c.graph.sends.map((s) => [s.kind, s.target]), [['private_reply', '555_a']]);
    await c.app.services.tenants.update('shop', { settings: { comments: { private_reply: false, public_reply_text: 'See your inbox 📬' } } });
    t.is((await postSigned(c.app.url, { object: 'page', entry: [{ id: PAGE_ID, time: Date.now(), changes: [fbComment('555_c', 'hello')] }] })).status, 200);
    await waitFor('settled', () => settled(c));
    t.deepEqual(c.graph.sendsTo('555_c').map((s) => [s.kind, s.text]), [['fb_comment_reply', 'See your inbox 📬']]);
    await c.close();
  });

  test(`${dialect}: long replies are split to Messenger's limit`, async (t) => {
    const c = await setup(dialect);
    const long = Array.from({ length: 500 }, (_, i) => `word${i}`).join(' ');
    t.is((await postSigned(c.app.url, dm('m_long', long))).status, 200);
    await waitFor('settled', () => settled(c));
    t.true(c.graph.sends.length >= 2);
    t.true(c.graph.sends.every((s) => [...s.text].length <= 2000));
    t.is(c.graph.sends.map((s) => s.text).join(' '), `Reply to: ${long}`);
    await c.close();
  });
}
