import type { Db } from '../../db/create-db.js';
import { readCount, toIso } from '../../db/dialect.js';
import { CHANNELS, type Channel } from '../chat/chat.types.js';

export interface Period {
  from: string;
  to: string;
}

/**
 * One figure for the period and the previous period of the same length. `change` is relative for
 * counts and amounts (0.5 = 50% more; null when the previous figure is 0) and the difference for
 * shares (0.1 = ten percentage points; null when either share is null).
 */
export interface Metric {
  value: number | null;
  previous: number | null;
  change: number | null;
}

/** What became of the conversations started in a period, judged by what happened before it ended. */
export interface ChannelOutcomes {
  conversations: Metric;
  /** Share with no handoff requested, no operator reply and no operator message. */
  resolved_by_bot: Metric;
  handoff_rate: Metric;
  /** Share with a new lead captured (lead_captured; a resubmitted known email is not a new lead). */
  lead_capture_rate: Metric;
  checkout_conversations: Metric;
  /** Of the conversations with a checkout, those with a payment_completed. */
  paid_conversations: Metric;
  checkout_conversion: Metric;
  /** Orders marked paid in the period, in minor units, per lower-case ISO 4217 currency. */
  paid_revenue: Record<string, Metric>;
}

export interface Outcomes {
  period: Period;
  previous: Period;
  total: ChannelOutcomes;
  by_channel: Record<Channel, ChannelOutcomes>;
}

const COUNT_KEYS = ['conversations', 'bot_resolved', 'handoff', 'lead', 'checkout', 'paid'] as const;
type Counts = Record<(typeof COUNT_KEYS)[number], number>;

/** A period's raw figures per channel, and for every channel together. */
interface Tally {
  counts: Counts;
  revenue: Record<string, number>;
}

const OUTCOME_EVENTS = ['handoff_requested', 'operator_reply', 'lead_captured', 'checkout_created', 'payment_completed'];

/** Outcomes of a tenant's conversations in [from, to), beside those of the period just before it. */
export async function outcomes(db: Db, tenantId: string, period: Period): Promise<Outcomes> {
  const length = Date.parse(period.to) - Date.parse(period.from);
  const previous = { from: toIso(Date.parse(period.from) - length), to: period.from };
  const [now, before] = await Promise.all([tally(db, tenantId, period), tally(db, tenantId, previous)]);
  const compare = (key: Channel | 'total') => compareTallies(now.get(key) ?? emptyTally(), before.get(key) ?? emptyTally());
  return {
    period,
    previous,
    total: compare('total'),
    by_channel: Object.fromEntries(CHANNELS.map((c) => [c, compare(c)])) as Record<Channel, ChannelOutcomes>,
  };
}

async function tally(db: Db, tenantId: string, p: Period): Promise<Map<string, Tally>> {
  const [counts, revenue] = await Promise.all([conversationCounts(db, tenantId, p), paidRevenue(db, tenantId, p)]);
  const tallies = new Map<string, Tally>();
  const of = (key: string) => tallies.get(key) ?? tallies.set(key, emptyTally()).get(key)!;
  for (const [channel, c] of counts) {
    of(channel).counts = c;
    for (const k of COUNT_KEYS) of('total').counts[k] += c[k];
  }
  for (const r of revenue) {
    // Checkouts without a conversation (links made from the CLI or the API) belong to no channel.
    const keys = r.channel === null ? ['total'] : [r.channel, 'total'];
    for (const key of keys) of(key).revenue[r.currency] = (of(key).revenue[r.currency] ?? 0) + r.amount;
  }
  return tallies;
}

/**
 * Conversations started in the period, per channel, flagged by the outcome events recorded in them
 * before the period ended. The events are read on (tenant_id, type, created_at), the operator
 * messages on (tenant_id, conversation_id, created_at).
 */
async function conversationCounts(db: Db, tenantId: string, p: Period): Promise<Map<string, Counts>> {
  const k = db.knex;
  const flag = (types: string[]) => k.raw(`max(case when type in (${types.map(() => '?').join(', ')}) then 1 else 0 end)`, types);
  const flags = k('events')
    .where('tenant_id', tenantId)
    .whereIn('type', OUTCOME_EVENTS)
    .andWhere('created_at', '>=', p.from)
    .andWhere('created_at', '<', p.to)
    .whereNotNull('conversation_id')
    .groupBy('conversation_id')
    .select('conversation_id', {
      human: flag(['handoff_requested', 'operator_reply']),
      handoff: flag(['handoff_requested']),
      lead: flag(['lead_captured']),
      checkout: flag(['checkout_created']),
      paid: flag(['payment_completed']),
    });
  const operatorMessage = `exists (select 1 from messages m where m.tenant_id = c.tenant_id and m.conversation_id = c.id and m.role = 'operator' and m.created_at >= ? and m.created_at < ?)`;
  const rows: Array<Record<string, unknown>> = await k('conversations as c')
    .leftJoin(flags.as('f'), 'f.conversation_id', 'c.id')
    .where('c.tenant_id', tenantId)
    .andWhere('c.created_at', '>=', p.from)
    .andWhere('c.created_at', '<', p.to)
    .groupBy('c.channel')
    .select('c.channel', {
      conversations: k.raw('count(*)'),
      // A missing flag row is null, and `null or false` is not true: no events means the bot alone.
      bot_resolved: k.raw(`sum(case when f.human = 1 or ${operatorMessage} then 0 else 1 end)`, [p.from, p.to]),
      handoff: k.raw('sum(case when f.handoff = 1 then 1 else 0 end)'),
      lead: k.raw('sum(case when f.lead = 1 then 1 else 0 end)'),
      checkout: k.raw('sum(case when f.checkout = 1 then 1 else 0 end)'),
      paid: k.raw('sum(case when f.checkout = 1 and f.paid = 1 then 1 else 0 end)'),
    });
  return new Map(rows.map((r) => [String(r.channel), Object.fromEntries(COUNT_KEYS.map((key) => [key, readCount(r[key])])) as Counts]));
}

/** Orders paid in the period (the orders table is the one source: amount and currency as charged). */
async function paidRevenue(db: Db, tenantId: string, p: Period): Promise<Array<{ channel: string | null; currency: string; amount: number }>> {
  const k = db.knex;
  const rows: Array<{ channel: string | null; currency: string; amount: unknown }> = await k('orders as o')
    .leftJoin('conversations as c', (j) => j.on('c.id', 'o.conversation_id').andOn('c.tenant_id', 'o.tenant_id'))
    .where('o.tenant_id', tenantId)
    .andWhere('o.status', 'paid')
    .andWhere('o.paid_at', '>=', p.from)
    .andWhere('o.paid_at', '<', p.to)
    .groupByRaw('c.channel, lower(o.currency)')
    .select('c.channel', { currency: k.raw('lower(o.currency)'), amount: k.raw('sum(o.amount)') });
  return rows.map((r) => ({ channel: r.channel ?? null, currency: r.currency, amount: readCount(r.amount) }));
}

function emptyTally(): Tally {
  return { counts: Object.fromEntries(COUNT_KEYS.map((key) => [key, 0])) as Counts, revenue: {} };
}

function compareTallies(now: Tally, before: Tally): ChannelOutcomes {
  const a = now.counts;
  const b = before.counts;
  const currencies = [...new Set([...Object.keys(now.revenue), ...Object.keys(before.revenue)])].sort();
  return {
    conversations: countMetric(a.conversations, b.conversations),
    resolved_by_bot: shareMetric(share(a.bot_resolved, a.conversations), share(b.bot_resolved, b.conversations)),
    handoff_rate: shareMetric(share(a.handoff, a.conversations), share(b.handoff, b.conversations)),
    lead_capture_rate: shareMetric(share(a.lead, a.conversations), share(b.lead, b.conversations)),
    checkout_conversations: countMetric(a.checkout, b.checkout),
    paid_conversations: countMetric(a.paid, b.paid),
    checkout_conversion: shareMetric(share(a.paid, a.checkout), share(b.paid, b.checkout)),
    paid_revenue: Object.fromEntries(currencies.map((cur) => [cur, countMetric(now.revenue[cur] ?? 0, before.revenue[cur] ?? 0)])),
  };
}

/** To three decimals, like the funnels' rates. */
function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

function share(n: number, of: number): number | null {
  return of === 0 ? null : round(n / of);
}

function countMetric(value: number, previous: number): Metric {
  return { value, previous, change: previous === 0 ? null : round((value - previous) / previous) };
}

/** The change is taken between the rounded shares, so the three figures shown always agree. */
function shareMetric(value: number | null, previous: number | null): Metric {
  return { value, previous, change: value === null || previous === null ? null : round(value - previous) };
}
