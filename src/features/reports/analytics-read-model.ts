import type { Db } from '../../db/create-db.js';
import { readCount, readTime } from '../../db/dialect.js';
import { timeBucket, type Interval } from '../../db/sql.js';
import { outcomes, type Outcomes } from './outcomes-read-model.js';

export interface AnalyticsQuery {
  tenantId: string;
  from: string;
  to: string;
  interval: Interval;
}

export interface FunnelStep {
  step: string;
  count: number;
  /** Share of the first step, 0..1 (null when the first step is 0). */
  rate: number | null;
}

/** How handoffs went: requests, how long customers waited for a person, who resolved conversations. */
export interface HandoffStats {
  requests: number;
  /** From each request in the range to the first operator reply after it in that conversation. */
  first_human_reply: { answered: number; unanswered: number; p50_seconds: number | null; p90_seconds: number | null };
  /** Conversations started in the range: answered by the bot alone, or with a person's messages in them. */
  conversations: { total: number; bot_only: number; with_human: number };
}

export interface Analytics {
  from: string;
  to: string;
  interval: Interval;
  totals: Record<string, number>;
  series: Array<{ bucket: string; counts: Record<string, number> }>;
  funnels: { sales: FunnelStep[]; comments: FunnelStep[] };
  handoff: HandoffStats;
  outcomes: Outcomes;
}

/** Event counts, funnels and outcomes: the read model behind /v1/admin/analytics and `zia stats`. */
export class AnalyticsReport {
  constructor(private readonly db: Db) {}

  async analytics(q: AnalyticsQuery): Promise<Analytics> {
    const k = this.db.knex;
    const bucket = timeBucket(this.db, 'created_at', q.interval);
    const rows = await k('events')
      .where('tenant_id', q.tenantId)
      .andWhere('created_at', '>=', q.from)
      .andWhere('created_at', '<', q.to)
      .select({ bucket }, 'type')
      .count({ n: '*' })
      .groupByRaw('1, 2')
      .orderByRaw('1');
    const totals: Record<string, number> = {};
    const byBucket = new Map<string, Record<string, number>>();
    for (const r of rows as Array<{ bucket: string; type: string; n: unknown }>) {
      const n = readCount(r.n);
      totals[r.type] = (totals[r.type] ?? 0) + n;
      const counts = byBucket.get(r.bucket) ?? {};
      counts[r.type] = n;
      byBucket.set(r.bucket, counts);
    }
    // Conversations that a comment led to: started on a DM channel (private replies open DMs).
    const dm = await k('events as e')
      .join('conversations as c', 'c.id', 'e.conversation_id')
      .where('e.tenant_id', q.tenantId)
      .andWhere('c.tenant_id', q.tenantId)
      .andWhere('e.type', 'conversation_started')
      .whereIn('c.channel', ['messenger', 'instagram'])
      .andWhere('e.created_at', '>=', q.from)
      .andWhere('e.created_at', '<', q.to)
      .count({ n: '*' })
      .first();
    const t = (type: string) => totals[type] ?? 0;
    return {
      from: q.from,
      to: q.to,
      interval: q.interval,
      totals,
      series: [...byBucket.entries()].map(([b, counts]) => ({ bucket: b, counts })),
      funnels: {
        sales: funnel([
          ['conversation', t('conversation_started')],
          ['lead', t('lead_captured')],
          ['checkout', t('checkout_created')],
          ['paid', t('payment_completed')],
        ]),
        comments: funnel([
          ['comment', t('comment_received')],
          ['private_reply', t('private_reply_sent')],
          ['conversation', readCount((dm as { n?: unknown } | undefined)?.n)],
        ]),
      },
      handoff: await this.handoff(q),
      outcomes: await outcomes(this.db, q.tenantId, { from: q.from, to: q.to }),
    };
  }

  private async handoff(q: AnalyticsQuery): Promise<HandoffStats> {
    const k = this.db.knex;
    const requests: Array<{ conversation_id: string; created_at: unknown }> = await k('events')
      .where({ tenant_id: q.tenantId, type: 'handoff_requested' })
      .andWhere('created_at', '>=', q.from)
      .andWhere('created_at', '<', q.to)
      .select('conversation_id', 'created_at');
    const waits: number[] = [];
    let unanswered = 0;
    if (requests.length > 0) {
      // Operator replies in those conversations from the first request on, oldest first.
      const replies: Array<{ conversation_id: string; created_at: unknown }> = await k('events')
        .where({ tenant_id: q.tenantId, type: 'operator_reply' })
        .whereIn('conversation_id', [...new Set(requests.map((r) => r.conversation_id))])
        .andWhere('created_at', '>=', q.from)
        .select('conversation_id', 'created_at')
        .orderBy('created_at');
      const byConversation = new Map<string, number[]>();
      for (const r of replies) byConversation.set(r.conversation_id, [...(byConversation.get(r.conversation_id) ?? []), Date.parse(readTime(r.created_at)!)]);
      for (const r of requests) {
        const at = Date.parse(readTime(r.created_at)!);
        const first = byConversation.get(r.conversation_id)?.find((t) => t >= at);
        if (first === undefined) unanswered++;
        else waits.push((first - at) / 1000);
      }
    }
    const started = await k('conversations as c')
      .where('c.tenant_id', q.tenantId)
      .andWhere('c.created_at', '>=', q.from)
      .andWhere('c.created_at', '<', q.to)
      .select(
        k.raw('count(*) as total'),
        k.raw(`sum(case when exists (select 1 from messages m where m.conversation_id = c.id and m.tenant_id = c.tenant_id and m.role = 'operator') then 1 else 0 end) as with_human`),
      )
      .first();
    const total = readCount((started as { total?: unknown } | undefined)?.total);
    const withHuman = readCount((started as { with_human?: unknown } | undefined)?.with_human);
    return {
      requests: requests.length,
      first_human_reply: { answered: waits.length, unanswered, p50_seconds: percentile(waits, 0.5), p90_seconds: percentile(waits, 0.9) },
      conversations: { total, bot_only: total - withHuman, with_human: withHuman },
    };
  }
}

/** Nearest-rank percentile, to the tenth of a second; null for no values. */
function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const v = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return Math.round(v * 10) / 10;
}

function funnel(steps: Array<[string, number]>): FunnelStep[] {
  const first = steps[0]![1];
  return steps.map(([step, count]) => ({ step, count, rate: first > 0 ? Math.round((count / first) * 1000) / 1000 : null }));
}
