import type { Db } from '../../db/create-db.js';
import { readCount } from '../../db/dialect.js';
import { timeBucket, type Interval } from '../../db/sql.js';

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

export interface Analytics {
  from: string;
  to: string;
  interval: Interval;
  totals: Record<string, number>;
  series: Array<{ bucket: string; counts: Record<string, number> }>;
  funnels: { sales: FunnelStep[]; comments: FunnelStep[] };
}

/** Event counts and funnels: the read model behind /v1/admin/analytics and `zia stats`. */
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
    };
  }
}

function funnel(steps: Array<[string, number]>): FunnelStep[] {
  const first = steps[0]![1];
  return steps.map(([step, count]) => ({ step, count, rate: first > 0 ? Math.round((count / first) * 1000) / 1000 : null }));
}
