import ava from 'ava';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeCloudApi } from '../fakes/whatsapp-cloud-api.js';
import { baseEnv } from '../helpers/app.js';
import { runBin, spawnServe, type CliResult } from '../helpers/cli.js';
import { dialects, freshDatabase } from '../helpers/db.js';
import { META_SECRET, postSigned, VERIFY_TOKEN } from '../helpers/meta.js';
import { waitFor } from '../helpers/wait.js';
import { CLOUD_TOKEN, DISPLAY_NUMBER, PHONE_NUMBER_ID, templateCategoryUpdate, WABA_ID } from '../helpers/whatsapp-cloud.js';

const APP_ID = '1234567890123';
const FIELDS = ['messages', 'message_template_status_update', 'template_category_update'];
/** A number of another WABA, which CLOUD_TOKEN cannot see. */
const OTHER_NUMBER_ID = '106540352242999';
const WRONG_TOKEN = 'EAAJ-a-token-meta-never-issued-0000000';

interface Setup {
  fake: FakeCloudApi;
  env: Record<string, string>;
  cwd: string;
  cli(args: string[], extraEnv?: Record<string, string | undefined>): Promise<CliResult>;
  close(): Promise<void>;
}

async function setup(dialect: 'sqlite' | 'pg', extraEnv: Record<string, string> = {}): Promise<Setup> {
  const fake = await FakeCloudApi.start();
  fake.addNumber(PHONE_NUMBER_ID, WABA_ID, DISPLAY_NUMBER, CLOUD_TOKEN);
  fake.addNumber(OTHER_NUMBER_ID, '102290129340777', '15550009999', 'EAAJ-another-businesss-token-000000');
  const db = await freshDatabase(dialect);
  const cwd = mkdtempSync(path.join(tmpdir(), 'zia-wa-cloud-'));
  const env = { ...baseEnv({ META_APP_SECRET: META_SECRET, META_GRAPH_URL: fake.url, META_GRAPH_VERSION: fake.version, ...extraEnv }), ...db.env };
  const cli = (args: string[], extra: Record<string, string | undefined> = {}) => {
    const merged: Record<string, string> = { ...env };
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete merged[k];
      else merged[k] = v;
    }
    return runBin(args, { env: merged, cwd });
  };
  const r = await cli(['migrate']);
  if (r.code !== 0) throw new Error(r.stderr);
  return {
    fake,
    env,
    cwd,
    cli,
    async close() {
      await fake.close();
      await db.cleanup();
    },
  };
}

const cloudTenant = (slug: string, numberId = PHONE_NUMBER_ID, token: string | null = CLOUD_TOKEN) => [
  'tenant',
  'create',
  slug,
  '--name',
  'Shop',
  '--set',
  'whatsapp.provider=cloud',
  '--set',
  `whatsapp.phone_number_id=${numberId}`,
  '--set',
  `whatsapp.waba_id=${WABA_ID}`,
  ...(token ? ['--set', `whatsapp_access_token=${token}`] : []),
];

/** A port on 127.0.0.1 nothing listens on (taken, then given back). */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

const ok = (t: { is(a: unknown, b: unknown, m?: string): void }, r: CliResult) => t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
const oneLine = (s: string) => s.trimEnd().split('\n').length === 1;

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: zia whatsapp templates sync reads every page of the WABA's templates, list shows the stored copy, both judge whatsapp.template; errors are one line`, async (t) => {
    const s = await setup(dialect);
    try {
      s.fake.pageSize = 2;
      s.fake.addTemplate(WABA_ID, { name: 'reply_notice', language: 'en_US', category: 'UTILITY', status: 'APPROVED', body: 'Hello {{1}}, a reply to your message: {{2}}' });
      s.fake.addTemplate(WABA_ID, { name: 'reply_notice', language: 'nb', category: 'UTILITY', status: 'APPROVED', body: 'Hei, svar på meldingen din: {{1}}' });
      s.fake.addTemplate(WABA_ID, { name: 'spring_sale', language: 'en_US', category: 'MARKETING', status: 'APPROVED', body: 'Spring sale: {{1}} off' });
      s.fake.addTemplate(WABA_ID, { name: 'order_update', language: 'en_US', category: 'UTILITY', status: 'PENDING', body: 'Order {{1}} is {{2}}' });
      s.fake.addTemplate(WABA_ID, { name: 'account_notice', language: 'en_US', category: 'UTILITY', status: 'REJECTED', body: 'Your account changed' });
      let r = await s.cli([...cloudTenant('shop'), '--set', 'whatsapp.template.name=reply_notice', '--set', 'whatsapp.template.language=en_US', '--set', 'whatsapp.template.parameters=["{name}","{message}"]']);
      ok(t, r);

      r = await s.cli(['whatsapp', 'templates', 'list', 'shop']);
      ok(t, r);
      t.regex(r.stdout, /^no templates stored for shop: run zia whatsapp templates sync shop$/m);
      t.regex(r.stdout, /^whatsapp\.template: reply_notice \(en_US\) — cannot be sent outside the 24-hour window: template_not_synced: /m);

      r = await s.cli(['whatsapp', 'templates', 'sync', 'shop', '--json']);
      ok(t, r);
      const synced = JSON.parse(r.stdout);
      t.is(synced.tenant, 'shop');
      t.is(synced.waba_id, WABA_ID);
      t.deepEqual(
        synced.templates.map((x: any) => [x.name, x.language, x.category, x.status, x.body_parameters]),
        [
          ['account_notice', 'en_US', 'UTILITY', 'REJECTED', 0],
          ['order_update', 'en_US', 'UTILITY', 'PENDING', 2],
          ['reply_notice', 'en_US', 'UTILITY', 'APPROVED', 2],
          ['reply_notice', 'nb', 'UTILITY', 'APPROVED', 1],
          ['spring_sale', 'en_US', 'MARKETING', 'APPROVED', 1],
        ],
      );
      t.deepEqual(synced.outside_window, { template: { name: 'reply_notice', language: 'en_US', parameters: ['{name}', '{message}'] }, usable: true, reason: null });
      const pages = s.fake.requests.filter((q) => q.path === `/${s.fake.version}/${WABA_ID}/message_templates`);
      t.is(pages.length, 3, 'five templates at two a page are three pages');
      t.deepEqual(pages.map((p) => Boolean(p.query.get('after'))), [false, true, true]);
      t.false(r.stdout.includes(CLOUD_TOKEN));

      r = await s.cli(['whatsapp', 'templates', 'sync', 'shop']);
      ok(t, r);
      t.regex(r.stdout, /^synced 5 templates of WABA 102290129340398 for shop$/m);
      t.regex(r.stdout, /^NAME\s+LANGUAGE\s+CATEGORY\s+STATUS\s+BODY PARAMETERS$/m);
      t.regex(r.stdout, /^spring_sale\s+en_US\s+MARKETING\s+APPROVED\s+1$/m);
      t.regex(r.stdout, /^whatsapp\.template: reply_notice \(en_US\) — can be sent outside the 24-hour window \(APPROVED, UTILITY, 2 body parameters filled\)$/m);

      r = await s.cli(['whatsapp', 'templates', 'list', 'shop', '--json']);
      ok(t, r);
      const listed = JSON.parse(r.stdout);
      t.is(listed.templates.length, 5);
      t.regex(listed.synced_at, /^\d{4}-\d\d-\d\dT/);
      t.true(listed.outside_window.usable);
      r = await s.cli(['whatsapp', 'templates', 'list', 'shop']);
      ok(t, r);
      t.regex(r.stdout, new RegExp(`^5 templates of WABA ${WABA_ID} for shop, synced ${listed.synced_at}$`, 'm'));
      t.regex(r.stdout, /^order_update\s+en_US\s+UTILITY\s+PENDING\s+2$/m);

      const audit = JSON.parse((await s.cli(['audit', '--tenant', 'shop', '--json'])).stdout).entries.filter((e: any) => e.action === 'whatsapp_templates.synced');
      t.is(audit.length, 2, 'each sync is in the audit log');
      t.like(audit[0], { target: WABA_ID, details: { templates: 5 } });

      // The verdict is the send's own check: a marketing template, or parameters that do not fit, cannot carry a reply.
      ok(t, await s.cli(['tenant', 'update', 'shop', '--set', 'whatsapp.template.name=spring_sale', '--set', 'whatsapp.template.parameters=["{message}"]']));
      r = await s.cli(['whatsapp', 'templates', 'list', 'shop']);
      t.regex(r.stdout, /^whatsapp\.template: spring_sale \(en_US\) — cannot be sent outside the 24-hour window: template_category_marketing: /m);
      ok(t, await s.cli(['tenant', 'update', 'shop', '--set', 'whatsapp.template.name=reply_notice']));
      r = await s.cli(['whatsapp', 'templates', 'list', 'shop', '--json']);
      t.like(JSON.parse(r.stdout).outside_window, { usable: false });
      t.regex(JSON.parse(r.stdout).outside_window.reason, /^template_parameters_mismatch: reply_notice has 2 body parameters, whatsapp.template.parameters gives 1/);
      ok(t, await s.cli(['tenant', 'update', 'shop', '--set', 'whatsapp.template.language=nb']));
      r = await s.cli(['whatsapp', 'templates', 'list', 'shop']);
      t.regex(r.stdout, /^whatsapp\.template: reply_notice \(nb\) — can be sent outside the 24-hour window \(APPROVED, UTILITY, 1 body parameter filled\)$/m);
      ok(t, await s.cli(['tenant', 'update', 'shop', '--unset', 'whatsapp.template']));
      r = await s.cli(['whatsapp', 'templates', 'list', 'shop']);
      t.regex(r.stdout, /^whatsapp\.template: not set — cannot be sent outside the 24-hour window: no_template: /m);

      // Errors: one line on stderr, exit 1, nothing on stdout.
      r = await s.cli(['whatsapp', 'templates', 'sync', 'nope']);
      t.is(r.code, 1);
      t.is(r.stderr, "zia: tenant 'nope' not found\n");
      ok(t, await s.cli(['tenant', 'create', 'twil', '--name', 'Twil', '--set', 'twilio_whatsapp_from=whatsapp:+14155238886']));
      for (const cmd of ['sync', 'list']) {
        r = await s.cli(['whatsapp', 'templates', cmd, 'twil']);
        t.is(r.code, 1);
        t.true(oneLine(r.stderr));
        t.regex(r.stderr, /^zia: tenant 'twil' does not use the WhatsApp Cloud API \(whatsapp\.provider is twilio\): zia tenant update twil --set whatsapp\.provider=cloud/);
        t.is(r.stdout, '');
      }
      ok(t, await s.cli(cloudTenant('bare', '106540352242555', null)));
      r = await s.cli(['whatsapp', 'templates', 'sync', 'bare']);
      t.is(r.code, 1);
      t.is(r.stderr, "zia: tenant 'bare' has no whatsapp_access_token: set it with zia tenant update bare --set whatsapp_access_token=…\n");

      const before = s.fake.requests.length;
      ok(t, await s.cli(['tenant', 'update', 'shop', '--set', `whatsapp_access_token=${WRONG_TOKEN}`]));
      r = await s.cli(['whatsapp', 'templates', 'sync', 'shop']);
      t.is(r.code, 1);
      t.true(oneLine(r.stderr), r.stderr);
      t.regex(r.stderr, new RegExp(`^zia: could not read the templates of WABA ${WABA_ID}: access token invalid or expired \\(190\\)[^\\n]*; zia tenant update shop --set whatsapp_access_token=…$`, 'm'));
      t.false(r.stderr.includes(WRONG_TOKEN));
      t.is(s.fake.requests.length, before + 1, 'the refused token stopped the sync at the first page');
      r = await s.cli(['whatsapp', 'templates', 'list', 'shop', '--json']);
      t.is(JSON.parse(r.stdout).templates.length, 5, 'a failed sync leaves the stored copy as it was');

      r = await s.cli(['whatsapp', 'templates', 'sync', 'shop'], { META_GRAPH_URL: await closedPort() });
      t.is(r.code, 1);
      t.is(r.stderr, 'zia: could not reach the Graph API: connection refused\n');
    } finally {
      await s.close();
    }
  });

  test(`${dialect}: zia webhooks urls has the WhatsApp Cloud API section; zia webhooks check asks Meta about the token, the number, the WABA's app and the app's fields, each finding with its fix`, async (t) => {
    const s = await setup(dialect, { SITE_URL: 'https://bot.example.com', META_VERIFY_TOKEN: VERIFY_TOKEN, META_APP_ID: APP_ID });
    try {
      let r = await s.cli(['webhooks', 'urls', '--json']);
      ok(t, r);
      t.deepEqual(JSON.parse(r.stdout).whatsapp_cloud, { callback_url: 'https://bot.example.com/v1/meta/webhook', verify_token_set: true, object: 'whatsapp_business_account', fields: FIELDS });
      r = await s.cli(['webhooks', 'urls']);
      ok(t, r);
      t.regex(r.stdout, /^WhatsApp Cloud API \(App Dashboard → WhatsApp → Configuration; the same app as above\)\n {2}Callback URL {3}https:\/\/bot\.example\.com\/v1\/meta\/webhook\n {2}Verify token {3}the value of META_VERIFY_TOKEN\n {2}Object {9}whatsapp_business_account\n {2}Fields {9}messages, message_template_status_update, template_category_update\n/m);

      s.fake.subscribedApps.set(WABA_ID, [APP_ID]);
      s.fake.addApp(APP_ID, META_SECRET, [...FIELDS, 'account_update']);
      ok(t, await s.cli(cloudTenant('shop')));
      const check = async (extra: Record<string, string | undefined> = {}) => {
        const text = await s.cli(['webhooks', 'check'], extra);
        const json = await s.cli(['webhooks', 'check', '--json'], extra);
        t.is(text.code, json.code);
        for (const out of [text.stdout, text.stderr, json.stdout, json.stderr]) t.false(out.includes(CLOUD_TOKEN) || out.includes(WRONG_TOKEN), 'no token is ever printed');
        return { code: text.code, text: text.stdout, findings: JSON.parse(json.stdout).findings as Array<{ level: string; subject: string; problem: string; fix: string }> };
      };

      let c = await check();
      t.is(c.code, 0, c.text);
      t.deepEqual(c.findings, []);
      t.is(c.text, 'ok: webhooks are configured\n');
      const asked = new Set(s.fake.requests.map((q) => q.path));
      for (const p of [`/${WABA_ID}/phone_numbers`, `/${WABA_ID}/subscribed_apps`, `/${APP_ID}/subscriptions`]) t.true(asked.has(`/${s.fake.version}${p}`), `asked Meta ${p}`);

      // The app does not subscribe two of the fields.
      s.fake.appFields.set(APP_ID, ['messages']);
      c = await check();
      t.is(c.code, 1);
      t.regex(c.text, new RegExp(`^error Meta app ${APP_ID}: does not subscribe the WhatsApp Business Account webhook fields message_template_status_update, template_category_update — fix: App Dashboard → WhatsApp → Configuration → Webhook fields: subscribe message_template_status_update, template_category_update$`, 'm'));
      t.is(c.findings.length, 1);
      // Without META_APP_ID the fields cannot be read: a warning that says what to set.
      c = await check({ META_APP_ID: undefined });
      t.is(c.code, 0, c.text);
      t.deepEqual(c.findings.map((f) => [f.level, f.subject]), [['warning', 'META_APP_ID']]);
      t.regex(c.findings[0]!.fix, /^set META_APP_ID/);
      s.fake.appFields.set(APP_ID, FIELDS);
      // A wrong app secret makes no valid app token.
      c = await check({ META_APP_SECRET: 'not-the-app-secret' });
      t.is(c.code, 1);
      t.deepEqual(c.findings.map((f) => f.subject), ['META_APP_ID']);
      t.regex(c.findings[0]!.problem, /do not make a valid app access token \(190\)/);

      // No app subscribed to the WABA: the fix is the call to make, with the token left out.
      s.fake.subscribedApps.set(WABA_ID, []);
      c = await check();
      t.is(c.code, 1);
      t.deepEqual(c.findings, [
        {
          level: 'error',
          subject: 'tenant shop',
          problem: `no app is subscribed to WABA ${WABA_ID}: Meta sends its webhooks nowhere`,
          fix: `curl -X POST "${s.fake.url}/${s.fake.version}/${WABA_ID}/subscribed_apps" -H "Authorization: Bearer <the whatsapp_access_token of shop>"`,
        },
      ]);
      s.fake.subscribedApps.set(WABA_ID, ['999000111']);
      c = await check();
      t.is(c.code, 1);
      t.regex(c.text, new RegExp(`^error tenant shop: WABA ${WABA_ID} sends its webhooks to app 999000111, not to META_APP_ID ${APP_ID} — fix: curl -X POST `, 'm'));
      s.fake.subscribedApps.set(WABA_ID, [APP_ID]);

      // A number of another WABA: the fix lists this WABA's numbers.
      ok(t, await s.cli(['tenant', 'update', 'shop', '--set', `whatsapp.phone_number_id=${OTHER_NUMBER_ID}`]));
      c = await check();
      t.is(c.code, 1);
      t.regex(c.text, new RegExp(`^error tenant shop: whatsapp.phone_number_id ${OTHER_NUMBER_ID} is not a number of WABA ${WABA_ID}: .* — fix: the WABA's numbers are ${PHONE_NUMBER_ID} \\(${DISPLAY_NUMBER}\\): zia tenant update shop --set whatsapp.phone_number_id=<one of them>`, 'm'));
      t.is(c.findings.length, 1);
      ok(t, await s.cli(['tenant', 'update', 'shop', '--set', `whatsapp.phone_number_id=${PHONE_NUMBER_ID}`]));

      // A token Meta does not know: 190, and the command that replaces it.
      ok(t, await s.cli(['tenant', 'update', 'shop', '--set', `whatsapp_access_token=${WRONG_TOKEN}`]));
      c = await check();
      t.is(c.code, 1);
      t.regex(c.text, /^error tenant shop: whatsapp_access_token is invalid or expired \(190\) — fix: .*zia tenant update shop --set whatsapp_access_token=…$/m);
      t.deepEqual(c.findings.map((f) => f.subject), ['tenant shop']);
      ok(t, await s.cli(['tenant', 'update', 'shop', '--set', `whatsapp_access_token=${CLOUD_TOKEN}`]));

      // A cloud tenant without a token, and no app secret: both static, both errors.
      ok(t, await s.cli(cloudTenant('bare', '106540352242555', null)));
      c = await check({ META_APP_SECRET: undefined });
      t.is(c.code, 1);
      t.regex(c.text, /^error META_APP_SECRET: is not set: every Meta webhook POST, WhatsApp Cloud API ones included, is refused — fix: /m);
      t.regex(c.text, /^error tenant bare: uses the WhatsApp Cloud API but has no whatsapp_access_token: .* — fix: zia tenant update bare --set whatsapp_access_token=…$/m);
      t.deepEqual(c.findings.map((f) => f.subject), ['META_APP_SECRET', 'tenant bare']);

      // Meta out of reach: one finding, not one per tenant and check.
      ok(t, await s.cli(['tenant', 'update', 'bare', '--set', `whatsapp_access_token=${CLOUD_TOKEN}`, '--set', 'whatsapp.phone_number_id=106540352242556']));
      const nowhere = await closedPort();
      c = await check({ META_GRAPH_URL: nowhere });
      t.is(c.code, 1);
      t.deepEqual(c.findings, [{ level: 'error', subject: 'Graph API', problem: 'could not reach the Graph API: connection refused', fix: `check this host's outbound access to ${nowhere} (META_GRAPH_URL)` }]);
    } finally {
      await s.close();
    }
  });

  test(`${dialect}: zia webhooks simulate whatsapp for a Cloud API tenant posts Meta's signed whatsapp_business_account payload; the running server accepts it as wamid:… and answers through the Cloud API`, async (t) => {
    const s = await setup(dialect, { ZIA_JOB_BACKOFF_MS: '30', ZIA_JOB_MAX_ATTEMPTS: '3', TWILIO_AUTH_TOKEN: 'global-twilio-token-0123456789' });
    // The Twilio sample goes to a recorder, not to a server that would answer through Twilio.
    const seen: Array<{ url: string; headers: IncomingMessage['headers']; body: string }> = [];
    const recorder = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/xml' }).end('<Response/>');
    });
    await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', () => r()));
    const recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
    try {
      ok(t, await s.cli(cloudTenant('shop')));
      ok(t, await s.cli(['tenant', 'create', 'twil', '--name', 'Twil', '--set', 'twilio_whatsapp_from=whatsapp:+14155238886']));
      const server = await spawnServe({ env: s.env, cwd: s.cwd });
      try {
        let r = await s.cli(['webhooks', 'simulate', 'whatsapp', '--tenant', 'shop', '--text', 'Do you ship to Oslo?', '--from', '+4791234567', '--url', server.url, '--json']);
        ok(t, r);
        const sim = JSON.parse(r.stdout);
        t.like(sim, { provider: 'whatsapp', url: `${server.url}/v1/meta/webhook`, status: 200, ok: true });
        t.regex(sim.external_id, /^wamid:wamid\.[A-Za-z0-9_-]+$/);
        const log = async () => JSON.parse((await s.cli(['webhooks', 'log', '--provider', 'meta', '--json'])).stdout).deliveries as Array<{ external_id: string; status: string; kind: string }>;
        const delivery = await waitFor('the simulated message processed', async () => (await log()).find((d) => d.external_id === sim.external_id && d.status === 'processed'));
        t.truthy(delivery);
        const reply = (await waitFor('the reply through the Cloud API', () => s.fake.sends.find((x) => x.to === '4791234567')))!;
        t.is(reply.phoneNumberId, PHONE_NUMBER_ID);
        t.is(reply.token, CLOUD_TOKEN);

        // The text form: one line with the status and the external id; the log lists it.
        r = await s.cli(['webhooks', 'simulate', 'whatsapp', '--tenant', 'shop', '--text', 'hi', '--url', server.url]);
        ok(t, r);
        const id = /external id (wamid:\S+);/.exec(r.stdout)?.[1];
        t.regex(r.stdout, new RegExp(`^whatsapp: POST ${server.url}/v1/meta/webhook → HTTP 200 \\(external id wamid:wamid\\.`));
        t.truthy(id);
        await waitFor('the second delivery in the log', async () => (await log()).some((d) => d.external_id === id));
        r = await s.cli(['webhooks', 'log', '--provider', 'meta']);
        t.true(r.stdout.includes(id!));

        // Signed with another secret, the server refuses it.
        r = await s.cli(['webhooks', 'simulate', 'whatsapp', '--tenant', 'shop', '--url', server.url], { META_APP_SECRET: 'not-the-app-secret' });
        t.is(r.code, 1);
        t.regex(r.stderr, /HTTP 40[13]/);
        r = await s.cli(['webhooks', 'simulate', 'whatsapp', '--tenant', 'shop', '--url', server.url], { META_APP_SECRET: undefined });
        t.is(r.code, 1);
        t.is(r.stderr, 'zia: META_APP_SECRET is not set: WhatsApp Cloud API webhooks cannot be signed (or accepted)\n');

        // Meta moves a synced template to another category: list shows the change and when it came.
        const template = s.fake.addTemplate(WABA_ID, { name: 'reply_notice', language: 'en_US', category: 'UTILITY', status: 'APPROVED', body: 'A reply: {{1}}' });
        ok(t, await s.cli(['tenant', 'update', 'shop', '--set', 'whatsapp.template.name=reply_notice', '--set', 'whatsapp.template.language=en_US']));
        ok(t, await s.cli(['whatsapp', 'templates', 'sync', 'shop']));
        r = await s.cli(['whatsapp', 'templates', 'list', 'shop']);
        t.notRegex(r.stdout, /CHANGED BY META/);
        t.regex(r.stdout, /— can be sent outside the 24-hour window/);
        t.is((await postSigned(server.url, templateCategoryUpdate(template.id, 'reply_notice', 'UTILITY', 'MARKETING'))).status, 200);
        r = await s.cli(['whatsapp', 'templates', 'list', 'shop']);
        t.regex(r.stdout, /^NAME\s+LANGUAGE\s+CATEGORY\s+STATUS\s+BODY PARAMETERS\s+CHANGED BY META$/m);
        t.regex(r.stdout, /^reply_notice\s+en_US\s+MARKETING\s+APPROVED\s+1\s+\d{4}-\d\d-\d\dT\S+$/m);
        t.regex(r.stdout, /^whatsapp\.template: reply_notice \(en_US\) — cannot be sent outside the 24-hour window: template_category_marketing: /m);
      } finally {
        await server.stop();
      }

      // A Twilio tenant keeps Twilio's form post, signed with the Twilio token.
      const r = await s.cli(['webhooks', 'simulate', 'whatsapp', '--tenant', 'twil', '--url', recorderUrl, '--json']);
      ok(t, r);
      t.regex(JSON.parse(r.stdout).external_id, /^SM[0-9a-f]{32}$/);
      t.is(seen.length, 1);
      t.is(seen[0]!.url, '/v1/twilio/whatsapp/webhook?tenant=twil');
      t.truthy(seen[0]!.headers['x-twilio-signature']);
      t.is(seen[0]!.headers['x-hub-signature-256'], undefined);
      t.is(new URLSearchParams(seen[0]!.body).get('To'), 'whatsapp:+14155238886');
    } finally {
      recorder.closeAllConnections();
      await new Promise<void>((r) => recorder.close(() => r()));
      await s.close();
    }
  });
}
