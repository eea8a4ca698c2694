import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApp, type TestApp } from '../helpers/app.js';
import { runBin } from '../helpers/cli.js';
import { dialects } from '../helpers/db.js';
import { newId } from '../../src/db/dialect.js';

/** Ten days in November, against the ten days before them. */
const FROM = '2026-11-01T00:00:00.000Z';
const TO = '2026-11-11T00:00:00.000Z';
const PREVIOUS = { from: '2026-10-22T00:00:00.000Z', to: FROM };

const at = (day: string) => `2026-${day}:00.000Z`;

/** Writes a known history straight into the tables: conversations, their events and messages, orders. */
class History {
  constructor(
    private readonly app: TestApp,
    private readonly tenantId: string,
  ) {}

  private get knex() {
    return this.app.services.db.knex;
  }

  async conversation(channel: string, startedAt: string, events: Array<[type: string, at: string]> = []): Promise<string> {
    const id = newId();
    await this.knex('conversations').insert({ id, tenant_id: this.tenantId, channel, external_user_id: id, created_at: startedAt, updated_at: startedAt });
    for (const [type, when] of events) await this.event(type, id, when);
    return id;
  }

  async event(type: string, conversationId: string | null, when: string): Promise<void> {
    await this.knex('events').insert({ id: newId(), tenant_id: this.tenantId, type, conversation_id: conversationId, data: '{}', created_at: when });
  }

  async operatorMessage(conversationId: string, channel: string, when: string): Promise<void> {
    await this.knex('messages').insert({ id: newId(), tenant_id: this.tenantId, conversation_id: conversationId, channel, role: 'operator', text: 'A person here.', created_at: when, updated_at: when });
  }

  async order(conversationId: string | null, amount: number, currency: string, status: string, paidAt: string | null, createdAt = paidAt ?? at('11-01T00:00')): Promise<void> {
    await this.knex('orders').insert({
      id: newId(),
      tenant_id: this.tenantId,
      conversation_id: conversationId,
      kind: 'item',
      ref: 'sku',
      amount,
      currency,
      status,
      paid_at: paidAt,
      created_at: createdAt,
      updated_at: paidAt ?? createdAt,
    });
  }
}

async function seed(app: TestApp) {
  const alpha = await app.services.tenants.create({ slug: 'alpha', name: 'Alpha' });
  const beta = await app.services.tenants.create({ slug: 'beta', name: 'Beta' });
  const h = new History(app, alpha.id);

  // This period, web: 5 conversations.
  const w1 = await h.conversation('web', at('11-02T10:00'), [['lead_captured', at('11-02T10:05')], ['checkout_created', at('11-02T10:06')], ['payment_completed', at('11-03T09:00')]]);
  await h.order(w1, 2500, 'eur', 'paid', at('11-03T09:00'));
  await h.order(w1, 1000, 'eur', 'open', null);
  const w2 = await h.conversation('web', at('11-03T10:00'), [['handoff_requested', at('11-03T10:01')]]);
  await h.operatorMessage(w2, 'web', at('11-04T08:00'));
  const w3 = await h.conversation('web', at('11-04T10:00'));
  await h.operatorMessage(w3, 'web', at('11-04T10:30')); // a person's message with no event still counts
  const w4 = await h.conversation('web', at('11-05T10:00'), [['checkout_created', at('11-05T10:02')], ['lead_resubmitted', at('11-05T10:03')]]);
  await h.order(w4, 3000, 'eur', 'expired', null, at('11-05T10:02'));
  // Started in the period; what happened after it ended does not count.
  await h.conversation('web', at('11-10T23:00'), [['handoff_requested', at('11-11T01:00')], ['lead_captured', at('11-12T00:00')]]);

  // This period, WhatsApp: 2 conversations.
  await h.conversation('whatsapp', at('11-06T10:00'), [['operator_reply', at('11-06T11:00')]]);
  const a2 = await h.conversation('whatsapp', at('11-07T10:00'), [['lead_captured', at('11-07T10:01')], ['checkout_created', at('11-07T10:02')], ['payment_completed', at('11-07T10:30')]]);
  await h.order(a2, 4000, 'EUR', 'paid', at('11-07T10:30'));
  // A checkout link made outside any conversation: in the total, in no channel.
  await h.order(null, 700, 'eur', 'paid', at('11-05T12:00'));

  // The previous period, web: 2 conversations; none on WhatsApp.
  const p1 = await h.conversation('web', at('10-25T10:00'), [['lead_captured', at('10-25T10:01')], ['checkout_created', at('10-25T10:02')], ['payment_completed', at('11-01T10:00')]]);
  await h.order(p1, 1999, 'usd', 'paid', at('11-01T10:00'), at('10-25T10:02')); // paid in this period
  const p2 = await h.conversation('web', at('10-30T10:00'), [['handoff_requested', at('10-30T10:01')], ['checkout_created', at('10-30T10:02')], ['payment_completed', at('10-31T09:00')]]);
  await h.order(p2, 1000, 'eur', 'paid', at('10-31T09:00'));

  // Before both periods: nowhere.
  const old = await h.conversation('web', at('10-01T10:00'), [['handoff_requested', at('10-23T10:00')]]);
  await h.order(old, 5000, 'eur', 'paid', at('10-01T11:00'));

  // Another tenant, busy in the same days: none of it may reach alpha's figures.
  const b = new History(app, beta.id);
  const b1 = await b.conversation('web', at('11-02T10:00'), [['lead_captured', at('11-02T10:01')], ['checkout_created', at('11-02T10:02')], ['payment_completed', at('11-02T10:03')]]);
  await b.order(b1, 99_999, 'eur', 'paid', at('11-02T10:03'));
  await b.conversation('instagram', at('11-03T10:00'), [['handoff_requested', at('11-03T10:01')]]);
  await b.conversation('web', at('10-24T10:00'));
  return { alpha, beta };
}

const m = (value: number | null, previous: number | null, change: number | null) => ({ value, previous, change });

const EMPTY = {
  conversations: m(0, 0, null),
  resolved_by_bot: m(null, null, null),
  handoff_rate: m(null, null, null),
  lead_capture_rate: m(null, null, null),
  checkout_conversations: m(0, 0, null),
  paid_conversations: m(0, 0, null),
  checkout_conversion: m(null, null, null),
  paid_revenue: {},
};

const ALPHA = {
  period: { from: FROM, to: TO },
  previous: PREVIOUS,
  total: {
    conversations: m(7, 2, 2.5),
    resolved_by_bot: m(0.571, 0.5, 0.071),
    handoff_rate: m(0.143, 0.5, -0.357),
    lead_capture_rate: m(0.286, 0.5, -0.214),
    checkout_conversations: m(3, 2, 0.5),
    paid_conversations: m(2, 1, 1),
    checkout_conversion: m(0.667, 0.5, 0.167),
    paid_revenue: { eur: m(7200, 1000, 6.2), usd: m(1999, 0, null) },
  },
  by_channel: {
    web: {
      conversations: m(5, 2, 1.5),
      resolved_by_bot: m(0.6, 0.5, 0.1),
      handoff_rate: m(0.2, 0.5, -0.3),
      lead_capture_rate: m(0.2, 0.5, -0.3),
      checkout_conversations: m(2, 2, 0),
      paid_conversations: m(1, 1, 0),
      checkout_conversion: m(0.5, 0.5, 0),
      paid_revenue: { eur: m(2500, 1000, 1.5), usd: m(1999, 0, null) },
    },
    messenger: EMPTY,
    instagram: EMPTY,
    whatsapp: {
      conversations: m(2, 0, null),
      resolved_by_bot: m(0.5, null, null),
      handoff_rate: m(0, null, null),
      lead_capture_rate: m(0.5, null, null),
      checkout_conversations: m(1, 0, null),
      paid_conversations: m(1, 0, null),
      checkout_conversion: m(1, null, null),
      paid_revenue: { eur: m(4000, 0, null) },
    },
    fb_comment: EMPTY,
    ig_comment: EMPTY,
  },
};

const query = `from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}`;

for (const dialect of dialects()) {
  test(`${dialect}: analytics outcomes per channel and in total, against the previous period, for the key's tenant only`, async (t) => {
    const app = await startApp(dialect);
    try {
      await seed(app);
      const res = await app.admin(`/v1/admin/analytics?tenant=alpha&${query}`);
      t.is(res.status, 200);
      const body = (await res.json()) as any;
      t.deepEqual(body.outcomes, ALPHA);
      t.deepEqual(body.handoff.conversations, { total: 7, bot_only: 5, with_human: 2 }, 'the existing figures are kept as they were');

      const created = (await (await app.admin('/v1/admin/tenants/beta/keys', { method: 'POST', body: JSON.stringify({ name: 'beta-crm' }) })).json()) as any;
      const withKey = (p: string) => fetch(`${app.url}${p}`, { headers: { 'x-api-key': created.key } });
      const beta = (await (await withKey(`/v1/admin/analytics?${query}`)).json()) as any;
      t.deepEqual(beta.outcomes.total, {
        conversations: m(2, 1, 1),
        resolved_by_bot: m(0.5, 1, -0.5),
        handoff_rate: m(0.5, 0, 0.5),
        lead_capture_rate: m(0.5, 0, 0.5),
        checkout_conversations: m(1, 0, null),
        paid_conversations: m(1, 0, null),
        checkout_conversion: m(1, null, null),
        paid_revenue: { eur: m(99_999, 0, null) },
      });
      t.deepEqual(beta.outcomes.by_channel.whatsapp, EMPTY);
      const denied = await withKey(`/v1/admin/analytics?tenant=alpha&${query}`);
      t.is(denied.status, 404);
      t.false((await denied.text()).includes('7200'));
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: zia stats prints the outcomes table and gives the same object with --json`, async (t) => {
    const app = await startApp(dialect);
    try {
      await seed(app);
      const cwd = mkdtempSync(path.join(tmpdir(), 'zia-outcomes-'));
      const json = await runBin(['stats', 'alpha', '--from', FROM, '--to', TO, '--json'], { env: app.env, cwd });
      t.is(json.code, 0, json.stderr);
      t.deepEqual(JSON.parse(json.stdout).outcomes, ALPHA);

      const human = await runBin(['stats', 'alpha', '--from', FROM, '--to', TO], { env: app.env, cwd });
      t.is(human.code, 0, human.stderr);
      t.regex(human.stdout, /outcomes \(previous period 2026-10-22 → 2026-11-01 in parentheses\)/);
      t.regex(human.stdout, /channel\s+conversations\s+by the bot\s+handoff\s+lead\s+checkout → paid\s+revenue/);
      t.regex(human.stdout, /\nweb\s+5 \(2\)\s+60% \(50%\)\s+20% \(50%\)\s+20% \(50%\)\s+1\/2 50% \(1\/2 50%\)\s+€25\.00 \(€10\.00\), \$19\.99 \(\$0\.00\)\n/);
      t.regex(human.stdout, /\nwhatsapp\s+2 \(0\)\s+50% \(–\)\s+0% \(–\)\s+50% \(–\)\s+1\/1 100% \(0\/0 –\)\s+€40\.00 \(€0\.00\)\n/);
      t.regex(human.stdout, /\ntotal\s+7 \(2\)\s+57\.1% \(50%\)\s+14\.3% \(50%\)\s+28\.6% \(50%\)\s+2\/3 66\.7% \(1\/2 50%\)\s+€72\.00 \(€10\.00\), \$19\.99 \(\$0\.00\)\n/);
      t.notRegex(human.stdout, /\n(messenger|instagram|fb_comment|ig_comment)\s/, 'channels with nothing in either period are left out');
    } finally {
      await app.close();
    }
  });
}
