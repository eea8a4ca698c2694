import ava from 'ava';
import { EMPTY_TWIML } from '../../src/features/channels/whatsapp/whatsapp-routes.js';
import { MEDIA_NOTICE } from '../../src/features/channels/whatsapp/whatsapp-worker.js';
import { FakeTwilioApi } from '../fakes/twilio-api.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';
import { ACCOUNT_SID, AUTH_TOKEN, BUSINESS, CUSTOMER, GLOBAL_SID, GLOBAL_TOKEN, inbound, messageSid, postTwilio, PUBLIC_SITE } from '../helpers/twilio.js';
import { waitFor } from '../helpers/wait.js';

const concurrent = ava;
const serial = ava.serial;
const HOOK = '/v1/twilio/whatsapp/webhook?tenant=shop';
const TEMPLATE_SID = `HX${'ab'.repeat(16)}`;

interface Ctx {
  app: TestApp;
  twilio: FakeTwilioApi;
  tenantId: string;
  close(): Promise<void>;
}

async function setup(dialect: 'sqlite' | 'pg', settings: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<Ctx> {
  const twilio = await FakeTwilioApi.start();
  twilio.allowAccount(ACCOUNT_SID, AUTH_TOKEN);
  twilio.allowAccount(GLOBAL_SID, GLOBAL_TOKEN);
  const app = await startApp(dialect, { SITE_URL: PUBLIC_SITE, TWILIO_API_URL: twilio.url, ZIA_JOB_BACKOFF_MS: '30', ZIA_JOB_MAX_ATTEMPTS: '4', ...env });
  const tenant = await app.services.tenants.create({
    slug: 'shop',
    name: 'Shop',
    settings: { twilio_account_sid: ACCOUNT_SID, twilio_auth_token: AUTH_TOKEN, twilio_whatsapp_from: BUSINESS, ...settings },
  });
  await app.services.startWorker();
  return {
    app,
    twilio,
    tenantId: tenant.id,
    async close() {
      await app.close();
      await twilio.close();
    },
  };
}

const knex = (c: Ctx) => c.app.services.db.knex;
const deliveries = (c: Ctx) => knex(c)('webhook_deliveries').where({ provider: 'twilio' }).orderBy('created_at');
const settled = async (c: Ctx) => (await knex(c)('webhook_deliveries').whereIn('status', ['received', 'failed']).count({ n: '*' }))[0]!.n == 0;
const assistantMessages = (c: Ctx) => knex(c)('messages').where({ role: 'assistant', channel: 'whatsapp' }).orderBy('id');
const eventsOf = async (c: Ctx, type: string) => knex(c)('events').where({ tenant_id: c.tenantId, type });

/** One inbound message answered: the reply the fake received and the stored assistant message. */
async function converse(c: Ctx, text = 'do you ship to Oslo?') {
  const before = c.twilio.messages.length;
  const res = await postTwilio(c.app.url, HOOK, inbound(messageSid(), text));
  if (res.status !== 200) throw new Error(`inbound: ${res.status} ${await res.text()}`);
  await waitFor('a reply', () => c.twilio.messages.length > before);
  const sent = c.twilio.messages.at(-1)!;
  const stored = await waitFor('the reply stored with its sid', async () => (await assistantMessages(c)).find((m) => m.provider_message_id === sent.sid));
  return { sent, stored };
}

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? serial : concurrent;

  test(`${dialect}: a signed message gets <Response/> at once, then exactly one reply from the tenant's number; a repeat of the MessageSid gets none`, async (t) => {
    const c = await setup(dialect);
    try {
      const sid = messageSid();
      const params = inbound(sid, 'Hi, do you ship to **Oslo**?');
      // Arrives over plain http on loopback; signed for the public https URL Twilio was given.
      const res = await postTwilio(c.app.url, HOOK, params);
      t.is(res.status, 200);
      t.regex(res.headers.get('content-type') ?? '', /^text\/xml/);
      t.is(await res.text(), EMPTY_TWIML);
      await waitFor('processed', () => settled(c));
      await waitFor('one reply', () => c.twilio.messages.length === 1);
      const [sent] = c.twilio.messages;
      t.is(sent!.from, `whatsapp:${BUSINESS}`);
      t.is(sent!.to, `whatsapp:${CUSTOMER}`);
      t.is(sent!.accountSid, ACCOUNT_SID);
      t.is(sent!.statusCallback, `${PUBLIC_SITE}/v1/twilio/whatsapp/status?tenant=shop`);
      t.truthy(sent!.body);
      t.false(/\*\*|__|^#/m.test(sent!.body!), 'plain text');

      const conversation = await c.app.services.conversations.find(c.tenantId, 'whatsapp', CUSTOMER);
      t.is(conversation!.userName, 'Ana');
      t.truthy(conversation!.lastInboundAt);
      const user = await knex(c)('messages').where({ provider_message_id: sid }).first();
      t.is(user.text, 'Hi, do you ship to **Oslo**?');

      // The same MessageSid again (Twilio retrying, or a replay): acknowledged, not answered.
      const again = await postTwilio(c.app.url, HOOK, params);
      t.is(again.status, 200);
      t.is(await again.text(), EMPTY_TWIML);
      await waitFor('processed', () => settled(c));
      const rows = await deliveries(c);
      t.deepEqual(rows.map((r) => [r.provider, r.external_id, r.status, Number(r.duplicates)]), [['twilio', sid, 'processed', 1]]);
      t.is(c.twilio.messages.length, 1);
      t.is((await knex(c)('outbound_sends').where({ channel: 'whatsapp' })).length, 1);
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: without ?tenant the To number finds the tenant; an unknown number is recorded as ignored`, async (t) => {
    const c = await setup(dialect);
    try {
      const res = await postTwilio(c.app.url, '/v1/twilio/whatsapp/webhook', inbound(messageSid(), 'hello'));
      t.is(res.status, 200);
      await waitFor('a reply', () => c.twilio.messages.length === 1);
      t.is(c.twilio.messages[0]!.from, `whatsapp:${BUSINESS}`);

      // Another business number: signed with the global token (the only one that could apply).
      const stranger = inbound(messageSid(), 'hello', { To: 'whatsapp:+14155550000' });
      t.is((await postTwilio(c.app.url, '/v1/twilio/whatsapp/webhook', stranger)).status, 403, 'no global token configured: nobody can have signed it');
      t.is((await deliveries(c)).length, 1, 'only the first message was stored');
    } finally {
      await c.close();
    }
    const g = await setup(dialect, {}, { TWILIO_AUTH_TOKEN: GLOBAL_TOKEN });
    try {
      const stranger = inbound(messageSid(), 'hello', { To: 'whatsapp:+14155550000' });
      t.is((await postTwilio(g.app.url, '/v1/twilio/whatsapp/webhook', stranger, { token: GLOBAL_TOKEN })).status, 200);
      const [row] = await deliveries(g);
      t.is(row.status, 'ignored');
      t.regex(row.last_error, /whatsapp_from \+14155550000/);
    } finally {
      await g.close();
    }
  });

  test(`${dialect}: forged, altered, unsigned, wrong-URL and wrong-token requests are refused with 403 and nothing is stored`, async (t) => {
    const c = await setup(dialect);
    try {
      const params = inbound(messageSid(), 'hello');
      const cases: Array<[string, Response]> = [
        ['a changed parameter', await postTwilio(c.app.url, HOOK, params, { send: { ...params, Body: 'hello!' } })],
        ['an added parameter', await postTwilio(c.app.url, HOOK, params, { send: { ...params, Extra: '1' } })],
        ['a removed parameter', await postTwilio(c.app.url, HOOK, params, { send: { ...params, ProfileName: [] } })],
        ['signed for the loopback URL, not the public one', await postTwilio(c.app.url, HOOK, params, { signedUrl: `${c.app.url}${HOOK}` })],
        ['signed for another path', await postTwilio(c.app.url, HOOK, params, { signedUrl: `${PUBLIC_SITE}/v1/twilio/whatsapp/status?tenant=shop` })],
        ['signed for another tenant parameter', await postTwilio(c.app.url, HOOK, params, { signedUrl: `${PUBLIC_SITE}/v1/twilio/whatsapp/webhook?tenant=other` })],
        ['signed with another token', await postTwilio(c.app.url, HOOK, params, { token: GLOBAL_TOKEN })],
        ['no signature', await postTwilio(c.app.url, HOOK, params, { signature: null })],
        ['a garbage signature', await postTwilio(c.app.url, HOOK, params, { signature: 'AAAA' })],
      ];
      for (const [what, res] of cases) t.is(res.status, 403, what);
      const status = await postTwilio(c.app.url, '/v1/twilio/whatsapp/status?tenant=shop', { MessageSid: messageSid(), MessageStatus: 'delivered' }, { token: GLOBAL_TOKEN });
      t.is(status.status, 403, 'a forged status callback');
      t.is((await knex(c)('webhook_deliveries')).length, 0);
      t.is((await knex(c)('messages')).length, 0);
      t.is((await knex(c)('conversations')).length, 0);
      t.false(c.app.logs.text.includes(AUTH_TOKEN), 'the token never reaches the log');

      // A repeated key counts all its values, as Twilio signs them.
      const repeated = { ...params, MessageSid: params.MessageSid!, Tag: ['b', 'a'] };
      t.is((await postTwilio(c.app.url, HOOK, repeated)).status, 200);
      t.is((await postTwilio(c.app.url, HOOK.replace('shop', 'nobody'), params)).status, 404);
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: status callbacks record delivery on the message and never move it backwards`, async (t) => {
    const c = await setup(dialect);
    try {
      const { sent, stored } = await converse(c);
      t.is(stored.delivery_status, 'queued');
      const status = async (sid: string) => (await knex(c)('messages').where({ provider_message_id: sid }).first()).delivery_status;
      t.deepEqual(await c.twilio.callback(sent.sid, ['sent'], c.app.url), [204]);
      t.is(await status(sent.sid), 'sent');
      // Out of order: read overtakes delivered, then a late "sent" and "queued" arrive.
      await c.twilio.callback(sent.sid, ['read', 'delivered', 'sent', 'queued'], c.app.url);
      t.is(await status(sent.sid), 'read');

      const second = await converse(c, 'and to Bergen?');
      await c.twilio.callback(second.sent.sid, ['delivered', { status: 'undelivered', errorCode: '63024' }, 'read'], c.app.url);
      const row = await knex(c)('messages').where({ provider_message_id: second.sent.sid }).first();
      t.is(row.delivery_status, 'undelivered', 'failure is terminal');
      t.is(row.error_code, '63024');
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: idle for over 24 h: no free-form text; the template when configured, else recorded as not sent`, async (t) => {
    const c = await setup(dialect);
    try {
      await converse(c);
      const dayAgo = new Date(Date.now() - 25 * 3_600_000).toISOString();
      await knex(c)('conversations').where({ tenant_id: c.tenantId }).update({ last_inbound_at: dayAgo });
      const conversation = (await c.app.services.conversations.find(c.tenantId, 'whatsapp', CUSTOMER))!;
      const tenant = await c.app.services.tenants.get('shop');
      const operator = async (key: string) => {
        const { id } = await c.app.services.conversations.appendMessage(c.tenantId, conversation.id, { role: 'operator', text: 'Your order is ready.' });
        const result = await c.app.services.senders.whatsapp!.send({
          tenant: await c.app.services.tenants.get('shop'),
          channel: 'whatsapp',
          conversationId: conversation.id,
          externalUserId: CUSTOMER,
          text: 'Your order is ready.',
          lastInboundAt: conversation.lastInboundAt,
          messageId: id,
          idempotencyKey: key,
        });
        return { result, message: await knex(c)('messages').where({ id }).first() };
      };
      const before = c.twilio.messages.length;
      const refused = await operator('op:1');
      t.false(refused.result.sent);
      t.is(refused.result.reason, 'outside_24h_window');
      t.is(refused.message.delivery_status, 'not_sent');
      t.is(refused.message.error_code, 'outside_24h_window');
      t.is(c.twilio.messages.length, before, 'nothing went to Twilio');
      const notSent = await eventsOf(c, 'reply_not_sent');
      t.is(notSent.length, 1);

      await c.app.services.tenants.update(tenant.slug, { settings: { whatsapp_template: { content_sid: TEMPLATE_SID, variables: { '1': 'Shop' }, category: 'utility' } } });
      const templated = await operator('op:2');
      t.true(templated.result.sent);
      t.is(c.twilio.messages.length, before + 1);
      const sent = c.twilio.messages.at(-1)!;
      t.is(sent.contentSid, TEMPLATE_SID);
      t.deepEqual(JSON.parse(sent.contentVariables!), { '1': 'Shop' });
      t.is(sent.body, null, 'never free-form outside the window');
      t.is(templated.message.provider_message_id, sent.sid);
      // Metered as a template send of its category, for billing.
      const [usage] = await c.app.services.usage.month(new Date().toISOString().slice(0, 7), await c.app.services.tenants.get(tenant.slug));
      t.deepEqual(usage!.template_sends, { utility: 1 });
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: a long reply goes out as plain-text parts of at most 1,600 characters, each once`, async (t) => {
    const c = await setup(dialect);
    try {
      await converse(c);
      const conversation = (await c.app.services.conversations.find(c.tenantId, 'whatsapp', CUSTOMER))!;
      const text = Array.from({ length: 60 }, (_, i) => `**Point ${i}:** we ship to Oslo, Bergen and Tromsø within two days.`).join(' ');
      const { id } = await c.app.services.conversations.appendMessage(c.tenantId, conversation.id, { role: 'operator', text });
      const before = c.twilio.messages.length;
      const msg = {
        tenant: await c.app.services.tenants.get('shop'),
        channel: 'whatsapp' as const,
        conversationId: conversation.id,
        externalUserId: CUSTOMER,
        text,
        lastInboundAt: conversation.lastInboundAt,
        messageId: id,
        idempotencyKey: 'op:long',
      };
      const result = await c.app.services.senders.whatsapp!.send(msg);
      const parts = c.twilio.messages.slice(before);
      t.true(parts.length >= 3);
      for (const p of parts) {
        t.true(p.body!.length <= 1600);
        t.false(p.body!.includes('**'));
        t.true(p.body!.endsWith('.'));
      }
      t.is(result.providerMessageId, parts.at(-1)!.sid);
      // The same key again (an operator double-click, a retried job): nothing more is sent.
      await c.app.services.senders.whatsapp!.send(msg);
      t.is(c.twilio.messages.length, before + parts.length);
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: a transient Twilio error is retried and the reply goes out once; a permanent one parks the item with the reason`, async (t) => {
    const c = await setup(dialect);
    try {
      c.twilio.failNext(1, { status: 429, code: 20429, message: 'Too Many Requests' });
      c.twilio.failNext(1, { status: 503, code: 20500, message: 'Service Unavailable' });
      c.twilio.failNext(1, { status: 0, code: 0, drop: true });
      t.is((await postTwilio(c.app.url, HOOK, inbound(messageSid(), 'hello'))).status, 200);
      await waitFor('processed', async () => (await deliveries(c))[0]?.status === 'processed');
      t.is(c.twilio.messages.length, 1);
      t.is(c.twilio.refused.length, 2);
      t.is(Number((await deliveries(c))[0]!.attempts), 4, '429, 503 and a dropped connection, then sent');

      c.twilio.failNext(1, { status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' });
      t.is((await postTwilio(c.app.url, HOOK, inbound(messageSid(), 'hello again'))).status, 200);
      await waitFor('dead', async () => (await deliveries(c))[1]?.status === 'dead');
      const dead = (await deliveries(c))[1]!;
      t.regex(dead.last_error, /21610/);
      t.is(Number(dead.attempts), 1, 'not retried');
      t.is(c.twilio.messages.length, 1);
      t.is((await eventsOf(c, 'reply_failed')).length, 1);
      const failed = (await assistantMessages(c)).at(-1)!;
      t.is(failed.delivery_status, 'failed');
      t.is(failed.error_code, '21610');
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: a picture without text: the media is stored with the message and the answer says what cannot be read`, async (t) => {
    const c = await setup(dialect);
    try {
      const sid = messageSid();
      const media = 'https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0';
      const res = await postTwilio(c.app.url, HOOK, inbound(sid, '', { NumMedia: '1', MediaUrl0: media, MediaContentType0: 'image/jpeg', MessageType: 'image' }));
      t.is(res.status, 200);
      await waitFor('a reply', () => c.twilio.messages.length === 1);
      t.true(c.twilio.messages[0]!.body!.startsWith(MEDIA_NOTICE));
      const user = await knex(c)('messages').where({ provider_message_id: sid }).first();
      const stored = typeof user.media === 'string' ? JSON.parse(user.media) : user.media;
      t.deepEqual(stored, [{ url: media, contentType: 'image/jpeg' }]);
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: global credentials and number when the tenant has none of its own`, async (t) => {
    const c = await setup(dialect, { twilio_account_sid: null, twilio_auth_token: null, twilio_whatsapp_from: null }, { TWILIO_ACCOUNT_SID: GLOBAL_SID, TWILIO_AUTH_TOKEN: GLOBAL_TOKEN, TWILIO_WHATSAPP_FROM: 'whatsapp:+14155550123' });
    try {
      t.is((await postTwilio(c.app.url, HOOK, inbound(messageSid(), 'hello', { To: 'whatsapp:+14155550123' }), { token: GLOBAL_TOKEN })).status, 200);
      await waitFor('a reply', () => c.twilio.messages.length === 1);
      t.is(c.twilio.messages[0]!.accountSid, GLOBAL_SID);
      t.is(c.twilio.messages[0]!.from, 'whatsapp:+14155550123');
      t.is((await postTwilio(c.app.url, HOOK, inbound(messageSid(), 'hello'), { token: AUTH_TOKEN })).status, 403);
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: a wrong auth token at Twilio (20003) parks the item; the fake answers 401 as Twilio does`, async (t) => {
    const c = await setup(dialect);
    try {
      c.twilio.allowAccount(ACCOUNT_SID, 'rotated-token-000000');
      t.is((await postTwilio(c.app.url, HOOK, inbound(messageSid(), 'hello'))).status, 200);
      await waitFor('dead', async () => (await deliveries(c))[0]?.status === 'dead');
      t.regex((await deliveries(c))[0]!.last_error, /20003/);
      t.deepEqual(c.twilio.refused.map((r) => [r.status, r.code]), [[401, 20003]]);
    } finally {
      await c.close();
    }
  });
}

