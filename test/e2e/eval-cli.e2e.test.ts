import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parse as parseYaml } from 'yaml';
import type { Db } from '../../src/db/create-db.js';
import { startCountingListener, startFakeShop, type FakeShop } from '../fakes/catalog-server.js';
import { FakeOpenAI, type Behaviour, type RecordedRequest } from '../fakes/openai-server.js';
import type { TestApp } from '../helpers/app.js';
import { runBin } from '../helpers/cli.js';
import { dialects } from '../helpers/db.js';
import { connectedTenant, startPayments, type PaymentsHarness } from '../helpers/stripe.js';

/**
 * `zia eval` plays a tenant's bot in a throwaway copy: the built binary against the tenant's real
 * database (read, never written), the offline provider or a fake OpenAI-compatible server, Stripe
 * and every channel out of reach. What a stranger to the code would check: a passing and a failing
 * case each reported for what they are, the exit code, JUnit a standard parser reads, and nothing
 * left behind in the database or sent anywhere.
 */

const CATALOG = {
  products: [
    { id: 'grinder', name: 'Burr Coffee Grinder', price: '89.00', currency: 'EUR', stock: 3 },
    { id: 'mug', name: 'Stoneware Mug', price: 12.5, currency: 'EUR' },
  ],
};
const FAQ = [{ q: 'When are you open?', a: 'We are open Monday to Friday, 9 to 17.' }];

const CASES = `
cases:
  - name: opening hours
    turns:
      - user: When are you open?
        expect:
          contains: [Monday to Friday]
          not_contains: sorry
          language: en
  - name: grinder price
    turns:
      - user: How much is the coffee grinder?
        expect:
          matches: "/costs €89\\\\.00/"
          no_invented_price: true
          tool: search_catalog
  - name: buys the grinder on WhatsApp
    channel: whatsapp
    turns:
      - user: I want to buy the grinder
        expect:
          checkout: { item: grinder, amount: 8900, currency: eur }
          tool: { name: create_checkout_link, args: { item_id: grinder } }
  - name: returns from the knowledge base
    channel: messenger
    turns:
      - user: Can I send back an unused item for a refund?
        expect:
          contains: 30 days
          sources: Returns policy
  - name: wrong hours expected
    turns:
      - user: When are you open?
        expect:
          contains: Sunday
          handoff: true
`;

const RETURNS = '# Returns policy\n\nUnused items can be sent back within 30 days of delivery for a full refund. Write to us first and we send a prepaid return label.\n';

interface World {
  h: PaymentsHarness;
  app: TestApp;
  shop: FakeShop;
  cwd: string;
  env: Record<string, string>;
  /** Connections made to any channel's API (Graph, Twilio): an eval must make none. */
  channelConnections(): number;
  close(): Promise<void>;
}

/** A served tenant as an operator has it: a connected Stripe account, a catalog copy, a FAQ, a knowledge base. */
async function world(dialect: 'sqlite' | 'pg', extraEnv: Record<string, string> = {}): Promise<World> {
  const shop = await startFakeShop();
  shop.json('/catalog.json', CATALOG);
  const channels = await startCountingListener();
  const channelUrl = `http://127.0.0.1:${channels.port}`;
  const h = await startPayments(dialect, { env: { ZIA_CATALOG_ALLOW_PRIVATE: 'true', META_GRAPH_URL: channelUrl, TWILIO_API_URL: channelUrl } });
  await connectedTenant(h, 'roastery', { catalog_url: `${shop.url}/catalog.json`, locale: 'en', faq: FAQ, lead: { mode: 'intent', ask_whatsapp: false }, currency: 'eur' });
  const tenant = await h.app.services.tenants.get('roastery');
  await h.app.services.catalog.refresh(tenant);
  await h.app.services.knowledge.addFile(tenant, { name: 'returns.md', body: Buffer.from(RETURNS) });
  const cwd = mkdtempSync(path.join(tmpdir(), 'zia-eval-'));
  return {
    h,
    app: h.app,
    shop,
    cwd,
    env: { ...h.app.env, LOG_LEVEL: 'warn', ...extraEnv },
    channelConnections: () => channels.connections(),
    async close() {
      await h.close();
      await shop.close();
      await channels.close();
    },
  };
}

/** Rows of every table but the migrations' own: what an eval must leave exactly as it was. */
async function tableCounts(db: Db): Promise<Record<string, number>> {
  const tables =
    db.dialect === 'pg'
      ? (await db.knex.raw(`select tablename as name from pg_tables where schemaname = current_schema()`)).rows
      : await db.knex.raw(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '%_fts%'`);
  const counts: Record<string, number> = {};
  for (const { name } of tables as Array<{ name: string }>) {
    if (name.startsWith('knex_')) continue;
    const [{ n }] = await db.knex(name).count({ n: '*' });
    counts[name] = Number(n);
  }
  return counts;
}

for (const dialect of dialects()) {
  test(`${dialect}: zia eval on the offline provider reports each case, writes JUnit, exits 1 on a failure, and changes nothing`, async (t) => {
    const w = await world(dialect);
    try {
      writeFileSync(path.join(w.cwd, 'cases.yaml'), CASES);
      const db = w.app.services.db;
      const tenantBefore = await db.knex('tenants').where({ slug: 'roastery' }).first();
      const countsBefore = await tableCounts(db);
      const stripeBefore = w.h.fake.requests.length;
      const catalogBefore = w.shop.requests.length;

      const r = await runBin(['eval', 'roastery', 'cases.yaml', '--json', '--junit', 'results.xml', '--provider', 'offline'], { env: w.env, cwd: w.cwd });
      t.is(r.code, 1, r.stderr);
      const report = JSON.parse(r.stdout);
      t.is(report.provider, 'offline');
      t.is(report.passed, 4);
      t.is(report.failed, 1);
      const byName = Object.fromEntries(report.cases.map((c: any) => [c.name, c]));
      t.true(byName['opening hours'].ok);
      t.true(byName['grinder price'].ok, JSON.stringify(byName['grinder price']));
      t.true(byName['buys the grinder on WhatsApp'].ok, JSON.stringify(byName['buys the grinder on WhatsApp']));
      t.true(byName['returns from the knowledge base'].ok, JSON.stringify(byName['returns from the knowledge base']));
      const wrong = byName['wrong hours expected'];
      t.false(wrong.ok);
      t.deepEqual(
        wrong.failures.map((f: any) => [f.turn, f.expectation]),
        [
          [1, 'contains'],
          [1, 'handoff'],
        ],
      );
      t.regex(wrong.failures[0].detail, /"Sunday" is not in the reply/);
      t.regex(wrong.failures[0].reply, /Monday to Friday/);
      t.deepEqual(report.usage, [], 'the offline provider spends no tokens');

      // JUnit, read by a standard parser.
      const xml = readFileSync(path.join(w.cwd, 'results.xml'), 'utf8');
      t.true(XMLValidator.validate(xml));
      const junit = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml);
      const suite = junit.testsuites.testsuite;
      t.is(Number(suite.tests), 5);
      t.is(Number(suite.failures), 1);
      const failed = suite.testcase.find((c: any) => c.name === 'wrong hours expected');
      t.is(failed.failure.type, 'contains');

      // Nothing written to the real database, nothing sent to Stripe, the catalog not fetched again.
      t.deepEqual(await tableCounts(db), countsBefore);
      t.deepEqual(await db.knex('tenants').where({ slug: 'roastery' }).first(), tenantBefore);
      t.is(w.h.fake.requests.length, stripeBefore, 'checkout sessions were recorded, not created in Stripe');
      t.is(w.shop.requests.length, catalogBefore, 'the stored catalog copy was used');
      t.is(w.channelConnections(), 0, 'no channel API was reached');

      // The table for people, on a non-TTY: one row per case, the failing expectation named.
      const table = await runBin(['eval', 'roastery', 'cases.yaml'], { env: w.env, cwd: w.cwd });
      t.is(table.code, 1);
      t.regex(table.stdout, /wrong hours expected\s+FAIL\s+turn 1: contains: "Sunday" is not in the reply/);
      t.regex(table.stdout, /4 passed, 1 failed/);

      // Only the passing cases: exit 0.
      writeFileSync(path.join(w.cwd, 'good.yaml'), CASES.slice(0, CASES.indexOf('  - name: wrong hours')));
      t.is((await runBin(['eval', 'roastery', 'good.yaml'], { env: w.env, cwd: w.cwd })).code, 0);
    } finally {
      await w.close();
    }
  });

  test(`${dialect}: zia eval tries a settings change without saving it, and --compare lists the cases it changes`, async (t) => {
    const w = await world(dialect);
    try {
      writeFileSync(path.join(w.cwd, 'cases.yaml'), CASES.slice(0, CASES.indexOf('  - name: grinder price')));
      writeFileSync(path.join(w.cwd, 'weekend.json'), JSON.stringify({ faq: [{ q: 'When are you open?', a: 'We are open Saturday and Sunday only.' }] }));
      const db = w.app.services.db;
      const before = await db.knex('tenants').where({ slug: 'roastery' }).first();

      let r = await runBin(['eval', 'roastery', 'cases.yaml', '--settings', 'weekend.json', '--json'], { env: w.env, cwd: w.cwd });
      t.is(r.code, 1, r.stderr);
      t.regex(JSON.parse(r.stdout).cases[0].failures[0].detail, /"Monday to Friday" is not in the reply/);

      r = await runBin(['eval', 'roastery', 'cases.yaml', '--compare', 'weekend.json'], { env: w.env, cwd: w.cwd });
      t.is(r.code, 1, 'the settings being tried fail a case');
      t.regex(r.stdout, /^with weekend\.json:$/m);
      t.regex(r.stdout, /opening hours\s+pass\s+fail/i);
      t.deepEqual(await db.knex('tenants').where({ slug: 'roastery' }).first(), before, 'the real settings are untouched');

      // A settings change that does not validate is refused as `zia tenant update` refuses it.
      writeFileSync(path.join(w.cwd, 'bad.json'), JSON.stringify({ lead: { mode: 'sometimes' } }));
      r = await runBin(['eval', 'roastery', 'cases.yaml', '--settings', 'bad.json'], { env: w.env, cwd: w.cwd });
      t.is(r.code, 2, r.stderr);
      t.regex(r.stderr, /^zia: invalid settings: settings\.lead\.mode/m);
    } finally {
      await w.close();
    }
  });

  test(`${dialect}: zia eval against an OpenAI-compatible server: tool calls, tokens and cost, and --repeat with a model that fails one answer in three`, async (t) => {
    let requests = 0;
    // The model asks for a checkout link, then answers with it; every third conversation it answers badly.
    let turn = 0;
    const fallback = (req: RecordedRequest): Behaviour => {
      requests++;
      const toolAnswered = req.body.messages.some((m: any) => m.role === 'tool');
      if (!toolAnswered) {
        turn++;
        if (turn % 3 === 0) return { kind: 'reply', content: ['Sorry, ', 'we are sold out.'], usage: { prompt: 100, completion: 6 } };
        return { kind: 'reply', toolCalls: [{ name: 'create_checkout_link', arguments: ['{"item_id":', '"grinder"}'] }], usage: { prompt: 120, completion: 12 } };
      }
      return { kind: 'reply', content: ['Here is your link to buy the Burr Coffee Grinder.'], usage: { prompt: 150, completion: 14 } };
    };
    const ai = await new FakeOpenAI({ fallback }).start();
    const w = await world(dialect, { OPENAI_BASE_URL: ai.url, OPENAI_API_KEY: 'test', ZIA_MODEL_PRICES: '{"zia-test-model":{"input":1,"output":2}}' });
    try {
      writeFileSync(
        path.join(w.cwd, 'buy.yaml'),
        `cases:\n  - name: buys\n    turns:\n      - user: I want to buy the grinder\n        expect:\n          tool: { name: create_checkout_link, args: { item_id: grinder } }\n          checkout: { item: grinder, amount: 8900 }\n          not_contains: sold out\n`,
      );
      let r = await runBin(['eval', 'roastery', 'buy.yaml', '--model', 'zia-test-model', '--json', '--repeat', '3', '--concurrency', '1'], { env: w.env, cwd: w.cwd });
      t.is(r.code, 1, 'one play in three failed, and every play must pass by default');
      let report = JSON.parse(r.stdout);
      t.is(report.provider, 'openai');
      t.is(report.model, 'zia-test-model');
      t.is(report.cases[0].passed_runs, 2, JSON.stringify(report.cases[0]));
      t.is(report.cases[0].pass_rate, 2 / 3);
      t.deepEqual(
        report.cases[0].failures.map((f: any) => f.expectation).sort(),
        ['checkout', 'not_contains', 'tool'],
        'the bad play: no tool call, no checkout, and the words it was told not to say',
      );
      t.is(report.usage[0].model, 'zia-test-model');
      t.is(report.usage[0].input_tokens, 2 * (120 + 150) + 100);
      t.is(report.usage[0].output_tokens, 2 * (12 + 14) + 6);
      t.is(report.usage[0].cost_usd, ((2 * 270 + 100) * 1 + (2 * 26 + 6) * 2) / 1e6);
      t.true(ai.requests.every((q) => q.headers.authorization === 'Bearer test' && q.body.model === 'zia-test-model'));

      r = await runBin(['eval', 'roastery', 'buy.yaml', '--model', 'zia-test-model', '--json', '--repeat', '3', '--concurrency', '1', '--min-pass-rate', '0.6'], { env: w.env, cwd: w.cwd });
      t.is(r.code, 0, r.stdout);
      report = JSON.parse(r.stdout);
      t.true(report.cases[0].ok);
      t.true(requests >= 10);
    } finally {
      await w.close();
      await ai.close();
    }
  });

  test(`${dialect}: zia eval record turns real conversations into cases without personal data, and zia eval runs them green`, async (t) => {
    const w = await world(dialect);
    try {
      const say = async (message: string, conversation_id?: string) => {
        const res = await fetch(`${w.app.url}/v1/chat?tenant=roastery`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message, conversation_id, visitor_id: 'visitor-7' }) });
        t.is(res.status, 200);
        return (await res.json()) as { reply: string; conversation_id: string };
      };
      const first = await say('How much is the coffee grinder?');
      await say('When are you open?', first.conversation_id);
      await say('Please contact me', first.conversation_id);
      await say('Ada Lovelace', first.conversation_id);
      await say('ada.lovelace@example.org', first.conversation_id);
      const lead = await w.app.services.db.knex('leads').where({ email: 'ada.lovelace@example.org' }).first();
      t.truthy(lead, 'the lead flow captured her');

      let r = await runBin(['eval', 'record', 'roastery', first.conversation_id, '-o', 'recorded.yaml'], { env: w.env, cwd: w.cwd });
      t.is(r.code, 0, r.stderr);
      const text = readFileSync(path.join(w.cwd, 'recorded.yaml'), 'utf8');
      t.notRegex(text, /ada|lovelace/i, 'no name or email of hers');
      t.regex(text, /person1@example\.com/);
      const cases = parseYaml(text).cases;
      t.is(cases.length, 1);
      t.is(cases[0].turns.length, 5);
      t.deepEqual([...cases[0].turns[0].expect.contains].sort(), ['Burr Coffee Grinder', '€89.00']);

      // A file that exists is not replaced by habit.
      r = await runBin(['eval', 'record', 'roastery', first.conversation_id, '-o', 'recorded.yaml'], { env: w.env, cwd: w.cwd });
      t.is(r.code, 2);
      t.regex(r.stderr, /recorded\.yaml exists; give --force/);

      r = await runBin(['eval', 'roastery', 'recorded.yaml', '--json'], { env: w.env, cwd: w.cwd });
      t.is(r.code, 0, r.stdout);
      t.true(JSON.parse(r.stdout).cases[0].ok);

      // Another tenant's conversation is as unknown as a made-up id.
      await connectedTenant(w.h, 'other', { locale: 'en' });
      r = await runBin(['eval', 'record', 'other', first.conversation_id, '-o', '-'], { env: w.env, cwd: w.cwd });
      t.is(r.code, 1);
      t.regex(r.stderr, /conversation not found/);
      t.is(r.stdout, '');
    } finally {
      await w.close();
    }
  });

  test(`${dialect}: a case file with mistakes is refused with every problem and its line, exit 2`, async (t) => {
    const w = await world(dialect);
    try {
      writeFileSync(path.join(w.cwd, 'bad.yaml'), 'cases:\n  - name: x\n    turns:\n      - user: hi\n        expect:\n          contians: hello\n          matches: "(unclosed"\n');
      const r = await runBin(['eval', 'roastery', 'bad.yaml'], { env: w.env, cwd: w.cwd });
      t.is(r.code, 2);
      t.regex(r.stderr, /bad\.yaml:6: cases\[0\]\.turns\[0\]\.expect/);
      t.regex(r.stderr, /bad\.yaml:7: cases\[0\]\.turns\[0\]\.expect\.matches: invalid regular expression/);
      t.is(r.stdout, '');
      t.is((await runBin(['eval', 'nobody', 'bad.yaml'], { env: w.env, cwd: w.cwd })).code, 2, 'the file is checked first');
      writeFileSync(path.join(w.cwd, 'ok.yaml'), 'cases:\n  - name: x\n    turns:\n      - user: hi\n');
      const missing = await runBin(['eval', 'nobody', 'ok.yaml'], { env: w.env, cwd: w.cwd });
      t.is(missing.code, 1);
      t.regex(missing.stderr, /^zia: tenant 'nobody' not found/m);
      const flags = await runBin(['eval', 'roastery', 'ok.yaml', '--repeat', '0'], { env: w.env, cwd: w.cwd });
      t.is(flags.code, 2);
      t.regex(flags.stderr, /--repeat must be a whole number from 1 to 100/);
    } finally {
      await w.close();
    }
  });
}
