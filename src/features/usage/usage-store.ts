import type { Db, Write } from '../../db/create-db.js';
import { nowIso } from '../../db/dialect.js';

/**
 * The usage counters (usage_counters, one row per tenant, UTC day, metric and dimension) and the cap
 * thresholds crossed (usage_alerts). Events count themselves (a trigger, see the usage_meter
 * migration); model usage is added here, beside the daily token quota.
 */

export interface UsageRow {
  tenantId: string;
  metric: string;
  dimension: string;
  value: number;
}

export interface ModelUse {
  model: string;
  /** Requests made to the model server (a turn with tool calls makes several). */
  requests: number;
  input: number;
  output: number;
  /** Estimated, in millionths of a US dollar; 0 when the model has no known price. */
  costMicroUsd: number;
}

/** Model cost is counted in millionths of a US dollar: whole numbers add up exactly. */
export const MICRO_USD = 1_000_000;

/** The first and the day after the last day of a month ('2026-11' → '2026-11-01', '2026-12-01'). */
export function monthDays(month: string): { from: string; until: string } {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
  return { from: `${month}-01`, until: `${next}-01` };
}

export function currentMonth(now = new Date()): string {
  return now.toISOString().slice(0, 7);
}

export class UsageStore {
  constructor(private readonly db: Db) {}

  /** The write that adds a model turn's use to the day's counters (run with the quota's write). */
  modelWrite(tenantId: string, day: string, use: ModelUse): Write {
    const rows = [
      ['model_requests', use.requests],
      ['tokens_in', use.input],
      ['tokens_out', use.output],
      ['model_cost_micro_usd', use.costMicroUsd],
    ].map(([metric, value]) => ({ tenant_id: tenantId, day, metric, dimension: use.model, value }));
    return (k) => k('usage_counters').insert(rows).onConflict(['tenant_id', 'day', 'metric', 'dimension']).merge({ value: k.raw('?? + excluded.value', ['usage_counters.value']) });
  }

  /** A month's totals per tenant (all tenants when none is given), metric and dimension. */
  month(tenantId: string | undefined, month: string): Promise<UsageRow[]> {
    const { from, until } = monthDays(month);
    return this.between(tenantId, from, until);
  }

  /** Totals over the days from `from` up to (not including) `until`, 'YYYY-MM-DD'. */
  async between(tenantId: string | undefined, from: string, until: string): Promise<UsageRow[]> {
    const q = this.db.knex('usage_counters').where('day', '>=', from).andWhere('day', '<', until).groupBy('tenant_id', 'metric', 'dimension').select('tenant_id', 'metric', 'dimension').sum({ value: 'value' });
    if (tenantId) q.where({ tenant_id: tenantId });
    return (await q).map((r: any) => ({ tenantId: r.tenant_id, metric: r.metric, dimension: r.dimension, value: Number(r.value) }));
  }

  /** One metric's total for a tenant's month, across its dimensions. */
  async total(tenantId: string, month: string, metric: string): Promise<number> {
    const { from, until } = monthDays(month);
    const r = await this.db.knex('usage_counters').where({ tenant_id: tenantId, metric }).andWhere('day', '>=', from).andWhere('day', '<', until).sum({ value: 'value' }).first();
    return Number(r?.value ?? 0);
  }

  /** True for the one caller, in any process, that records this threshold first. */
  async claimAlert(tenantId: string, month: string, cap: string, percent: number): Promise<boolean> {
    const inserted = await this.db
      .knex('usage_alerts')
      .insert({ tenant_id: tenantId, month, cap, percent, created_at: nowIso() })
      .onConflict(['tenant_id', 'month', 'cap', 'percent'])
      .ignore()
      .returning('percent');
    return inserted.length > 0;
  }
}
