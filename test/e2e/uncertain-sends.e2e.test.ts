import ava, { type ExecutionContext } from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createDb } from '../../src/db/create-db.js';
import { ADMIN_KEY, baseEnv } from '../helpers/app.js';
import { runBin, spawnServe, type ServeProcess } from '../helpers/cli.js';
import type { Dialect } from '../../src/db/create-db.js';
import { dialects, freshDatabase } from '../helpers/db.js';
import { dm, META_SECRET, PAGE_ID, PAGE_TOKEN, postSigned } from '../helpers/meta.js';
import { ACCOUNT_SID, AUTH_TOKEN, BUSINESS, CUSTOMER, inbound, messageSid, postTwilio, PUBLIC_SITE } from '../helpers/twilio.js';
import { waitFor } from '../helpers/wait.js';
import { FakeGraphApi } from '../fakes/graph-api.js';
import { FakeTwilioApi } from '../fakes/twilio-api.js';

// Each case runs two `zia serve` processes one after the other; PostgreSQL's recovery waits for a dead
// worker's heartbeat to go stale, so the cases run side by side.
const test = ava;

type Channel = 'messenger' | 'whatsapp';
type Policy = 'resend' | 'hold';

/** One provider fake behind one channel: how to ask, what it received, and what hangs. */
interface Provider {
  env: Record<string, string>;
  settings: Record<string, unknown>;
  customer: string;
  /** Posts one signed customer message to the running server. */
  ask(url: string, text: string): Promise<Response>;
  hangNext(): void;
  hung(): number;
  answered(): number;
  close(): Promise<void>;
}

async function provider(channel: Channel): Promise<Provider> {
  if (channel === 'messenger') {
    const graph = await FakeGraphApi.start('v23.0');
    graph.allowToken(PAGE_TOKEN);
    let n = 0;
    return {
      env: { META_APP_SECRET: META_SECRET, META_GRAPH_URL: graph.url, META_GRAPH_VERSION: 'v23.0' },
      settings: { fb_page_id: PAGE_ID, fb_page_token: PAGE_TOKEN },
      customer: 'PSID_1',
      ask: (url, text) => postSigned(url, dm(`m_crash_${++n}`, text)),
      hangNext: () => graph.failNext(1, { status: 0, hang: true }),
      hung: () => graph.hung.length,
      answered: () => graph.sendsTo('PSID_1').length,
      close: () => graph.close(),
    };
  }
  const twilio = await FakeTwilioApi.start();
  twilio.allowAccount(ACCOUNT_SID, AUTH_TOKEN);
  return {
    env: { SITE_URL: PUBLIC_SITE, TWILIO_API_URL: twilio.url },
    settings: { twilio_account_sid: ACCOUNT_SID, twilio_auth_token: AUTH_TOKEN, twilio_whatsapp_from: BUSINESS },
    customer: CUSTOMER,
    ask: (url, text) => postTwilio(url, '/v1/twilio/whatsapp/webhook?tenant=shop', inbound(messageSid(), text)),
    hangNext: () => twilio.failNext(1, { status: 0, code: 0, hang: true }),
    hung: () => twilio.hung.length,
    answered: () => twilio.sentTo(`whatsapp:${CUSTOMER}`).length,
    close: () => twilio.close(),
  };
}

/**
 * zia is killed (SIGKILL) while its reply is at a provider that never answers, then started again:
 * the state an operator meets after a crash, on the real binary.
 */
async function crashMidSend(t: ExecutionContext, dialect: Dialect, channel: Channel, policy: Policy) {
  t.timeout(120_000);
  const db = await freshDatabase(dialect);
  const fake = await provider(channel);
  const cwd = mkdtempSync(path.join(tmpdir(), 'zia-uncertain-'));
  const env = { ...baseEnv({ ZIA_UNCERTAIN_SENDS: policy, ZIA_JOB_BACKOFF_MS: '50', ...fake.env }), ...db.env };
  let server: ServeProcess = await spawnServe({ env, cwd });
  const store = createDb(loadConfig({ ...db.env }, cwd));
  const k = store.knex;
  t.teardown(async () => {
    await server.stop('SIGKILL');
    await store.close();
    await fake.close();
    await db.cleanup();
  });
  const zia = (args: string[]) => runBin(args, { env, cwd });

  const created = await fetch(`${server.url}/v1/tenants`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY }, body: JSON.stringify({ slug: 'shop', name: 'Shop', settings: fake.settings }) });
  t.is(created.status, 201, await created.text());

  fake.hangNext();
  t.is((await fake.ask(server.url, 'Do you ship to Oslo?')).status, 200);
  await waitFor('the reply reached the provider, which does not answer', async () => fake.hung() === 1);
  await server.stop('SIGKILL');
  const [inFlight] = await k('outbound_sends').select('id', 'status');
  t.is(inFlight?.status, 'pending', 'the kill left the send in flight');
  const delivery = async () => (await k('webhook_deliveries').first('id', 'status', 'last_error'))!;
  t.is((await delivery()).status, 'received', 'and its delivery unfinished');

  server = await spawnServe({ env, cwd });
  const conversation = (await k('conversations').where({ channel }).first('id'))!.id as string;
  const reply = async () => (await k('messages').where({ conversation_id: conversation, role: 'assistant' }).first('delivery_status'))?.delivery_status;

  if (policy === 'resend') {
    await waitFor('the delivery done after the restart', async () => (await delivery()).status === 'processed', 60_000);
    t.is(fake.answered(), 1, 'sent exactly once more after the restart');
    const send = await k('outbound_sends').where({ id: inFlight.id }).first('status', 'resends');
    t.deepEqual([send.status, Number(send.resends)], ['sent', 1]);
    t.is(await reply(), channel === 'whatsapp' ? 'queued' : 'sent');
    t.regex(server.output(), new RegExp(`"send":"${inFlight.id}".*sent once more`));
  } else {
    await waitFor('the delivery held after the restart', async () => (await delivery()).status === 'held', 60_000);
    t.is(fake.answered(), 0, 'not sent again');
    t.is((await k('outbound_sends').where({ id: inFlight.id }).first('status')).status, 'held');
    t.is(await reply(), 'held');
    t.regex((await delivery()).last_error, new RegExp(`zia conversations resend ${inFlight.id}`));
  }

  // Where an operator looks: the webhook log and the conversation, both listing the send.
  let r = await zia(['webhooks', 'log']);
  t.is(r.code, 0, r.stderr);
  const logLine = r.stdout.split('\n').find((l) => l.startsWith(inFlight.id));
  t.truthy(logLine, r.stdout);
  t.regex(logLine!, policy === 'resend' ? /re-sent 1x \(a duplicate is possible\)/ : / held /);
  const deliveryId = (await delivery()).id as string;
  t.regex(r.stdout.split('\n').find((l) => l.startsWith(deliveryId)) ?? '', policy === 'hold' ? / held / : / processed /, 'the delivery line says what happened');
  r = await zia(['conversations', 'show', conversation, '--json']);
  t.is(r.code, 0, r.stderr);
  const shown = JSON.parse(r.stdout) as { sends_in_doubt: Array<{ id: string; to: string; delivery_id: string }> };
  t.deepEqual(shown.sends_in_doubt.map((s) => [s.id, s.to]), [[inFlight.id, fake.customer]]);

  if (policy === 'hold') {
    r = await zia(['conversations', 'resend', inFlight.id]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.trim().split('\n').length, 1, r.stdout);
    t.true(r.stdout.startsWith(`${inFlight.id}: sent on ${channel} to ${fake.customer} (provider message `), r.stdout);
    t.is(fake.answered(), 1, 'sent by hand, once');
    t.is((await delivery()).status, 'processed');
    t.is(await reply(), channel === 'whatsapp' ? 'queued' : 'sent');
  }
  // A send that went out is never sent again by hand.
  r = await zia(['conversations', 'resend', inFlight.id]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^zia: send \S+ was delivered/);
  t.is(r.stderr.trim().split('\n').length, 1);
  r = await zia(['conversations', 'resend', 'not-a-send']);
  t.is(r.code, 2, 'a malformed id is a usage error');
  t.is(fake.answered(), 1);
}

for (const dialect of dialects()) {
  for (const channel of ['messenger', 'whatsapp'] as const) {
    test(`${dialect}: ${channel}: killed mid-send, the reply is sent exactly once more after the restart (default) and listed for the operator`, (t) => crashMidSend(t, dialect, channel, 'resend'));
    test(`${dialect}: ${channel}: killed mid-send with ZIA_UNCERTAIN_SENDS=hold, nothing is re-sent; the delivery reads held until zia conversations resend sends it`, (t) => crashMidSend(t, dialect, channel, 'hold'));
  }
}
