import ava from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { FakeGraphApi } from '../fakes/graph-api.js';
import { FakeStripe } from '../fakes/stripe-api.js';
import { FakeTwilioApi } from '../fakes/twilio-api.js';
import { RETENTION_JOB } from '../../src/features/contacts/retention-service.js';
import { startApp } from '../helpers/app.js';
import { runBin } from '../helpers/cli.js';
import { dialects } from '../helpers/db.js';
import { dm, META_SECRET, PAGE_ID, PAGE_TOKEN, postSigned, VERIFY_TOKEN } from '../helpers/meta.js';
import { CONNECT_SECRET, connectedTenant, PLANS, startPayments, type PaymentsHarness } from '../helpers/stripe.js';
import { ACCOUNT_SID, AUTH_TOKEN, BUSINESS, inbound, messageSid, postTwilio, PUBLIC_SITE } from '../helpers/twilio.js';
import { waitFor } from '../helpers/wait.js';

const ADA = { email: 'ada@example.com', phone: '+4791110001', psid: 'PSID_ADA_77', visitor: 'visitor-ada', name: 'Lovelace' };
const BOB = { email: 'bob@example.com', phone: '+4792220002', visitor: 'visitor-bob' };
const json = { 'content-type': 'application/json' };

interface World {
  h: PaymentsHarness;
  graph: FakeGraphApi;
  twilio: FakeTwilioApi;
  shopId: string;
  otherId: string;
  cwd: string;
  close(): Promise<void>;
}

const knex = (w: World): Knex => w.h.app.services.db.knex;

async function chat(w: World, slug: string, visitor: string, message: string): Promise<string> {
  const res = await fetch(`${w.h.app.url}/v1/chat?tenant=${slug}`, { method: 'POST', headers: json, body: JSON.stringify({ message, visitor_id: visitor }) });
  if (res.status !== 200) throw new Error(`chat: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { conversation_id: string }).conversation_id;
}

async function whatsapp(w: World, phone: string, text: string, name: string): Promise<void> {
  const res = await postTwilio(w.h.app.url, '/v1/twilio/whatsapp/webhook?tenant=shop', inbound(messageSid(), text, { From: `whatsapp:${phone}`, WaId: phone.slice(1), ProfileName: name }));
  if (res.status !== 200) throw new Error(`whatsapp: ${res.status}`);
}

async function lead(w: World, slug: string, body: Record<string, unknown>): Promise<void> {
  const res = await w.h.app.admin(`/v1/admin/leads?tenant=${slug}`, { method: 'POST', body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`lead: ${res.status} ${await res.text()}`);
}

const conversationOf = async (w: World, tenantId: string, channel: string, user: string) =>
  (await knex(w)('conversations').where({ tenant_id: tenantId, channel, external_user_id: user }).first())?.id as string;

const settled = async (w: World) => (await knex(w)('webhook_deliveries').whereIn('status', ['received', 'failed']).count({ n: '*' }))[0]!.n == 0;

/** Two people in one tenant (Ada on Messenger, WhatsApp and the web, with a paid order; Bob on the web and WhatsApp), and Ada's email in another tenant. */
async function world(dialect: 'sqlite' | 'pg'): Promise<World> {
  const graph = await FakeGraphApi.start('v23.0');
  graph.allowToken(PAGE_TOKEN);
  const twilio = await FakeTwilioApi.start();
  twilio.allowAccount(ACCOUNT_SID, AUTH_TOKEN);
  const h = await startPayments(dialect, {
    env: { SITE_URL: PUBLIC_SITE, META_APP_SECRET: META_SECRET, META_VERIFY_TOKEN: VERIFY_TOKEN, META_GRAPH_URL: graph.url, META_GRAPH_VERSION: 'v23.0', TWILIO_API_URL: twilio.url },
  });
  const settings = { plans: PLANS, lead: { mode: 'off' }, fb_page_id: PAGE_ID, fb_page_token: PAGE_TOKEN, twilio_account_sid: ACCOUNT_SID, twilio_auth_token: AUTH_TOKEN, twilio_whatsapp_from: BUSINESS };
  const shop = await connectedTenant(h, 'shop', settings);
  const other = await h.app.services.tenants.create({ slug: 'other', name: 'Other', settings: { lead: { mode: 'off' } } });
  await h.app.services.startWorker();
  const w: World = {
    h,
    graph,
    twilio,
    shopId: shop.id,
    otherId: other.id,
    cwd: mkdtempSync(path.join(tmpdir(), 'zia-contacts-')),
    async close() {
      await h.close();
      await graph.close();
      await twilio.close();
    },
  };

  if ((await postSigned(h.app.url, dm('m_ada_1', `Hi, I am Ada ${ADA.name}, write to ${ADA.email}`, { psid: ADA.psid }))).status !== 200) throw new Error('meta webhook');
  await whatsapp(w, ADA.phone, 'Hello from Ada', 'Ada');
  await whatsapp(w, BOB.phone, 'Hello from Bob', 'Bob');
  const adaWeb = await chat(w, 'shop', ADA.visitor, 'Tell me about the pro plan');
  const bobWeb = await chat(w, 'shop', BOB.visitor, 'Do you ship to Bergen?');
  await chat(w, 'other', ADA.visitor, 'Hello other shop');
  await waitFor('every webhook answered', async () => (await settled(w)) && twilio.messages.length >= 2 && graph.sendsTo(ADA.psid).length >= 1);

  const adaMessenger = await conversationOf(w, shop.id, 'messenger', ADA.psid);
  await lead(w, 'shop', { name: `Ada ${ADA.name}`, email: ADA.email, whatsapp: ADA.phone, conversation_id: adaMessenger });
  await lead(w, 'shop', { name: 'Bob Builder', email: BOB.email, whatsapp: BOB.phone, conversation_id: bobWeb });
  await lead(w, 'other', { name: `Ada ${ADA.name}`, email: ADA.email });

  // Ada buys from her web conversation and pays.
  const res = await fetch(`${h.app.url}/v1/stripe/checkout/by-plan?tenant=shop`, { method: 'POST', headers: json, body: JSON.stringify({ plan_id: 'pro', conversation_id: adaWeb, customer_email: ADA.email }) });
  if (res.status !== 200) throw new Error(`checkout: ${res.status} ${await res.text()}`);
  const { session_id } = (await res.json()) as { session_id: string };
  const paid = h.fake.event('checkout.session.completed', h.fake.completedSession(session_id, 'paid', ADA.email), { account: shop.stripeAccountId! });
  if ((await FakeStripe.deliver(`${h.app.url}/v1/stripe/webhook`, paid, { secret: CONNECT_SECRET })).status !== 200) throw new Error('stripe webhook');
  await waitFor('the order paid and thanked for', async () => (await settled(w)) && (await knex(w)('orders').where({ status: 'paid' })).length === 1);
  return w;
}

/** Every row of every table (both dialects' own listings), as text, with its table. */
async function everyRow(w: World, dialect: 'sqlite' | 'pg'): Promise<Array<{ table: string; row: Record<string, unknown>; text: string }>> {
  const k = knex(w);
  const tables: string[] =
    dialect === 'sqlite'
      ? (await k.raw(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`)).map((r: any) => `"${r.name}"`)
      : (await k.raw(`select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`)).rows.map(
          (r: any) => `"${r.table_schema}"."${r.table_name}"`,
        );
  const out: Array<{ table: string; row: Record<string, unknown>; text: string }> = [];
  for (const table of tables) {
    const rows = dialect === 'sqlite' ? await k.raw(`select * from ${table}`) : (await k.raw(`select * from ${table}`)).rows;
    for (const row of rows) out.push({ table, row, text: JSON.stringify(row).toLowerCase() });
  }
  return out;
}

const revenue = async (w: World) => {
  const orders = await knex(w)('orders').where({ status: 'paid' }).sum({ n: 'amount' });
  const events = await w.h.app.services.events.list(w.shopId, { type: 'payment_completed', limit: 100 });
  return { orders: Number(orders[0]!.n), events: events.reduce((s, e) => s + Number(e.data.amount), 0), paid: events.length };
};

async function bobsRows(w: World) {
  const convs = await knex(w)('conversations').where({ tenant_id: w.shopId }).whereIn('external_user_id', [BOB.phone, BOB.visitor]).orderBy('id');
  const messages = await knex(w)('messages').whereIn('conversation_id', convs.map((c) => c.id)).orderBy('id');
  const leads = await knex(w)('leads').where({ email: BOB.email });
  return JSON.stringify({ convs, messages, leads });
}

const bin = (w: World, args: string[]) => runBin(args, { env: w.h.app.env, cwd: w.cwd });

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: a person is found, exported and erased everywhere; the other person, the other tenant and revenue stay as they were`, async (t) => {
    const w = await world(dialect);
    try {
      // find, through the binary
      let r = await bin(w, ['contacts', 'find', 'shop', '--email', 'ADA@example.com', '--json']);
      t.is(r.code, 0, r.stderr);
      const found = JSON.parse(r.stdout);
      t.deepEqual(found.conversations.map((c: any) => c.channel).sort(), ['messenger', 'web', 'whatsapp'], 'her lead, her number and her order lead to all three');
      t.true(found.conversations.every((c: any) => c.messages > 0));
      t.deepEqual(found.leads.map((l: any) => l.email), [ADA.email]);
      t.is(found.orders.length, 1);
      t.is(found.orders[0].status, 'paid');
      r = await bin(w, ['contacts', 'find', 'shop', '--psid', ADA.psid]);
      t.is(r.code, 0, r.stderr);
      t.regex(r.stdout, /messenger/);
      t.regex(r.stdout, /whatsapp/);

      // Usage mistakes: one line, exit 2.
      for (const args of [['--email', ADA.email, '--phone', ADA.phone], [], ['--phone', '12'], ['--email', 'not-an-email']]) {
        r = await bin(w, ['contacts', 'find', 'shop', ...args]);
        t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        t.is(r.stderr.trim().split('\n').length, 1);
      }

      // export: every row that mentions her, none of Bob's
      r = await bin(w, ['contacts', 'export', 'shop', '--email', ADA.email, '-o', 'ada.json']);
      t.is(r.code, 0, r.stderr);
      const doc = JSON.parse(readFileSync(path.join(w.cwd, 'ada.json'), 'utf8'));
      t.is((await bin(w, ['contacts', 'export', 'shop', '--email', ADA.email, '-o', 'ada.json'])).code, 2, 'an existing file needs --force');
      t.is((await bin(w, ['contacts', 'export', 'shop', '--email', ADA.email, '-o', 'ada.json', '--force'])).code, 0);
      const api = await w.h.app.admin(`/v1/admin/contacts/export?tenant=shop&email=${encodeURIComponent(ADA.email)}`);
      t.is(api.status, 200);
      t.deepEqual({ ...(await api.json()), exported_at: null }, { ...doc, exported_at: null }, 'the API and the CLI give the same document');
      const exported = JSON.stringify(doc).toLowerCase();
      const bobConvs = (await knex(w)('conversations').where({ tenant_id: w.shopId }).whereIn('external_user_id', [BOB.phone, BOB.visitor])).map((c) => c.id);
      for (const foreign of [BOB.email, BOB.phone, BOB.visitor, ...bobConvs, w.otherId]) t.false(exported.includes(foreign.toLowerCase()), `no trace of ${foreign}`);
      const adaConvs = doc.conversations.map((c: any) => c.id);
      t.is(doc.messages.length, Number((await knex(w)('messages').whereIn('conversation_id', adaConvs).count({ n: '*' }))[0]!.n));
      t.true(doc.events.some((e: any) => e.type === 'payment_completed'));
      t.true(doc.deliveries.inbox.some((d: any) => d.provider === 'meta') && doc.deliveries.inbox.some((d: any) => d.provider === 'twilio') && doc.deliveries.inbox.some((d: any) => d.provider === 'stripe'));
      t.true(doc.deliveries.sends.some((s: any) => s.channel === 'messenger') && doc.deliveries.sends.some((s: any) => s.channel === 'whatsapp'));
      const terms = [ADA.email, ADA.phone.slice(1), ADA.psid.toLowerCase(), ADA.name.toLowerCase()];
      const mentioning = (await everyRow(w, dialect)).filter((x) => terms.some((term) => x.text.includes(term)) && x.row.tenant_id === w.shopId);
      t.true(mentioning.length >= 10, `${mentioning.length} rows mention her`);
      for (const x of mentioning) t.true(exported.includes(String(x.row.id).toLowerCase()), `${x.table} ${x.row.id} is in the export`);

      // A key scoped to another tenant sees nothing of this one.
      const key = await w.h.app.admin('/v1/admin/tenants/other/keys', { method: 'POST', body: JSON.stringify({ name: 'other' }) });
      const otherKey = ((await key.json()) as { key: string }).key;
      for (const p of [`/v1/admin/contacts?tenant=shop&email=${ADA.email}`, `/v1/admin/contacts/export?tenant=shop&email=${ADA.email}`]) {
        t.is((await fetch(`${w.h.app.url}${p}`, { headers: { 'x-api-key': otherKey } })).status, 404, p);
      }
      t.is((await fetch(`${w.h.app.url}/v1/admin/contacts/erase`, { method: 'POST', headers: { ...json, 'x-api-key': otherKey }, body: JSON.stringify({ tenant: 'shop', email: ADA.email }) })).status, 404);
      const own = await fetch(`${w.h.app.url}/v1/admin/contacts?email=${ADA.email}`, { headers: { 'x-api-key': otherKey } });
      t.is(own.status, 200, 'its own tenant without naming it');
      t.is(((await own.json()) as any).leads.length, 1, "the other tenant's own Ada");
      t.is((await w.h.app.admin('/v1/admin/contacts?tenant=shop&email=a@b.co&phone=%2B4791110001')).status, 400);

      // erase: refused without a TTY unless --yes, then everywhere
      const before = { revenue: await revenue(w), bob: await bobsRows(w), other: (await everyRow(w, dialect)).filter((x) => x.row.tenant_id === w.otherId).length };
      r = await bin(w, ['contacts', 'erase', 'shop', '--email', ADA.email]);
      t.is(r.code, 2);
      t.regex(r.stderr, /without --yes/);
      r = await bin(w, ['contacts', 'erase', 'shop', '--email', ADA.email, '--yes']);
      t.is(r.code, 0, r.stderr);
      t.regex(r.stdout, /erased email ada@example\.com as erased:[0-9A-Z]{26}/);
      t.regex(r.stdout, /messages \d+ deleted, leads 1 deleted, conversations 3 pseudonymised/);

      const rows = await everyRow(w, dialect);
      const leaks = rows.filter((x) => x.row.tenant_id !== w.otherId && terms.some((term) => x.text.includes(term)));
      t.deepEqual(leaks.map((x) => `${x.table}: ${x.text.slice(0, 300)}`), [], 'nothing of her is left in this tenant, in any table');
      t.deepEqual(await revenue(w), before.revenue, 'paid orders and payment_completed amounts unchanged');
      t.is(await bobsRows(w), before.bob, "Bob's conversations, messages and lead untouched");
      t.is(rows.filter((x) => x.row.tenant_id === w.otherId).length, before.other, "the other tenant's rows are all there");
      t.truthy(await knex(w)('leads').where({ tenant_id: w.otherId, email: ADA.email }).first(), "the other tenant's Ada is not this one");
      const kept = await knex(w)('conversations').where({ tenant_id: w.shopId }).where('external_user_id', 'like', 'erased:%');
      t.is(kept.length, 3, 'her conversations stay, under the pseudonym');
      t.true(kept.every((c) => c.user_name === null));
      const order = await knex(w)('orders').where({ status: 'paid' }).first();
      t.is(order.customer_email, kept[0].external_user_id.replace(/\.\d+$/, ''), 'the order carries the same reference');
      t.true(adaConvs.includes(order.conversation_id));

      const [erasure, ...more] = await knex(w)('contact_erasures').where({ tenant_id: w.shopId });
      t.is(more.length, 0);
      t.is(erasure.identifier_hash, createHash('sha256').update(`email:${ADA.email}`).digest('hex'));
      t.is(erasure.identifier_kind, 'email');

      // Erasing her again finds nothing, and says so.
      const again = await w.h.app.admin('/v1/admin/contacts/erase', { method: 'POST', body: JSON.stringify({ tenant: 'shop', psid: ADA.psid }) });
      t.is(again.status, 200);
      t.like(await again.json(), { nothing_found: true, counts: { messages: { deleted: 0 }, conversations: { changed: 0 } } });
      r = await bin(w, ['contacts', 'find', 'shop', '--email', ADA.email]);
      t.is(r.code, 0);
      t.regex(r.stdout, /nothing held about email ada@example\.com/);

      // Exports and erasures are in the audit log, by who and how the person was named, never by value.
      const audited = await knex(w)('audit_log').where({ tenant_id: w.shopId }).whereIn('action', ['contact.exported', 'contact.erased']).orderBy('id');
      t.true(audited.some((a: any) => a.action === 'contact.exported' && a.actor_kind === 'cli'));
      t.true(audited.some((a: any) => a.action === 'contact.exported' && a.actor_kind === 'admin'));
      t.true(audited.some((a: any) => a.action === 'contact.erased' && a.actor_kind === 'admin' && a.target !== null));
      t.true(audited.some((a: any) => a.action === 'contact.erased' && a.actor_kind === 'cli' && a.target === erasure.id));
      t.false(audited.some((a: any) => JSON.stringify(a).includes(ADA.email) || JSON.stringify(a).includes(ADA.psid)));
    } finally {
      await w.close();
    }
  });

  test(`${dialect}: the retention job waits in the queue only once a tenant has retention_days, set from any process`, async (t) => {
    const app = await startApp(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-retention-'));
    const k = app.services.db.knex;
    const queued = async () =>
      dialect === 'pg'
        ? Number((await k('graphile_worker.jobs').where('task_identifier', RETENTION_JOB).count({ n: '*' }))[0]!.n)
        : Number((await k('jobs').where({ kind: RETENTION_JOB, status: 'queued' }).count({ n: '*' }))[0]!.n);
    try {
      await app.services.tenants.create({ slug: 'plain', name: 'Plain' });
      await app.services.startWorker();
      t.is(await queued(), 0, 'no tenant keeps conversations for a limited time: nothing waits in the queue');
      const r = await runBin(['tenant', 'update', 'plain', '--set', 'retention_days=30'], { env: app.env, cwd });
      t.is(r.code, 0, r.stderr);
      t.is(await queued(), 1, 'the CLI process queued the next run before it exited');
      await app.services.tenants.update('plain', { settings: { retention_days: 60 } });
      await app.services.retention.drain();
      t.is(await queued(), 1, 'one next run, however often it is asked for');
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: retention deletes conversations silent for longer than retention_days, keeps recent ones and events`, async (t) => {
    const app = await startApp(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-retention-'));
    try {
      const tenant = await app.services.tenants.create({ slug: 'keep', name: 'Keep', settings: { retention_days: 30, lead: { mode: 'off' } } });
      await app.services.startWorker();
      const say = async (visitor: string) => {
        const res = await fetch(`${app.url}/v1/chat?tenant=keep`, { method: 'POST', headers: json, body: JSON.stringify({ message: 'hello', visitor_id: visitor }) });
        return ((await res.json()) as { conversation_id: string }).conversation_id;
      };
      const old = await say('old-visitor');
      const recent = await say('recent-visitor');
      const k = app.services.db.knex;
      const longAgo = new Date(Date.now() - 40 * 86_400_000).toISOString();
      await k('conversations').where({ id: old }).update({ created_at: longAgo, updated_at: longAgo });
      const oldEvents = (await k('events').where({ conversation_id: old })).length;
      t.true(oldEvents > 0);

      let r = await runBin(['stats', 'keep'], { env: app.env, cwd });
      t.is(r.code, 0, r.stderr);
      t.regex(r.stdout, /retention\s+30 days: 1 conversations past it; not run yet/);

      await app.services.jobs.enqueue(RETENTION_JOB, {});
      await waitFor('the old conversation deleted', async () => !(await k('conversations').where({ id: old }).first()));
      t.truthy(await k('conversations').where({ id: recent }).first(), 'the recent one stays');
      t.is((await k('messages').where({ conversation_id: old })).length, 0);
      t.true((await k('messages').where({ conversation_id: recent })).length > 0);
      t.is((await k('events').where({ conversation_id: old })).length, oldEvents, 'events stay for the figures');

      r = await runBin(['stats', 'keep', '--json'], { env: app.env, cwd });
      t.is(r.code, 0, r.stderr);
      t.like(JSON.parse(r.stdout).retention, { days: 30, past: 0, lastRun: { deleted: 1 } });
      if (dialect === 'sqlite') {
        const next = await k('jobs').where({ kind: RETENTION_JOB, status: 'queued' });
        t.is(next.length, 1, 'one next run, however often it was asked for');
        t.true(Date.parse(next[0].run_at) > Date.now());
      }
      t.is(tenant.settings.retention_days, 30);
      t.is((await app.admin('/v1/tenants/keep', { method: 'PATCH', body: JSON.stringify({ settings: { retention_days: 0 } }) })).status, 400);
    } finally {
      await app.close();
    }
  });
}
