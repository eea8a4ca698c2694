import type { TenantService, Tenant } from '../tenants/tenant-service.js';
import { CAP_METRICS, capsOf } from './usage-caps.js';
import { MICRO_USD, type UsageRow, type UsageStore } from './usage-store.js';

/** A tenant's month of usage as `zia usage` and GET /v1/admin/usage show it. */
export interface TenantUsage {
  tenant: string;
  month: string;
  conversations: Counted;
  messages_in: Counted;
  messages_out: Counted;
  models: ModelUse[];
  /** Estimated from the model price table (ZIA_MODEL_PRICES over OpenAI's list prices). */
  model_cost_usd: number;
  checkout_sessions: number;
  /** WhatsApp messages sent as a template, by the template's category. */
  template_sends: Record<string, number>;
  /** Paid amounts in minor units, one entry per currency (never added across currencies). */
  payments: Array<{ currency: string; count: number; amount: number }>;
  caps: Array<{ cap: string; limit: number; used: number; share: number }>;
}

/** A model's month: requests, tokens, and the cost estimated as they were counted. */
export interface ModelUse {
  model: string;
  requests: number;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
}

export interface Counted {
  total: number;
  by_channel: Record<string, number>;
}

/** One line of the monthly CSV: the same columns whatever metrics and channels a month has. */
export interface UsageCsvRow {
  month: string;
  tenant: string;
  metric: string;
  dimension: string;
  value: number;
}

export class UsageReport {
  constructor(
    private readonly store: UsageStore,
    private readonly tenants: TenantService,
  ) {}

  /** Every tenant's month (or one tenant's), tenants without usage included with zeros. */
  async month(month: string, tenant?: Tenant): Promise<TenantUsage[]> {
    const [rows, tenants] = await Promise.all([this.store.month(tenant?.id, month), tenant ? [tenant] : this.tenants.list()]);
    return tenants.map((t) => view(t, month, rows.filter((r) => r.tenantId === t.id)));
  }

  /** The month as CSV rows: costs in US dollars, amounts in minor units, tenants by slug. */
  async csvRows(month: string, tenant?: Tenant): Promise<UsageCsvRow[]> {
    const [rows, tenants] = await Promise.all([this.store.month(tenant?.id, month), tenant ? [tenant] : this.tenants.list()]);
    const slugs = new Map(tenants.map((t) => [t.id, t.slug]));
    return rows
      .filter((r) => slugs.has(r.tenantId))
      .map((r) => ({
        month,
        tenant: slugs.get(r.tenantId)!,
        metric: r.metric === 'model_cost_micro_usd' ? 'model_cost_usd' : r.metric,
        dimension: r.dimension,
        value: r.metric === 'model_cost_micro_usd' ? r.value / MICRO_USD : r.value,
      }))
      .sort((a, b) => a.tenant.localeCompare(b.tenant) || a.metric.localeCompare(b.metric) || a.dimension.localeCompare(b.dimension));
  }
}

function view(tenant: Tenant, month: string, rows: UsageRow[]): TenantUsage {
  const of = (metric: string) => rows.filter((r) => r.metric === metric);
  const sum = (metric: string) => of(metric).reduce((n, r) => n + r.value, 0);
  const counted = (metric: string): Counted => ({ total: sum(metric), by_channel: Object.fromEntries(of(metric).map((r) => [r.dimension, r.value])) });
  const paid = of('paid_amount');
  return {
    tenant: tenant.slug,
    month,
    conversations: counted('conversations'),
    messages_in: counted('messages_in'),
    messages_out: counted('messages_out'),
    models: modelUse(rows),
    model_cost_usd: sum('model_cost_micro_usd') / MICRO_USD,
    checkout_sessions: sum('checkout_sessions'),
    template_sends: Object.fromEntries(of('template_sends').map((r) => [r.dimension, r.value])),
    payments: of('payments').map((r) => ({ currency: r.dimension, count: r.value, amount: paid.find((p) => p.dimension === r.dimension)?.value ?? 0 })),
    caps: capsOf(tenant).map(({ cap, limit }) => {
      const used = sum(CAP_METRICS[cap].metric) * CAP_METRICS[cap].scale;
      return { cap, limit, used, share: used / limit };
    }),
  };
}

/** Each model in the rows (one tenant's), by name. */
export function modelUse(rows: readonly UsageRow[]): ModelUse[] {
  const value = (metric: string, model: string) => rows.find((r) => r.metric === metric && r.dimension === model)?.value ?? 0;
  return [...new Set(rows.filter((r) => r.metric === 'model_requests').map((r) => r.dimension))].sort().map((model) => ({
    model,
    requests: value('model_requests', model),
    tokens_in: value('tokens_in', model),
    tokens_out: value('tokens_out', model),
    cost_usd: value('model_cost_micro_usd', model) / MICRO_USD,
  }));
}
