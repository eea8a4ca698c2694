import ava from 'ava';
import { MEDIA_NOTICE } from '../../src/features/channels/whatsapp/whatsapp-worker.js';
import { PROMPTS } from '../../src/features/leads/lead-flow.js';
import { FakeCloudApi } from '../fakes/whatsapp-cloud-api.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';
import { META_SECRET, postSigned } from '../helpers/meta.js';
import { waitFor } from '../helpers/wait.js';
import { createDb } from '../../src/db/create-db.js';
import { rateLimiters } from '../../src/db/rate-limit-store.js';
import { ThroughputLimit } from '../../src/features/channels/whatsapp/throughput.js';
import {
  CLOUD_TOKEN,
  cloudButtonReply,
  cloudMessage,
  cloudStatus,
  cloudText,
  CUSTOMER_USER_ID,
  CUSTOMER_WA,
  DISPLAY_NUMBER,
  PHONE_NUMBER_ID,
  templateCategoryUpdate,
  WABA_ID,
  wamid,
} from '../helpers/whatsapp-cloud.js';

const concurrent = ava;
const serial = ava.serial;
const TEMPLATE_BODY = 'Hello {{1}}, a reply to your message: {{2}}';

interface Ctx {
  app: TestApp;
  cloud: FakeCloudApi;
  tenantId: string;
  close(): Promise<void>;
}

async function setup(dialect: 'sqlite' | 'pg', settings: Record<string, unknown> = {}, token = CLOUD_TOKEN): Promise<Ctx> {
  const cloud = await FakeCloudApi.start();
  cloud.addNumber(PHONE_NUMBER_ID, WABA_ID, DISPLAY_NUMBER, CLOUD_TOKEN);
  const app = await startApp(dialect, { META_APP_SECRET: META_SECRET, META_GRAPH_URL: cloud.url, META_GRAPH_VERSION: cloud.version, ZIA_JOB_BACKOFF_MS: '30', ZIA_JOB_MAX_ATTEMPTS: '4' });
  const tenant = await app.services.tenants.create({
    slug: 'shop',
    name: 'Shop',
    settings: {
      faq: [{ q: 'Do you ship to Oslo?', a: 'Yes, we ship to Oslo in two days.' }],
      whatsapp: { provider: 'cloud', phone_number_id: PHONE_NUMBER_ID, waba_id: WABA_ID },
      whatsapp_access_token: token,
      ...settings,
    },
  });
  await app.services.startWorker();
  return {
    app,
    cloud,
    tenantId: tenant.id,
    async close() {
      await app.close();
      await cloud.close();
    },
  };
}

const knex = (c: Ctx) => c.app.services.db.knex;
const settled = async (c: Ctx) => (await knex(c)('webhook_deliveries').whereIn('status', ['received', 'failed']).count({ n: '*' }))[0]!.n == 0;
const assistantMessages = (c: Ctx) => knex(c)('messages').where({ role: 'assistant', channel: 'whatsapp' }).orderBy('id');
const eventsOf = (c: Ctx, type: string) => knex(c)('events').where({ tenant_id: c.tenantId, type }).orderBy('id');
/** A JSON column: text on SQLite, already parsed on PostgreSQL. */
const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, any>;

async function post(c: Ctx, payload: unknown): Promise<Record<string, unknown>> {
  const res = await postSigned(c.app.url, payload);
  if (res.status !== 200) throw new Error(`webhook: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** One inbound message answered: the send the fake took, and the stored reply. */
async function converse(c: Ctx, payload: unknown) {
  const before = c.cloud.sends.length;
  await post(c, payload);
  await waitFor('a reply', () => c.cloud.sends.length > before);
  const sent = c.cloud.sends.at(-1)!;
  const stored = await waitFor('the reply stored with its wamid', async () => (await assistantMessages(c)).find((m) => m.provider_message_id === sent.id));
  return { sent, stored };
}

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? serial : concurrent;

  test(`${dialect}: a signed Cloud API message is answered once from the tenant's number with its token; the same wamid again gets no second reply`, async (t) => {
    const c = await setup(dialect);
    try {
      const id = wamid();
      const ack = await post(c, cloudText(id, 'Do you ship to Oslo?'));
      t.like(ack, { received: 1, accepted: 1, duplicates: 0, ignored: 0 });
      await waitFor('processed', () => settled(c));
      await waitFor('one reply', () => c.cloud.sends.length === 1);
      const [sent] = c.cloud.sends;
      t.is(sent!.phoneNumberId, PHONE_NUMBER_ID);
      t.is(sent!.token, CLOUD_TOKEN);
      t.is(sent!.to, CUSTOMER_WA);
      t.is(sent!.type, 'text');
      t.regex(sent!.text, /Oslo/);
      t.like(await postSigned(c.app.url, cloudText(id, 'Do you ship to Oslo?')).then((r) => r.json()), { duplicates: 1, accepted: 0 });
      const delivery = await knex(c)('webhook_deliveries').where({ external_id: `wamid:${id}` }).first();
      t.is(delivery.provider, 'meta');
      t.is(delivery.tenant_id, c.tenantId);
      await waitFor('settled', () => settled(c));
      await new Promise((r) => setTimeout(r, 200));
      t.is(c.cloud.sends.length, 1);
      const conv = await knex(c)('conversations').where({ tenant_id: c.tenantId, channel: 'whatsapp' }).first();
      t.is(conv.external_user_id, `+${CUSTOMER_WA}`);
      t.is(conv.user_name, 'Sheena Nelson');
      const [stored] = await assistantMessages(c);
      t.is(stored.provider_message_id, sent!.id);
      t.is(stored.delivery_status, 'accepted');
      const [event] = await eventsOf(c, 'reply_sent');
      t.like(json(event.data), { channel: 'whatsapp', parts: 1 });
      // A forged signature is refused before anything is stored.
      t.is((await postSigned(c.app.url, cloudText(wamid(), 'x'), { secret: 'not-the-app-secret' })).status, 403);
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: statuses move the reply's delivery forward (never back), and a failure keeps Meta's error code`, async (t) => {
    const c = await setup(dialect);
    try {
      const { sent } = await converse(c, cloudText(wamid(), 'Do you ship to Oslo?'));
      const status = async () => (await knex(c)('messages').where({ provider_message_id: sent.id }).first()).delivery_status;
      for (const s of ['sent', 'delivered', 'read'] as const) await post(c, cloudStatus(sent.id, s));
      t.is(await status(), 'read');
      await post(c, cloudStatus(sent.id, 'delivered'));
      t.is(await status(), 'read');
      const second = await converse(c, cloudText(wamid(), 'And to Bergen?'));
      await post(c, cloudStatus(second.sent.id, 'failed', { code: 131026, title: 'Message undeliverable' }));
      const failed = await knex(c)('messages').where({ provider_message_id: second.sent.id }).first();
      t.is(failed.delivery_status, 'failed');
      t.is(failed.error_code, '131026');
      const send = await knex(c)('outbound_sends').where({ tenant_id: c.tenantId, provider_message_id: second.sent.id }).first();
      t.like(send, { status: 'failed', last_error: 'failed after Meta accepted it: 131026 Message undeliverable' });
      // An operator may send it again; Meta takes it as a new message.
      const resent = await c.app.services.sends.resend(send.id, 'test');
      t.is(resent.send.status, 'sent');
      t.is(c.cloud.sends.at(-1)!.text, second.sent.text);
      // A status for a message of another business (unknown number) changes nothing and is still acknowledged.
      t.is((await postSigned(c.app.url, { ...cloudStatus(sent.id, 'failed', { code: 1, title: 'x' }), entry: [{ id: '1', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: '999' }, statuses: [{ id: sent.id, status: 'failed' }] } }] }] })).status, 200);
      t.is(await status(), 'read');
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: outside the 24 h window an operator's message goes out as the approved utility template, filled; otherwise it is stored as not sent with the reason`, async (t) => {
    const c = await setup(dialect, { whatsapp: { provider: 'cloud', phone_number_id: PHONE_NUMBER_ID, waba_id: WABA_ID, template: { name: 'reply_notice', language: 'en_US', parameters: ['{name}', '{message}'] } } });
    try {
      const template = c.cloud.addTemplate(WABA_ID, { name: 'reply_notice', language: 'en_US', category: 'UTILITY', status: 'APPROVED', body: TEMPLATE_BODY });
      await converse(c, cloudText(wamid(), 'Do you ship to Oslo?'));
      const conv = await knex(c)('conversations').where({ tenant_id: c.tenantId, channel: 'whatsapp' }).first();
      await knex(c)('conversations').where({ id: conv.id }).update({ last_inbound_at: new Date(Date.now() - 25 * 3_600_000).toISOString() });
      const reply = async (text: string) => {
        const res = await c.app.admin(`/v1/admin/conversations/${conv.id}/reply`, { method: 'POST', body: JSON.stringify({ text }) });
        t.is(res.status, 202);
        return ((await res.json()) as { message_id: string }).message_id;
      };
      const stored = (id: string) => knex(c)('messages').where({ id }).first();

      // Not synced yet: nothing goes out, and the reason says what to run.
      const first = await reply('Your order is ready.');
      await waitFor('not sent', async () => (await stored(first))?.delivery_status === 'not_sent');
      t.is((await stored(first)).error_code, 'template_not_synced');
      const [notSent] = await eventsOf(c, 'reply_not_sent');
      t.regex(json(notSent.data).reason, /zia whatsapp templates sync shop/);

      await c.app.services.whatsappCloud.syncTemplates(await c.app.services.tenants.get('shop'));
      const before = c.cloud.sends.length;
      const second = await reply('Your order is ready.\nPick it up at the shop.');
      await waitFor('the template sent', () => c.cloud.sends.length > before);
      const sent = c.cloud.sends.at(-1)!;
      t.is(sent.type, 'template');
      t.deepEqual(sent.body.template, {
        name: 'reply_notice',
        language: { code: 'en_US' },
        components: [{ type: 'body', parameters: [{ type: 'text', text: 'Sheena Nelson' }, { type: 'text', text: 'Your order is ready. · Pick it up at the shop.' }] }],
      });
      await waitFor('accepted', async () => (await stored(second))?.delivery_status === 'accepted');
      const sentEvent = (await eventsOf(c, 'reply_sent')).map((e) => json(e.data)).find((d) => d.template);
      t.like(sentEvent, { template: 'reply_notice', category: 'utility' });
      const metered = await knex(c)('usage_counters').where({ tenant_id: c.tenantId, metric: 'template_sends', dimension: 'utility' });
      t.is(metered.reduce((n, r) => n + Number(r.value), 0), 1);

      // Meta re-categorises the template as marketing: the stored copy follows, and it is no longer used.
      await post(c, templateCategoryUpdate(template.id, 'reply_notice', 'UTILITY', 'MARKETING'));
      t.is((await knex(c)('whatsapp_templates').where({ tenant_id: c.tenantId, name: 'reply_notice' }).first()).category, 'MARKETING');
      const third = await reply('One more thing.');
      await waitFor('not sent', async () => (await stored(third))?.delivery_status === 'not_sent');
      t.is((await stored(third)).error_code, 'template_category_marketing');
      t.is(c.cloud.sends.length, before + 1);
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: a throughput refusal (130429) is retried later and the customer gets one reply; a refused token is not retried and the operator is told`, async (t) => {
    const c = await setup(dialect);
    try {
      c.cloud.failNext(1, { code: 130429, message: '(#130429) Rate limit hit' });
      await post(c, cloudText(wamid(), 'Do you ship to Oslo?'));
      await waitFor('one reply after the retry', () => c.cloud.sends.length === 1);
      await waitFor('processed', () => settled(c));
      t.deepEqual(c.cloud.refused.map((r) => r.code), [130429]);
      t.is((await knex(c)('webhook_deliveries').where({ tenant_id: c.tenantId }).first()).status, 'processed');

      await c.app.services.tenants.update('shop', { settings: { whatsapp_access_token: 'EAAJ-revoked-token-000000000000' } });
      const id = wamid();
      await post(c, cloudText(id, 'And to Bergen?'));
      const dead = await waitFor('parked', async () => {
        const d = await knex(c)('webhook_deliveries').where({ external_id: `wamid:${id}` }).first();
        return d?.status === 'dead' ? d : undefined;
      });
      t.regex(dead.last_error, /access token invalid or expired \(190\)/);
      t.is(c.cloud.refused.filter((r) => r.code === 190).length, 1, 'not retried');
      const failed = (await eventsOf(c, 'reply_failed')).map((e) => json(e.data));
      t.like(failed.at(-1), { channel: 'whatsapp', code: '190' });
      t.regex(c.app.logs.text, /WhatsApp Cloud API token refused/);
      t.notRegex(c.app.logs.text, /EAAJ-revoked-token/);
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: a customer who hides their number is answered by user id, and keeps one conversation when the number shows up`, async (t) => {
    const c = await setup(dialect);
    try {
      const hidden = { wa: null, userId: CUSTOMER_USER_ID, name: 'sheena' };
      const first = await converse(c, cloudText(wamid(), 'Do you ship to Oslo?', hidden));
      t.is(first.sent.to, null);
      t.is(first.sent.recipient, CUSTOMER_USER_ID);
      const second = await converse(c, cloudText(wamid(), 'And to Bergen?', { wa: CUSTOMER_WA, userId: CUSTOMER_USER_ID }));
      // The number is known now: it is the address (the conversation keeps its key).
      t.is(second.sent.to, CUSTOMER_WA);
      const convs = await knex(c)('conversations').where({ tenant_id: c.tenantId, channel: 'whatsapp' });
      t.is(convs.length, 1);
      t.is(convs[0].external_user_id, CUSTOMER_USER_ID);
      const contact = await knex(c)('whatsapp_contacts').where({ tenant_id: c.tenantId }).first();
      t.like(contact, { user_id: CUSTOMER_USER_ID, external_user_id: CUSTOMER_USER_ID, phone: `+${CUSTOMER_WA}` });
      t.is(await knex(c)('messages').where({ conversation_id: convs[0].id, role: 'user' }).count({ n: '*' }).then((r) => Number(r[0]!.n)), 2);

      // The customer changes number: Meta reports it as a system message with the new user id; the next
      // message, from the new number and user id, continues the same conversation.
      const newUserId = 'US.77700011122233344455';
      const newNumber = '16505559999';
      const ack = await post(c, cloudMessage(wamid(), { type: 'system', system: { body: 'User changed number', type: 'user_changed_number', wa_id: newNumber, user_id: newUserId, previous_user_id: CUSTOMER_USER_ID } }, { wa: CUSTOMER_WA, userId: null }));
      t.like(ack, { received: 0, accepted: 0 });
      const third = await converse(c, cloudText(wamid(), 'Still there?', { wa: newNumber, userId: newUserId }));
      t.is(third.sent.to, newNumber, 'written to at the new number');
      t.is((await knex(c)('conversations').where({ tenant_id: c.tenantId, channel: 'whatsapp' })).length, 1);
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: reply buttons: the lead flow's number question offers "Use this number", a tap gives the number; "Talk to a person" hands the conversation over`, async (t) => {
    const c = await setup(dialect, { lead: { mode: 'intent', ask_whatsapp: true }, handoff: { enabled: true } });
    try {
      const from = { wa: CUSTOMER_WA, userId: CUSTOMER_USER_ID };
      await converse(c, cloudText(wamid(), 'Please contact me', from));
      await converse(c, cloudText(wamid(), 'Ana', from));
      const { sent } = await converse(c, cloudText(wamid(), 'ana@example.com', from));
      t.is(sent.type, 'interactive');
      t.is(sent.body.interactive.type, 'button');
      t.is(sent.body.interactive.body.text, PROMPTS.whatsapp);
      t.deepEqual(
        sent.body.interactive.action.buttons.map((b: any) => b.reply),
        [
          { id: 'zia:lead:number', title: 'Use this number' },
          { id: 'zia:lead:skip', title: 'Skip' },
        ],
      );
      await converse(c, cloudButtonReply(wamid(), 'zia:lead:number', 'Use this number', from));
      const lead = await waitFor('the lead', () => knex(c)('leads').where({ tenant_id: c.tenantId }).first());
      t.like(lead, { name: 'Ana', email: 'ana@example.com', whatsapp: `+${CUSTOMER_WA}` });

      // Any other answer offers a person (handoff is on); a tap asks for one.
      const answer = await converse(c, cloudText(wamid(), 'Do you ship to Oslo?', from));
      t.deepEqual(answer.sent.body.interactive?.action?.buttons?.map((b: any) => b.reply.id), ['zia:handoff']);
      const handedOver = await converse(c, cloudButtonReply(wamid(), 'zia:handoff', 'Talk to a person', from));
      await waitFor('handoff requested', async () => (await eventsOf(c, 'handoff_requested')).length === 1);
      // The answer that a person will come offers no second button to ask for one.
      t.is(handedOver.sent.type, 'text');
    } finally {
      await c.close();
    }
  });

  test(`${dialect}: an image, a voice note or a location gets a polite answer that the bot reads text, with the media id kept; a message to an unknown number is recorded as ignored`, async (t) => {
    const c = await setup(dialect);
    try {
      const { sent } = await converse(c, cloudMessage(wamid(), { type: 'image', image: { id: '1479537139650973', mime_type: 'image/jpeg', sha256: 'x' } }));
      t.true(sent.text.startsWith(MEDIA_NOTICE));
      const user = await knex(c)('messages').where({ tenant_id: c.tenantId, role: 'user' }).first();
      t.regex(user.text, /sent an image/);
      t.regex(JSON.stringify(user.media), /1479537139650973/);
      const located = await converse(c, cloudMessage(wamid(), { type: 'location', location: { latitude: 59.91, longitude: 10.75, name: 'Oslo S' } }));
      t.true(located.sent.text.startsWith(MEDIA_NOTICE));

      const ack = await post(c, cloudText(wamid(), 'hello', {}, '555000111'));
      t.like(ack, { accepted: 0, ignored: 1 });
      const ignored = await knex(c)('webhook_deliveries').where({ status: 'ignored' }).first();
      t.regex(ignored.last_error ?? ignored.result ?? '', /555000111/);
    } finally {
      await c.close();
    }
  });

  if (dialect === 'pg') {
    test('pg: a number\'s messages per second are one budget for every process on the database', async (t) => {
      const c = await setup(dialect);
      const other = createDb(c.app.config, { logger: c.app.services.logger });
      try {
        // Two processes (each with its own pool and limiter) sending from one number at 4 a second.
        const limits = [new ThroughputLimit(rateLimiters(c.app.services.db)), new ThroughputLimit(rateLimiters(other))];
        let done = 0;
        const all = Array.from({ length: 10 }, (_, i) => limits[i % 2]!.take(PHONE_NUMBER_ID, 4).then(() => done++));
        await new Promise((r) => setTimeout(r, 300));
        t.true(done <= 4, `${done} sent in the first window`);
        await Promise.all(all);
        t.is(done, 10);
      } finally {
        await other.close();
        await c.close();
      }
    });
  }
}
