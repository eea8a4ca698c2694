import ava from 'ava';
import type { Knex } from 'knex';

// Separate server processes and PostgreSQL pools: one test at a time.
const test = ava.serial;
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.js';
import { createServices } from '../../src/container.js';
import { createLogger } from '../../src/logger.js';
import { LogCapture, startApp } from '../helpers/app.js';
import { EchoChatEngine } from '../helpers/echo-chat-engine.js';
import { createDb } from '../../src/db/create-db.js';
import { ADMIN_KEY, baseEnv } from '../helpers/app.js';
import { dialects, freshDatabase } from '../helpers/db.js';
import { CONNECT_SECRET } from '../helpers/stripe.js';
import { readJson } from '../../src/db/dialect.js';
import { dm, IG_ID, META_SECRET, PAGE_ID, PAGE_TOKEN, postSigned } from '../helpers/meta.js';
import { waitFor } from '../helpers/wait.js';
import { FakeGraphApi } from '../fakes/graph-api.js';
import { FakeStripe } from '../fakes/stripe-api.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Proc {
  url: string;
  child: ChildProcess;
  output(): string;
}

function start(env: Record<string, string>, cwd: string): Promise<Proc> {
  return new Promise((resolve, reject) => {
    // The built binary, as an operator runs it: real chat engine, offline AI, real worker.
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/zia'), 'serve', '--port', '0', '--host', '127.0.0.1'], { cwd, env: { PATH: process.env.PATH ?? '', ...env } });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${out}`));
    }, 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${m[1]}`, child, output: () => out });
      }
    });
    child.stderr!.on('data', (d) => (out += d));
  });
}

const exit = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

/** One webhook of the burst: a signed Messenger DM or a signed Stripe event. */
interface Delivery {
  send(url: string): Promise<Response>;
  /** For a step of a lead flow: the mid of the sender's previous message, which must be answered first. */
  after?: string;
  acked: boolean;
  /** The provider was told this one had been recorded already. */
  duplicate?: boolean;
}

const PLAN = { id: 'basic', name: 'Basic coffee club', amount: 1900, currency: 'nok', interval: 'month' };
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

for (const dialect of dialects()) {
  test(`${dialect}: kill -9 in a burst of 2,000 webhooks (messages, lead flows, payments), then a restart: nothing acknowledged is lost, nothing happens twice`, async (t) => {
    // 2,000 webhooks and as many worker jobs on two shared cores can outlast the suite's default.
    t.timeout(240_000);
    const db = await freshDatabase(dialect);
    const graph = await FakeGraphApi.start('v23.0');
    graph.allowToken(PAGE_TOKEN);
    graph.delayMs = 15;
    const stripe = await new FakeStripe().start();
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-kill-'));
    const env = {
      ...baseEnv({
        META_APP_SECRET: META_SECRET,
        META_GRAPH_URL: graph.url,
        STRIPE_SECRET_KEY: stripe.secretKey,
        STRIPE_API_URL: stripe.url,
        STRIPE_CONNECT_WEBHOOK_SECRET: CONNECT_SECRET,
        ZIA_WORKER_CONCURRENCY: '4',
        ZIA_JOB_BACKOFF_MS: '50',
      }),
      ...db.env,
    };
    let a = await start(env, cwd);
    // The database as an operator would read it; the first start has migrated it.
    const store = createDb(loadConfig({ ...db.env }, cwd));
    const k = store.knex;
    t.teardown(async () => {
      a.child.kill('SIGKILL');
      await exit(a.child);
      await store.close();
      await graph.close();
      await stripe.stop();
      await db.cleanup();
    });

    // The tenant: a Facebook page, a plan, the lead flow without the WhatsApp question, a connected Stripe account.
    const admin = (route: string, body: unknown) =>
      fetch(`${a.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY }, body: JSON.stringify(body) });
    const settings = { fb_page_id: PAGE_ID, fb_page_token: PAGE_TOKEN, plans: [PLAN], lead: { ask_whatsapp: false } };
    t.is((await admin('/v1/tenants', { slug: 'shop', name: 'Shop', settings })).status, 201);
    const onboarded = await admin('/v1/admin/stripe/connect/onboard', { tenant: 'shop' });
    t.is(onboarded.status, 200);
    const { account_id: account } = (await onboarded.json()) as { account_id: string };
    const enabled = await FakeStripe.deliver(`${a.url}/v1/stripe/webhook`, stripe.event('account.updated', stripe.completeOnboarding(account), { account }), { secret: CONNECT_SECRET });
    t.is(enabled.status, 200);

    // Before the burst, each buyer asks for the plan in Messenger and gets a checkout link: an open order
    // tied to the buyer's conversation, whose payment arrives during the burst.
    const BUYERS = 100;
    for (let i = 0; i < BUYERS; i += 25) {
      const res = await Promise.all(range(Math.min(25, BUYERS - i)).map((n) => postSigned(a.url, dm(`m_buy${i + n}`, 'I want to buy the Basic coffee club', { psid: `B${i + n}` }))));
      t.true(res.every((r) => r.status === 200));
    }
    await waitFor('a checkout link for every buyer', () => range(BUYERS).every((j) => graph.sendsTo(`B${j}`).length === 1), 60_000);
    const paymentOf = range(BUYERS).map((j) => {
      const session = /cs_test_\w+/.exec(graph.sendsTo(`B${j}`)[0]!.text)?.[0];
      if (!session) throw new Error(`no checkout link in the reply to B${j}: ${graph.sendsTo(`B${j}`)[0]!.text}`);
      return stripe.event('checkout.session.completed', stripe.completedSession(session, 'paid', `b${j}@example.com`), { account });
    });
    t.is(Number((await k('orders').where({ status: 'open' }).count({ n: '*' }))[0]!.n), BUYERS);

    // The burst, in a fixed order: every 20th webhook a payment, 3 in 20 a step of a lead flow (blocks of
    // 25 senders: "contact me", then the name, then the email, each step about 170 webhooks after the
    // last, sent once the previous one is answered, as a person would), the rest questions.
    const N = 2000;
    const LEADS = 100;
    const burst: Delivery[] = [];
    const meta = (mid: string, text: string, psid: string, after?: string): Delivery => ({ send: (url) => postSigned(url, dm(mid, text, { psid })), after, acked: false });
    const leadStep = (j: number, step: number) => {
      const mid = (s: number) => `m_l${j}_${s}`;
      const text = [`Could someone contact me, please?`, `Ada L${j}`, `ada.l${j}@example.com`][step]!;
      return meta(mid(step), text, `L${j}`, step > 0 ? mid(step - 1) : undefined);
    };
    let paid = 0;
    let slot = 0;
    for (let i = 0; i < N; i++) {
      if (i % 20 === 5) {
        const event = paymentOf[paid++]!;
        burst.push({ send: (url) => FakeStripe.deliver(`${url}/v1/stripe/webhook`, event, { secret: CONNECT_SECRET }), acked: false });
      } else if ([2, 9, 16].includes(i % 20)) {
        const m = slot++;
        const r = m % 75;
        burst.push(leadStep(Math.floor(m / 75) * 25 + (r % 25), Math.floor(r / 25)));
      } else burst.push(meta(`m_k${i}`, `q${i}`, `P${i}`));
    }
    t.deepEqual([paid, slot], [BUYERS, LEADS * 3]);

    const handled = async (mid: string) => (await k('webhook_deliveries').where({ provider: 'meta', external_id: `mid:${mid}` }).first('status'))?.status === 'processed';
    const deliver = async (d: Delivery, url: string) => {
      try {
        const res = await d.send(url);
        if (res.status !== 200) return;
        const body = (await res.json()) as { duplicates?: number; duplicate?: boolean };
        d.acked = true;
        d.duplicate = Boolean(body.duplicates || body.duplicate);
      } catch {
        // connection refused or reset: not acknowledged, the provider delivers it again
      }
    };
    const post = async (batch: Delivery[], url: string, onEach: () => void = () => undefined) => {
      for (const d of batch) if (d.after) await waitFor(`an answer to ${d.after}`, () => handled(d.after!), 90_000);
      await Promise.all(batch.map((d) => deliver(d, url).finally(onEach)));
    };

    // The kill lands halfway, while a batch is in flight (half of it answered) and the worker is replying.
    const KILL_AT = 1000;
    for (let i = 0; i < KILL_AT; i += 25) await post(burst.slice(i, i + 25), a.url);
    const inFlight = burst.slice(KILL_AT, KILL_AT + 25);
    let halfAnswered!: () => void;
    const half = new Promise<void>((r) => (halfAnswered = r));
    let answers = 0;
    const posting = post(inFlight, a.url, () => ++answers === 12 && halfAnswered());
    await half;
    a.child.kill('SIGKILL');
    await exit(a.child);
    await posting;
    const sendsAtKill = graph.sends.length;
    const ackedAtKill = burst.filter((d) => d.acked).length;
    t.true(sendsAtKill >= 20, 'the worker was sending when it was killed');

    a = await start(env, cwd);
    // Meta and Stripe deliver again what was not acknowledged, the rest of the burst follows, and some
    // acknowledged webhooks arrive once more.
    const unanswered = inFlight.filter((d) => !d.acked);
    await post(unanswered, a.url);
    const recordedUnanswered = unanswered.filter((d) => d.duplicate).length;
    for (let i = KILL_AT + 25; i < N; i += 25) await post(burst.slice(i, i + 25), a.url);
    const again = burst.filter((d, i) => d.acked && i % 7 === 0);
    for (let i = 0; i < again.length; i += 25) await post(again.slice(i, i + 25), a.url);
    t.is(burst.filter((d) => d.acked).length, N, 'every webhook acknowledged in the end');

    const count = async (q: Knex.QueryBuilder) => Number(((await q.count({ n: '*' })) as Array<{ n: number | string }>)[0]!.n);
    const queued = () => (dialect === 'pg' ? count(k('graphile_worker.jobs')) : count(k('jobs').whereIn('status', ['queued', 'running'])));
    await waitFor('every job done', async () => (await queued()) === 0 && (await count(k('webhook_deliveries').whereIn('status', ['received', 'failed']))) === 0, 90_000);
    t.is(await count(k('webhook_deliveries').where({ status: 'dead' })), 0, 'no delivery parked as dead');

    // Sends in flight at the kill: sent once more after the restart (ZIA_UNCERTAIN_SENDS=resend, the
    // default), named in the log; none left in doubt.
    const resent = (await k('outbound_sends').where('resends', '>', 0).select('idempotency_key', 'status', 'resends')).map((r) => r.idempotency_key as string);
    t.true(resent.length <= 4, `at most one re-sent send per worker slot (${resent.join(', ')})`);
    t.is(Number((await k('outbound_sends').whereNot({ status: 'sent' }).count({ n: '*' }))[0]!.n), 0, 'every send went out; none in doubt');
    t.is(Number((await k('outbound_sends').where('resends', '>', 1).count({ n: '*' }))[0]!.n), 0, 're-sent at most once');
    for (const key of resent) t.true(a.output().split('\n').some((l) => l.includes(`"${key}"`) && l.includes('sent once more')), `${key} is in the log`);
    const resentMid = (mid: string) => resent.includes(`meta:mid:${mid}:reply:0`);
    const textsTo = (psid: string) => graph.sendsTo(psid).map((s) => s.text);

    // Replies: each question answered once (or twice, if its send was in flight at the kill and re-sent).
    let twice = 0;
    let missing = 0;
    for (let i = 0; i < N; i++) {
      if (i % 20 === 5 || [2, 9, 16].includes(i % 20)) continue;
      const n = graph.sendsTo(`P${i}`).length;
      if (n > (resentMid(`m_k${i}`) ? 2 : 1)) twice++;
      if (n === 0) missing++;
    }
    t.is(twice, 0, 'no reply went out twice, except one re-sent after the kill');
    t.is(missing, 0, 'every question was answered');

    // Leads: every flow answered step by step; one lead, one lead_started and one lead_captured per sender.
    const prompts = [/^Sure! What's your name\?$/, /^Thanks, Ada L\d+! What's your email address\?$/, /^Thank you, Ada L\d+! We'll get back to you at ada\.l\d+@example\.com\.$/];
    const leadReplies = range(LEADS).flatMap((j) => {
      const texts = textsTo(`L${j}`);
      return prompts.map((p, step) => ({ j, step, n: texts.filter((x) => p.test(x)).length, total: texts.length }));
    });
    const resentSteps = (j: number) => [0, 1, 2].filter((step) => resentMid(`m_l${j}_${step}`)).length;
    t.deepEqual(leadReplies.filter((r) => r.n > (resentMid(`m_l${r.j}_${r.step}`) ? 2 : 1) || r.total > 3 + resentSteps(r.j)), [], 'no lead-flow reply went out twice, except one re-sent after the kill');
    t.deepEqual(leadReplies.filter((r) => r.n === 0), [], 'every lead-flow step was answered');
    const leads = await k('leads').select('email', 'name');
    t.is(leads.length, LEADS, 'one lead per sender');
    for (const j of range(LEADS)) t.deepEqual(leads.filter((l) => l.email === `ada.l${j}@example.com`).map((l) => l.name), [`Ada L${j}`]);
    const captured = await k('events').where({ type: 'lead_captured' }).select('data');
    t.is(new Set(captured.map((e) => readJson<{ lead_id: string }>(e.data, { lead_id: '' }).lead_id)).size, LEADS);
    t.is(captured.length, LEADS, 'lead_captured recorded once per lead');
    const started = await k('events').where({ type: 'lead_started' }).select('conversation_id');
    t.is(new Set(started.map((e) => e.conversation_id)).size, LEADS);
    t.is(started.length, LEADS, 'lead_started recorded once per flow');

    // Payments: every order paid, once; one payment_completed and one thank-you each (stored with the
    // payment, sent once unless its send was in flight at the kill).
    const orders = await k('orders').select('id', 'status', 'paid_at', 'conversation_id');
    t.is(orders.length, BUYERS);
    t.deepEqual(orders.filter((o) => o.status !== 'paid' || !o.paid_at), [], 'every order paid');
    const completed = (await k('events').where({ type: 'payment_completed' }).select('data')).map((e) => readJson<{ order_id: string }>(e.data, { order_id: '' }).order_id);
    t.is(completed.length, BUYERS, 'payment_completed recorded once per order');
    t.deepEqual([...completed].sort(), orders.map((o) => o.id as string).sort(), 'one payment_completed for each order');
    const thanks = await k('messages')
      .join('conversations', 'conversations.id', 'messages.conversation_id')
      .where('messages.role', 'assistant')
      .where('messages.text', 'like', 'Thank you! Your payment%')
      .select('messages.id', 'conversations.external_user_id as psid');
    let thanked = 0;
    for (const j of range(BUYERS)) {
      const stored = thanks.filter((m) => m.psid === `B${j}`);
      const sent = textsTo(`B${j}`).filter((x) => x.startsWith('Thank you! Your payment')).length;
      thanked += sent;
      t.is(stored.length, 1, `B${j}: one thank-you stored`);
      t.true(sent === 1 || (sent === 2 && resent.includes(`msg:${stored[0]?.id}:0`)), `B${j}: the thank-you went out once, or twice if re-sent after the kill (${sent} sent)`);
    }

    // How many re-sends were duplicates: the first attempt had reached the Graph API before the kill (the
    // fake records a send before answering).
    const duplicates = resent.filter((key) => {
      const mid = /^meta:mid:(m_\w+):reply:0$/.exec(key)?.[1];
      if (mid?.startsWith('m_k')) return graph.sendsTo(`P${mid.slice(3)}`).length > 1;
      const step = mid ? /^m_l(\d+)_(\d)$/.exec(mid) : null;
      if (step) return textsTo(`L${step[1]}`).filter((x) => prompts[Number(step[2])]!.test(x)).length > 1;
      const thank = thanks.find((m) => key === `msg:${m.id}:0`);
      return thank !== undefined && textsTo(thank.psid).filter((x) => x.startsWith('Thank you! Your payment')).length > 1;
    }).length;
    t.log(
      `${dialect}: ${ackedAtKill} of ${N} acknowledged before the kill, ${unanswered.length} in flight (${recordedUnanswered} of them recorded but unanswered), ${sendsAtKill} Graph sends by then, ${graph.sends.length} in all; ` +
        `${resent.length} in flight at the kill and re-sent once (${duplicates} of them duplicates); ${leads.length} leads; ${completed.length} orders paid, ${thanked} thank-yous sent`,
    );
  });
}

if (process.env.ZIA_TEST_PG_URL) {
  test('pg: two server processes on one database, deliveries spread over both: every item answered once', async (t) => {
    const db = await freshDatabase('pg');
    const graph = await FakeGraphApi.start('v23.0');
    graph.allowToken(PAGE_TOKEN);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-two-'));
    const env = { ...baseEnv({ META_APP_SECRET: META_SECRET, META_GRAPH_URL: graph.url, ZIA_WORKER_CONCURRENCY: '3' }), ...db.env };
    // Both at once on a fresh database: migrations take turns under an advisory lock.
    const [a, b] = await Promise.all([start(env, cwd), start(env, cwd)]);
    const created = await fetch(`${a.url}/v1/tenants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
      body: JSON.stringify({ slug: 'shop', name: 'Shop', settings: { fb_page_id: PAGE_ID, fb_page_token: PAGE_TOKEN } }),
    });
    t.is(created.status, 201);
    const N = 80;
    const results = await Promise.all(Array.from({ length: N }, (_, i) => postSigned(i % 2 ? b.url : a.url, dm(`m_two_${i}`, `q${i}`, { psid: `T${i}` }))));
    t.true(results.every((r) => r.status === 200));
    await waitFor('every item answered', () => graph.sends.length >= N, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < N; i++) t.is(graph.sendsTo(`T${i}`).length, 1, `T${i}`);
    t.is(graph.sends.length, N);
    for (const p of [a, b]) p.child.kill('SIGTERM');
    await Promise.all([exit(a.child), exit(b.child)]);
    await graph.close();
    await db.cleanup();
  });

  test('pg: two in-process app instances with a worker each share one database; every item is answered exactly once', async (t) => {
    const graph = await FakeGraphApi.start('v23.0');
    graph.allowToken(PAGE_TOKEN);
    // One engine double stands for the engine's shared state (its dedupe lives in the database in the real one).
    const chat = new EchoChatEngine();
    const env = { META_APP_SECRET: META_SECRET, META_GRAPH_URL: graph.url, ZIA_JOB_BACKOFF_MS: '30', ZIA_WORKER_CONCURRENCY: '3' };
    const a = await startApp('pg', env, { chat });
    await a.services.tenants.create({ slug: 'shop', name: 'Shop', settings: { fb_page_id: PAGE_ID, ig_user_id: IG_ID, fb_page_token: PAGE_TOKEN } });
    // The second instance: same database, its own services, HTTP server and worker.
    const config = loadConfig(a.env, '/nonexistent-cwd-for-tests');
    const logs = new LogCapture();
    const servicesB = createServices(config, createLogger('info', logs), { chat });
    const { createApp } = await import('../../src/http/create-app.js');
    const { createHttpServer } = await import('../../src/http/server.js');
    const serverB = createHttpServer(createApp(servicesB)).listen(0, '127.0.0.1');
    await new Promise((r) => serverB.once('listening', r));
    const urlB = `http://127.0.0.1:${(serverB.address() as { port: number }).port}`;
    const workerA = await a.services.startWorker();
    const workerB = await servicesB.startWorker();

    const N = 60;
    const posts: Promise<Response>[] = [];
    for (let i = 0; i < N; i++) {
      const payload = dm(`m_scale_${i}`, `question ${i}`, { psid: `PSID_${i}` });
      // Every delivery goes to one instance, and a third of them is repeated on the other.
      posts.push(postSigned(i % 2 ? urlB : a.url, payload));
      if (i % 3 === 0) posts.push(postSigned(i % 2 ? a.url : urlB, payload));
    }
    t.true((await Promise.all(posts)).every((r) => r.status === 200));
    await waitFor('every item answered', () => graph.sends.length >= N, 60_000);
    await waitFor('settled', async () => Number((await a.services.db.knex('webhook_deliveries').where('status', 'processed').count({ n: '*' }))[0]!.n) === N, 60_000);
    for (let i = 0; i < N; i++) t.is(graph.sendsTo(`PSID_${i}`).length, 1, `PSID_${i}`);
    t.is(graph.sends.length, N);
    const workedBy = (await a.services.db.knex('outbound_sends').count({ n: '*' }))[0]!.n;
    t.is(Number(workedBy), N);

    await workerB.stop();
    await workerA.stop();
    serverB.closeAllConnections();
    await new Promise((r) => serverB.close(r));
    await servicesB.close();
    await a.close();
    await graph.close();
  });
}
