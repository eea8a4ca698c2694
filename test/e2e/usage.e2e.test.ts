import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { loadConfig } from '../../src/config.js';
import { createServices, type Services } from '../../src/container.js';
import { createLogger } from '../../src/logger.js';
import type { Channel } from '../../src/features/chat/chat.types.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { LogCapture, startApp, type TestApp } from '../helpers/app.js';
import { runBin } from '../helpers/cli.js';
import { dialects, migratedDb } from '../helpers/db.js';
import { migrateLatest, migrateRollback } from '../../src/db/migrate.js';
import { waitFor } from '../helpers/wait.js';

/**
 * (Serial: each test starts two processes' worth of pools and migrates a fresh database.)
 *
 * Metering and caps as a fleet sees them: two zia processes (two composition roots) on one database,
 * a model server whose token counts are known, and the counters, alerts and the switch to the offline
 * assistant checked exactly.
 */

const PROMPT = 120;
const COMPLETION = 30;
const PRICES = JSON.stringify({ 'meter-model': { input: 2, output: 10 } });
const FAQ = [{ q: 'When are you open?', a: 'We are open Monday to Friday, 9 to 17.' }];

interface Fleet {
  app: TestApp;
  second: Services;
  secondLogs: LogCapture;
  ai: FakeOpenAI;
  close(): Promise<void>;
}

async function fleet(dialect: 'sqlite' | 'pg'): Promise<Fleet> {
  const ai = await new FakeOpenAI({ fallback: () => ({ kind: 'reply', content: ['From the model.'], usage: { prompt: PROMPT, completion: COMPLETION } }) }).start();
  const env = { OPENAI_BASE_URL: ai.url, OPENAI_API_KEY: 'test', OPENAI_MODEL: 'meter-model', ZIA_MODEL_PRICES: PRICES, ZIA_CATALOG_ALLOW_PRIVATE: 'true' };
  const app = await startApp(dialect, env);
  // A second process on the same database: its own caches, provider and logger.
  const secondLogs = new LogCapture();
  const second = createServices(loadConfig(app.env, '/nonexistent-cwd-for-tests'), createLogger('info', secondLogs));
  return {
    app,
    second,
    secondLogs,
    ai,
    async close() {
      await second.close();
      await app.close();
      await ai.close();
    },
  };
}

function turn(s: Services, slug: string, visitor: string, text: string, channel: Channel = 'web') {
  return s.tenants.get(slug).then((tenant) => s.chat.runTurn({ tenant, channel, externalUserId: visitor, text, newVisitor: false }));
}

/** Runs fns `width` at a time. */
async function inBatches(fns: Array<() => Promise<unknown>>, width: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < fns.length) await fns[next++]!();
  }));
}

for (const dialect of dialects()) {
  test.serial(`${dialect}: usage adds up exactly under concurrent turns in two processes, and zia usage / GET /v1/admin/usage report it`, async (t) => {
    const f = await fleet(dialect);
    try {
      await f.app.services.tenants.create({ slug: 'shop', name: 'Shop', settings: { lead: { mode: 'off' } } });
      await f.app.services.tenants.create({ slug: 'other', name: 'Other', settings: { lead: { mode: 'off' } } });
      const visitors = Array.from({ length: 24 }, (_, i) => `v-${i}`);
      // Each visitor writes twice; the two processes take turns serving them, eight turns at once.
      const turns = visitors.flatMap((v, i) => [() => turn(i % 2 ? f.second : f.app.services, 'shop', v, 'Hello there, a question').then(() => turn(i % 2 ? f.app.services : f.second, 'shop', v, 'And another one'))]);
      await inBatches(turns, 8);
      await turn(f.app.services, 'other', 'o-1', 'Hi from the other shop');

      const n = visitors.length;
      const usage = await f.app.services.usage.month(new Date().toISOString().slice(0, 7));
      const shop = usage.find((u) => u.tenant === 'shop')!;
      t.deepEqual(shop.conversations, { total: n, by_channel: { web: n } });
      t.deepEqual(shop.messages_in, { total: 2 * n, by_channel: { web: 2 * n } });
      t.deepEqual(shop.messages_out, { total: 2 * n, by_channel: { web: 2 * n } });
      t.deepEqual(shop.models, [{ model: 'meter-model', requests: 2 * n, tokens_in: 2 * n * PROMPT, tokens_out: 2 * n * COMPLETION, cost_usd: (2 * n * (PROMPT * 2 + COMPLETION * 10)) / 1e6 }]);
      t.is(f.ai.requests.length, 2 * n + 1);
      t.is(usage.find((u) => u.tenant === 'other')!.messages_in.total, 1);

      // The CLI, as an invoicing script reads it.
      const cwd = mkdtempSync(path.join(tmpdir(), 'zia-usage-'));
      const env = { ...f.app.env, LOG_LEVEL: 'warn' };
      const csv = await runBin(['usage', '--format', 'csv'], { env, cwd });
      t.is(csv.code, 0, csv.stderr);
      const rows = parseCsv(csv.stdout, { columns: true }) as Array<Record<string, string>>;
      const value = (tenant: string, metric: string, dimension: string) => rows.find((r) => r.tenant === tenant && r.metric === metric && r.dimension === dimension)?.value;
      t.is(value('shop', 'messages_in', 'web'), String(2 * n));
      t.is(value('shop', 'tokens_in', 'meter-model'), String(2 * n * PROMPT));
      t.is(Number(value('shop', 'model_cost_usd', 'meter-model')), (2 * n * (PROMPT * 2 + COMPLETION * 10)) / 1e6);
      t.is(value('other', 'messages_in', 'web'), '1');
      const json = await runBin(['usage', 'shop', '--format', 'json'], { env, cwd });
      t.is(JSON.parse(json.stdout).tenants.length, 1);
      const table = await runBin(['usage'], { env, cwd });
      t.regex(table.stdout, new RegExp(`^shop\\s+\\d{4}-\\d{2}\\s+${n}\\s+${2 * n}\\s+${2 * n}\\s+${2 * n}\\s`, 'm'));
      t.is((await runBin(['usage', '--month', '2026-13'], { env, cwd })).code, 2);

      // A key scoped to the other tenant sees only its own month.
      const key = (await (await f.app.admin('/v1/admin/tenants/other/keys', { method: 'POST', body: JSON.stringify({ name: 'billing' }) })).json()) as { key: string };
      const scoped = (q: string) => fetch(`${f.app.url}/v1/admin/usage${q}`, { headers: { 'x-api-key': key.key } });
      const own = (await (await scoped('')).json()) as any;
      t.deepEqual(own.tenants.map((u: any) => u.tenant), ['other']);
      t.is((await scoped('?tenant=shop')).status, 404);
      const all = (await (await f.app.admin('/v1/admin/usage?format=csv')).text()).split('\r\n');
      t.is(all[0], 'month,tenant,metric,dimension,value');
    } finally {
      await f.close();
    }
  });

  test.serial(`${dialect}: a message cap crossed mid-burst by two processes switches to the offline assistant once and announces 80% and 100% once each`, async (t) => {
    const f = await fleet(dialect);
    try {
      await f.app.services.tenants.create({
        slug: 'capped',
        name: 'Capped',
        settings: { lead: { mode: 'off' }, faq: FAQ, limits: { monthly_messages: 10 }, outbound_webhook_url: 'http://127.0.0.1:9/hook', outbound_webhook_secret: 'whsec-test-0123456789' },
      });
      const burst = Array.from({ length: 24 }, (_, i) => () => turn(i % 2 ? f.second : f.app.services, 'capped', `c-${i}`, 'When are you open?'));
      await inBatches(burst, 6);
      const modelTurns = f.ai.requests.length;
      t.true(modelTurns <= 10, `the model answered ${modelTurns} messages of a cap of 10`);
      t.true(modelTurns >= 1);

      // Every message after the burst: the offline assistant, from the FAQ; the model is not asked.
      const after = await turn(f.second, 'capped', 'late', 'When are you open?');
      t.is(after.reply, FAQ[0]!.a);
      t.is(f.ai.requests.length, modelTurns);

      const tenant = await f.app.services.tenants.get('capped');
      const events = await f.app.services.events.list(tenant.id, { limit: 200 });
      const alerts = events.filter((e) => e.type === 'usage_cap_warning' || e.type === 'usage_cap_reached');
      t.deepEqual(alerts.map((e) => [e.type, e.data.cap, e.data.percent]).sort(), [
        ['usage_cap_reached', 'monthly_messages', 100],
        ['usage_cap_warning', 'monthly_messages', 80],
      ]);
      // Each became one outbound webhook delivery to the tenant's own system (queued as the event is announced).
      const outbound = async () => {
        const rows = await f.app.services.db.knex('webhook_deliveries').where({ provider: 'outbound', tenant_id: tenant.id });
        return rows.map((d: any) => (typeof d.payload === 'string' ? JSON.parse(d.payload) : d.payload).type).sort();
      };
      await waitFor('two outbound deliveries', async () => (await outbound()).length >= 2);
      t.deepEqual(await outbound(), ['usage.cap_reached', 'usage.cap_warning']);
      const logged = [...f.app.logs.lines, ...f.secondLogs.lines].filter((l) => l.includes('usage cap reached'));
      t.is(logged.length, 1);

      // The operator's own message, when set, answers instead.
      await f.app.services.tenants.update('capped', { settings: { limits: { monthly_messages: 10, over_cap_message: 'Our assistant is resting until next month; write to hello@example.com.' } } });
      await new Promise((r) => setTimeout(r, 5_100)); // the other process's tenant cache (5 s)
      const told = await turn(f.second, 'capped', 'later', 'When are you open?');
      t.is(told.reply, 'Our assistant is resting until next month; write to hello@example.com.');
    } finally {
      await f.close();
    }
  });

  test.serial(`${dialect}: a model cost cap stops the model once the month's estimate reaches it`, async (t) => {
    const f = await fleet(dialect);
    try {
      // Each model turn costs (120 × 2 + 30 × 10) / 10⁶ = $0.00054.
      await f.app.services.tenants.create({ slug: 'thrifty', name: 'Thrifty', settings: { lead: { mode: 'off' }, faq: FAQ, limits: { monthly_model_cost: 0.0015 } } });
      const replies = [];
      for (let i = 0; i < 5; i++) replies.push((await turn(i % 2 ? f.second : f.app.services, 'thrifty', 'one-customer', 'When are you open?')).reply);
      t.deepEqual(replies, ['From the model.', 'From the model.', 'From the model.', FAQ[0]!.a, FAQ[0]!.a]);
      const [u] = await f.app.services.usage.month(new Date().toISOString().slice(0, 7), await f.app.services.tenants.get('thrifty'));
      t.deepEqual(u!.caps, [{ cap: 'monthly_model_cost', limit: 0.0015, used: 0.00162, share: 0.00162 / 0.0015 }]);
    } finally {
      await f.close();
    }
  });
}

for (const dialect of dialects()) {
  test.serial(`${dialect}: the events recorded before metering existed are counted once, by the migration`, async (t) => {
    const { db, cleanup } = await migratedDb(dialect);
    try {
      while (await db.knex.schema.hasTable('usage_counters')) await migrateRollback(db, 'step');
      await db.knex('tenants').insert({ id: '01JTENANT00000000000000000', slug: 'old', name: 'Old', settings: dialect === 'pg' ? {} : '{}', created_at: '2026-11-30T10:00:00.000Z', updated_at: '2026-11-30T10:00:00.000Z' });
      const event = (id: string, type: string, data: Record<string, unknown>, at: string) => ({ id, tenant_id: '01JTENANT00000000000000000', type, conversation_id: null, data: JSON.stringify(data), created_at: at });
      await db.knex('events').insert([
        event('01JEVENT000000000000000001', 'conversation_started', { channel: 'whatsapp' }, '2026-11-30T10:00:00.000Z'),
        event('01JEVENT000000000000000002', 'message_received', { channel: 'whatsapp' }, '2026-11-30T10:00:01.000Z'),
        event('01JEVENT000000000000000003', 'message_received', { channel: 'whatsapp' }, '2026-12-01T09:00:00.000Z'),
        event('01JEVENT000000000000000004', 'payment_completed', { amount: 8900, currency: 'eur' }, '2026-12-01T09:05:00.000Z'),
        event('01JEVENT000000000000000005', 'lead_captured', { channel: 'whatsapp' }, '2026-12-01T09:06:00.000Z'),
        event('01JEVENT000000000000000006', 'reply_sent', { channel: 'whatsapp', template: 'HX00', category: 'utility' }, '2026-12-01T09:07:00.000Z'),
      ]);
      await migrateLatest(db);
      const rows = await db.knex('usage_counters').select('day', 'metric', 'dimension', 'value').orderBy(['day', 'metric']);
      t.deepEqual(
        rows.map((r: any) => [r.day, r.metric, r.dimension, Number(r.value)]),
        [
          ['2026-11-30', 'conversations', 'whatsapp', 1],
          ['2026-11-30', 'messages_in', 'whatsapp', 1],
          ['2026-12-01', 'messages_in', 'whatsapp', 1],
          ['2026-12-01', 'messages_out', 'whatsapp', 1],
          ['2026-12-01', 'paid_amount', 'eur', 8900],
          ['2026-12-01', 'payments', 'eur', 1],
          ['2026-12-01', 'template_sends', 'utility', 1],
        ],
      );
    } finally {
      await cleanup();
    }
  });
}
