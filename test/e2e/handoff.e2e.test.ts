import ava from 'ava';
import { startApp, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

/** waitFor, typed as the value it waited for. */
const until = async <T>(what: string, check: () => Promise<T> | T): Promise<NonNullable<T>> => (await waitFor(what, check)) as NonNullable<T>;
import { FakeGraphApi } from '../fakes/graph-api.js';
import { dm, META_SECRET, PAGE_ID, PAGE_TOKEN, postSigned, VERIFY_TOKEN } from '../helpers/meta.js';
import { runBin } from '../helpers/cli.js';
import { openStream } from '../helpers/feed.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

interface Ctx {
  app: TestApp;
  graph: FakeGraphApi;
  close(): Promise<void>;
}

// The real chat engine (offline provider): it is the one that answers nothing while a conversation is paused.
async function setup(dialect: 'sqlite' | 'pg'): Promise<Ctx> {
  const graph = await FakeGraphApi.start('v23.0');
  graph.allowToken(PAGE_TOKEN);
  const app = await startApp(dialect, {
    META_APP_SECRET: META_SECRET,
    META_VERIFY_TOKEN: VERIFY_TOKEN,
    META_GRAPH_URL: graph.url,
    META_GRAPH_VERSION: 'v23.0',
    ZIA_JOB_BACKOFF_MS: '30',
    ZIA_JOB_MAX_ATTEMPTS: '3',
  });
  await app.services.tenants.create({ slug: 'shop', name: 'Shop', settings: { fb_page_id: PAGE_ID, fb_page_token: PAGE_TOKEN } });
  await app.services.startWorker();
  return {
    app,
    graph,
    async close() {
      await app.close();
      await graph.close();
    },
  };
}

const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });
const processed = (c: Ctx, externalId: string) => async () =>
  (await c.app.services.db.knex('webhook_deliveries').where({ provider: 'meta', external_id: `mid:${externalId}` }).first())?.status === 'processed';

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: a paused Messenger conversation stores messages and answers nothing; the operator's reply reaches the channel`, async (t) => {
    const c = await setup(dialect);
    try {
      t.is((await postSigned(c.app.url, dm('m_h_1', 'hello there'))).status, 200);
      await waitFor('the bot reply', () => c.graph.sendsTo('PSID_1').length === 1);

      const list = await json(await c.app.admin('/v1/admin/conversations?tenant=shop&channel=messenger'));
      t.is(list.status, 200);
      t.is(list.body.conversations.length, 1);
      const conv = list.body.conversations[0];
      t.like(conv, { channel: 'messenger', external_user_id: 'PSID_1', bot_paused: false });

      const paused = await json(await c.app.admin(`/v1/admin/conversations/${conv.id}/pause`, { method: 'POST' }));
      t.is(paused.status, 200);
      t.true(paused.body.conversation.bot_paused);
      // Pausing twice records one event.
      await c.app.admin(`/v1/admin/conversations/${conv.id}/pause`, { method: 'POST' });
      t.deepEqual((await json(await c.app.admin('/v1/admin/conversations?paused=true'))).body.conversations.map((x: any) => x.id), [conv.id]);
      t.deepEqual((await json(await c.app.admin('/v1/admin/conversations?paused=false'))).body.conversations, []);
      t.is((await c.app.services.events.list(conv.tenant_id, { type: 'handoff_paused', limit: 10 })).length, 1);

      t.is((await postSigned(c.app.url, dm('m_h_2', 'is anyone there?'))).status, 200);
      await waitFor('the paused message processed', processed(c, 'm_h_2'));
      t.is(c.graph.sendsTo('PSID_1').length, 1, 'no bot reply while paused');

      const reply = await json(await c.app.admin(`/v1/admin/conversations/${conv.id}/reply`, { method: 'POST', body: JSON.stringify({ text: 'Hi, Kari here from the shop.' }) }));
      t.is(reply.status, 202);
      t.like(reply.body, { channel: 'messenger', delivery: 'queued' });
      const sent = await until('the operator reply on Messenger', () => c.graph.sendsTo('PSID_1').find((s) => s.text === 'Hi, Kari here from the shop.'));
      t.is(sent.kind, 'dm');
      t.is(sent.token, PAGE_TOKEN);

      const shown = await until('the reply marked sent', async () => {
        const r = await json(await c.app.admin(`/v1/admin/conversations/${conv.id}`));
        return r.body.messages.find((m: any) => m.role === 'operator' && m.delivery_status === 'sent') ? r : undefined;
      });
      t.deepEqual(shown.body.messages.map((m: any) => m.author), ['customer', 'bot', 'customer', 'operator'], 'who said what');
      t.deepEqual(
        shown.body.messages.map((m: any) => m.role),
        ['user', 'assistant', 'user', 'operator'],
        'the message received while paused is stored, with no assistant reply after it',
      );
      t.is(shown.body.messages[2].text, 'is anyone there?');
      t.is((await c.app.services.events.list(conv.tenant_id, { type: 'operator_reply', limit: 10 })).length, 1);

      // A replayed send job never sends twice: the key is the message id.
      t.is(c.graph.sendsTo('PSID_1').filter((s) => s.text === 'Hi, Kari here from the shop.').length, 1);

      const resumed = await json(await c.app.admin(`/v1/admin/conversations/${conv.id}/resume`, { method: 'POST' }));
      t.false(resumed.body.conversation.bot_paused);
      t.is((await c.app.services.events.list(conv.tenant_id, { type: 'handoff_resumed', limit: 10 })).length, 1);
      await postSigned(c.app.url, dm('m_h_3', 'thanks!'));
      await waitFor('the bot answers again', () => c.graph.sendsTo('PSID_1').length === 3);
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: a customer asks for a person: told what happens next, the bot pauses, listed as waiting (API and CLI) until an operator answers`, async (t) => {
    const c = await setup(dialect);
    try {
      const shop = await c.app.services.tenants.update('shop', { settings: { handoff: { enabled: true, message: 'Kari from the shop will answer here soon.' } } });
      t.is((await postSigned(c.app.url, dm('m_r_1', 'hello there'))).status, 200);
      await waitFor('the bot reply', () => c.graph.sendsTo('PSID_1').length === 1);
      t.is((await postSigned(c.app.url, dm('m_r_2', 'Can I talk to a real person?'))).status, 200);
      await until('the handoff message on Messenger', () => c.graph.sendsTo('PSID_1').find((s) => s.text === 'Kari from the shop will answer here soon.'));

      const waiting = await json(await c.app.admin('/v1/admin/conversations?tenant=shop&waiting=true'));
      t.is(waiting.status, 200);
      t.is(waiting.body.conversations.length, 1);
      const conv = waiting.body.conversations[0];
      t.true(conv.bot_paused);
      t.truthy(conv.handoff_requested_at);
      const [requested] = await c.app.services.events.list(shop.id, { type: 'handoff_requested', limit: 10 });
      t.like(requested!.data, { channel: 'messenger', by: 'customer', within_hours: true, bot_paused: true });
      const bad = await json(await c.app.admin(`/v1/admin/conversations?waiting=true&cursor=${conv.id}`));
      t.is(bad.status, 400);
      t.regex(JSON.stringify(bad.body), /cursor/);

      const cwd = await mkdtemp(path.join(tmpdir(), 'zia-waiting-'));
      const cli = await runBin(['conversations', 'list', 'shop', '--waiting'], { env: c.app.env, cwd });
      t.is(cli.code, 0, cli.stderr);
      t.regex(cli.stdout, new RegExp(`${conv.id}.*paused, waiting since ${conv.handoff_requested_at}`));

      // While waiting, the customer's messages are stored and the bot stays quiet.
      await postSigned(c.app.url, dm('m_r_3', 'hello??'));
      await waitFor('the message while waiting', processed(c, 'm_r_3'));
      t.is(c.graph.sendsTo('PSID_1').length, 2);

      t.is((await c.app.admin(`/v1/admin/conversations/${conv.id}/reply`, { method: 'POST', body: JSON.stringify({ text: 'Hi, Kari here.' }) })).status, 202);
      t.deepEqual((await json(await c.app.admin('/v1/admin/conversations?tenant=shop&waiting=true'))).body.conversations, [], 'answered: no longer waiting');
      const json2 = await runBin(['conversations', 'list', 'shop', '--waiting', '--json'], { env: c.app.env, cwd });
      t.deepEqual(JSON.parse(json2.stdout).conversations, []);
      t.true((await c.app.services.conversations.get(shop.id, conv.id)).botPaused, 'the operator keeps the conversation until handing it back');

      // Asking again after the operator answered starts a new wait; handing back ends it.
      await c.app.admin(`/v1/admin/conversations/${conv.id}/resume`, { method: 'POST' });
      await postSigned(c.app.url, dm('m_r_4', 'agent'));
      await waitFor('waiting again', async () => (await c.app.services.conversations.get(shop.id, conv.id)).handoffRequestedAt !== null);
      t.is((await c.app.services.events.list(shop.id, { type: 'handoff_requested', limit: 10 })).length, 2);
      const back = await json(await c.app.admin(`/v1/admin/conversations/${conv.id}/resume`, { method: 'POST' }));
      t.like(back.body.conversation, { bot_paused: false, handoff_requested_at: null });
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: a tenant-scoped key reaches only its own tenant's conversations (404 otherwise)`, async (t) => {
    const c = await setup(dialect);
    try {
      const shop = await c.app.services.tenants.get('shop');
      const other = await c.app.services.tenants.create({ slug: 'other', name: 'Other' });
      const shopKey = (await c.app.services.apiKeys.create(shop, 'ops')).key;
      const otherKey = (await c.app.services.apiKeys.create(other, 'ops')).key;
      await postSigned(c.app.url, dm('m_s_1', 'hello'));
      await waitFor('the conversation', processed(c, 'm_s_1'));
      const as = (key: string) => (path: string, init: RequestInit = {}) => c.app.admin(path, { ...init, headers: { 'x-api-key': key } });

      const mine = await json(await as(shopKey)('/v1/admin/conversations'));
      t.is(mine.status, 200);
      t.is(mine.body.conversations.length, 1);
      const id = mine.body.conversations[0].id;
      t.is((await as(shopKey)(`/v1/admin/conversations/${id}`)).status, 200);

      const theirs = await json(await as(otherKey)('/v1/admin/conversations'));
      t.is(theirs.status, 200);
      t.deepEqual(theirs.body.conversations, [], "another tenant's list is empty");
      t.is((await as(otherKey)('/v1/admin/conversations?tenant=shop')).status, 404);
      t.is((await as(otherKey)(`/v1/admin/conversations/${id}`)).status, 404);
      for (const action of ['pause', 'resume']) t.is((await as(otherKey)(`/v1/admin/conversations/${id}/${action}`, { method: 'POST' })).status, 404);
      t.is((await as(otherKey)(`/v1/admin/conversations/${id}/reply`, { method: 'POST', body: JSON.stringify({ text: 'hi' }) })).status, 404);
      t.false((await c.app.services.conversations.get(shop.id, id)).botPaused, 'the refused pause changed nothing');
      t.is((await as(shopKey)(`/v1/admin/conversations/${id}/pause`, { method: 'POST' })).status, 200);
      t.is((await c.app.admin('/v1/admin/conversations/01ZZZZZZZZZZZZZZZZZZZZZZZZ')).status, 404);
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: POST /v1/admin/webhooks/simulate sends a signed Meta sample that is processed and answered`, async (t) => {
    const c = await setup(dialect);
    try {
      const res = await json(await c.app.admin('/v1/admin/webhooks/simulate', { method: 'POST', body: JSON.stringify({ provider: 'meta', tenant: 'shop', text: 'opening hours?', from: 'PSID_API', url: c.app.url }) }));
      t.is(res.status, 200);
      t.like(res.body, { provider: 'meta', status: 200, ok: true });
      await waitFor('the simulated delivery processed', async () => (await c.app.services.db.knex('webhook_deliveries').where({ external_id: res.body.external_id }).first())?.status === 'processed');
      await waitFor('the reply on Messenger', () => c.graph.sendsTo('PSID_API').length === 1);
      const noSecret = await c.app.admin('/v1/admin/webhooks/simulate', { method: 'POST', body: JSON.stringify({ provider: 'whatsapp', tenant: 'shop', url: c.app.url }) });
      t.is(noSecret.status, 503, 'no Twilio token: nothing to sign with');
      t.is((await c.app.admin('/v1/admin/webhooks/simulate', { method: 'POST', headers: { 'x-api-key': 'wrong' }, body: JSON.stringify({ provider: 'meta', tenant: 'shop' }) })).status, 401);
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: web: a paused conversation gets no reply; the operator's reply is stored and the widget's poll returns it`, async (t) => {
    const c = await setup(dialect);
    try {
      const shop = await c.app.services.tenants.get('shop');
      const first = await c.app.services.chat.runTurn({ tenant: shop, channel: 'web', externalUserId: 'visitor-1', text: 'hello' });
      t.truthy(first.reply);
      const id = first.conversationId;
      t.is((await c.app.admin(`/v1/admin/conversations/${id}/pause`, { method: 'POST' })).status, 200);
      const paused = await c.app.services.chat.runTurn({ tenant: shop, channel: 'web', externalUserId: 'visitor-1', text: 'a human please', conversationId: id });
      t.is(paused.reply, null);
      const reply = await json(await c.app.admin(`/v1/admin/conversations/${id}/reply`, { method: 'POST', body: JSON.stringify({ text: 'Hi! A person here.' }) }));
      t.like(reply.body, { channel: 'web', delivery: 'stored' });

      const poll = (q: string) => fetch(`${c.app.url}/v1/chat/operator-messages?tenant=shop&conversation_id=${id}${q}`);
      const got = await json(await poll(''));
      t.is(got.status, 200);
      t.deepEqual(got.body.messages.map((m: any) => m.text), ['Hi! A person here.']);
      t.true(got.body.bot_paused);
      t.deepEqual((await json(await poll(`&after=${got.body.messages[0].id}`))).body.messages, []);
      await c.app.services.tenants.create({ slug: 'other', name: 'Other' });
      t.is((await fetch(`${c.app.url}/v1/chat/operator-messages?tenant=other&conversation_id=${id}`)).status, 404);

      await postSigned(c.app.url, dm('m_w_1', 'hi'));
      await waitFor('the Messenger conversation', processed(c, 'm_w_1'));
      const messenger = (await c.app.services.conversations.find(shop.id, 'messenger', 'PSID_1'))!;
      t.is((await fetch(`${c.app.url}/v1/chat/operator-messages?tenant=shop&conversation_id=${messenger.id}`)).status, 404, 'only web conversations are polled');
      // The widget's stream: the same capability rules as the poll.
      const streamOf = (slug: string, conversation: string, headers: Record<string, string> = {}) => openStream(`${c.app.url}/v1/chat/operator-stream?tenant=${slug}&conversation_id=${conversation}`, headers);
      t.is((await streamOf('shop', messenger.id)).status, 404, 'only web conversations are streamed');
      t.is((await streamOf('other', id)).status, 404, "another tenant's slug does not reach it");
      const live = await streamOf('shop', id);
      try {
        t.is(live.status, 200);
        await waitFor('the stream catches up', () => live.events.some((e) => e.event === 'operator'));
        t.is(live.events[0]!.event, 'status', 'the status first');
        t.like(live.events[0]!.data, { bot_paused: true, waiting: false });
        const first = live.events.find((e) => e.event === 'operator')!;
        t.like(first.data, { text: 'Hi! A person here.', label: 'Team' });
        t.is(first.id, first.data.id, 'resumable: the SSE id is the message id');
        await c.app.admin(`/v1/admin/conversations/${id}/reply`, { method: 'POST', body: JSON.stringify({ text: 'Still there?' }) });
        await waitFor('the live reply', () => live.events.some((e) => e.data.text === 'Still there?'));
        const resumed = await streamOf('shop', id, { 'last-event-id': first.id! });
        await waitFor('the resumed stream', () => resumed.events.some((e) => e.event === 'operator'));
        t.deepEqual(resumed.events.filter((e) => e.event === 'operator').map((e) => e.data.text), ['Still there?'], 'only what came after Last-Event-ID');
        resumed.close();
      } finally {
        live.close();
      }
      t.is(c.graph.sendsTo('visitor-1').length, 0, 'nothing for a web visitor goes to Meta');
    } finally {
      await c.close();
    }
  });
}
