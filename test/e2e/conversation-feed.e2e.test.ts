import ava from 'ava';
import { encodeTime } from 'ulid';
import { EventService } from '../../src/features/events/event-service.js';
import { EventStore } from '../../src/features/events/event-store.js';
import { FakeGraphApi } from '../fakes/graph-api.js';
import { ADMIN_KEY, startApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';
import { openStream, type LiveStream } from '../helpers/feed.js';
import { dm, META_SECRET, PAGE_ID, PAGE_TOKEN, postSigned, VERIFY_TOKEN } from '../helpers/meta.js';
import { waitFor } from '../helpers/wait.js';

const seen = (s: LiveStream, type: string, match: (d: any) => boolean = () => true) => s.events.find((e) => e.event === type && match(e.data));

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: the live feed shows messages, replies, handoff requests and operator replies as they happen, and a reconnect with Last-Event-ID misses nothing`, async (t) => {
    const graph = await FakeGraphApi.start('v23.0');
    graph.allowToken(PAGE_TOKEN);
    const app = await startApp(dialect, { META_APP_SECRET: META_SECRET, META_VERIFY_TOKEN: VERIFY_TOKEN, META_GRAPH_URL: graph.url, META_GRAPH_VERSION: 'v23.0' });
    const streams: LiveStream[] = [];
    const open = async (query: string, headers: Record<string, string> = {}) => {
      const s = await openStream(`${app.url}/v1/admin/conversations/stream${query}`, { 'x-api-key': ADMIN_KEY, ...headers });
      streams.push(s);
      return s;
    };
    try {
      const shop = await app.services.tenants.create({ slug: 'shop', name: 'Shop', settings: { fb_page_id: PAGE_ID, fb_page_token: PAGE_TOKEN, handoff: { enabled: true } } });
      const other = await app.services.tenants.create({ slug: 'other', name: 'Other' });
      await app.services.startWorker();

      const feed = await open('?tenant=shop');
      t.is(feed.status, 200);
      await waitFor('ready', () => seen(feed, 'ready'));
      t.deepEqual(seen(feed, 'ready')!.data, { tenant: 'shop', resumed_after: null });

      await postSigned(app.url, dm('m_f_1', 'do you open on sundays?'));
      const received = (await waitFor('the message in the feed', () => seen(feed, 'message_received')))!;
      t.like(received.data, { type: 'message_received', tenant: 'shop', message: { role: 'user', text: 'do you open on sundays?' } });
      t.is(received.id, received.data.id, 'the SSE id is the stored event id');
      const sent = (await waitFor('the bot reply in the feed', () => seen(feed, 'reply_sent')))!;
      t.is(sent.data.message.role, 'assistant');
      t.is(sent.data.conversation_id, received.data.conversation_id);

      await postSigned(app.url, dm('m_f_2', 'I want to talk to a human'));
      const asked = (await waitFor('the handoff request in the feed', () => seen(feed, 'handoff_requested')))!;
      t.like(asked.data.data, { by: 'customer', bot_paused: true });
      const conversationId = asked.data.conversation_id;

      // Another tenant's traffic never reaches this stream; an admin stream without ?tenant= sees both.
      const all = await open('');
      await waitFor('ready (all tenants)', () => seen(all, 'ready'));
      await app.services.chat.runTurn({ tenant: other, channel: 'web', externalUserId: 'v-other', text: 'hello' });
      await waitFor('the other tenant in the admin-wide stream', () => seen(all, 'message_received', (d) => d.tenant === 'other'));

      // The operator steps away: the stream drops; meanwhile the customer writes, an operator replies,
      // and a worker elsewhere records an event this process never hears of.
      feed.close();
      const lastId = feed.events[feed.events.length - 1]!.id!;
      await postSigned(app.url, dm('m_f_3', 'hello? anyone?'));
      await waitFor('the message while away stored', async () => (await app.services.events.list(shop.id, { type: 'message_received', limit: 10 })).length === 3);
      t.is((await app.admin(`/v1/admin/conversations/${conversationId}/reply`, { method: 'POST', body: JSON.stringify({ text: 'Hi, Kari here.' }) })).status, 202);
      const elsewhere = new EventService(new EventStore(app.services.db), app.services.logger);
      const remote = await elsewhere.record(shop.id, 'handoff_paused', { conversationId, data: { channel: 'messenger', by: 'worker-on-another-host' } });

      const back = await open('?tenant=shop', { 'last-event-id': lastId });
      await waitFor('the missed events after reconnecting', () => seen(back, 'operator_reply') && seen(back, 'handoff_paused', (d) => d.id === remote.id));
      t.truthy(seen(back, 'message_received', (d) => d.message?.text === 'hello? anyone?'));
      t.is(seen(back, 'operator_reply')!.data.message.text, 'Hi, Kari here.');
      t.like(seen(back, 'ready')!.data, { resumed_after: lastId });
      const ids = back.events.filter((e) => e.id).map((e) => e.id!);
      t.is(new Set(ids).size, ids.length, 'no event twice on one stream');
      t.deepEqual([...ids].sort(), ids, 'in id order');

      // An event whose id was made before the last one sent but committed after it (a long transaction)
      // still arrives: reads look back a few seconds.
      const lateId = `${encodeTime(Date.now() - 2_000, 10)}ZZZZZZZZZZZZZZZZ`;
      await app.services.db.knex('events').insert({ id: lateId, tenant_id: shop.id, type: 'handoff_resumed', conversation_id: conversationId, data: JSON.stringify({ by: 'late' }), created_at: new Date().toISOString() });
      await waitFor('the late commit', () => seen(back, 'handoff_resumed', (d) => d.id === lateId));

      // A tenant's key sees its own tenant only.
      const key = (await app.services.apiKeys.create(shop, 'ops')).key;
      const scoped = await openStream(`${app.url}/v1/admin/conversations/stream`, { 'x-api-key': key });
      streams.push(scoped);
      t.is(scoped.status, 200);
      const denied = await openStream(`${app.url}/v1/admin/conversations/stream?tenant=other`, { 'x-api-key': key });
      t.is(denied.status, 404);
      const bad = await openStream(`${app.url}/v1/admin/conversations/stream?tenant=shop`, { 'x-api-key': ADMIN_KEY, 'last-event-id': 'nope' });
      t.is(bad.status, 400);
      const future = await openStream(`${app.url}/v1/admin/conversations/stream?tenant=shop`, { 'x-api-key': ADMIN_KEY, 'last-event-id': '8ZZZZZZZZZZZZZZZZZZZZZZZZZ' });
      streams.push(future);
      t.is(future.status, 200, 'an id past any clock resumes from now, never a 5xx');
      t.is((await openStream(`${app.url}/v1/admin/conversations/stream`)).status, 401);
    } finally {
      for (const s of streams) s.close();
      await app.close();
      await graph.close();
    }
  });
}
