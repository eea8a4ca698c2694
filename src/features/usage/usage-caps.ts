import type { Logger } from '../../logger.js';
import type { AiProvider, GenerateRequest, GenerateResult } from '../ai/provider.js';
import type { EventService } from '../events/event-service.js';
import type { Tenant } from '../tenants/tenant-service.js';
import { currentMonth, MICRO_USD, type UsageStore } from './usage-store.js';

/**
 * A tenant's monthly caps (`limits.monthly_messages`: customer messages answered by the model;
 * `limits.monthly_model_cost`: estimated US dollars of model use). Read from the shared counters
 * before each answer, so they hold across every process on the database. At 80% and at 100% the
 * tenant's systems are told once (an outbound webhook event and a log line); past 100% the bot
 * answers from the offline assistant (FAQ, catalog, knowledge) or the tenant's `over_cap_message`,
 * and never stops answering. Turns already running when a cap is reached finish on the model.
 */

export type CapName = 'monthly_messages' | 'monthly_model_cost';
const THRESHOLDS = [80, 100] as const;

/** The counter each cap reads, and what one of its units is worth in the cap's unit. */
export const CAP_METRICS: Record<CapName, { metric: string; scale: number }> = {
  monthly_messages: { metric: 'messages_in', scale: 1 },
  monthly_model_cost: { metric: 'model_cost_micro_usd', scale: 1 / MICRO_USD },
};

export interface CapUse {
  cap: CapName;
  limit: number;
  used: number;
}

/** The caps a tenant has set, in a fixed order. */
export function capsOf(tenant: Tenant): Array<{ cap: CapName; limit: number }> {
  const limits = tenant.settings.limits ?? {};
  return (Object.keys(CAP_METRICS) as CapName[]).flatMap((cap) => (limits[cap] ? [{ cap, limit: limits[cap] }] : []));
}

export class UsageCaps {
  constructor(
    private readonly deps: { store: UsageStore; events: EventService; logger: Logger; now?: () => Date },
  ) {}

  /** Each cap the tenant has, with this month's use; nothing is read for a tenant without caps. */
  async use(tenant: Tenant): Promise<CapUse[]> {
    const month = currentMonth(this.now());
    return Promise.all(
      capsOf(tenant).map(async ({ cap, limit }) => ({ cap, limit, used: (await this.deps.store.total(tenant.id, month, CAP_METRICS[cap].metric)) * CAP_METRICS[cap].scale })),
    );
  }

  /**
   * Whether the model may answer now, after announcing each threshold crossed for the first time.
   * The message being answered is already counted, so `monthly_messages: 100` lets the model answer
   * 100 messages; the cost cap stops the model once the month's estimate has reached it.
   */
  async modelAllowed(tenant: Tenant): Promise<boolean> {
    const caps = await this.use(tenant);
    let allowed = true;
    for (const c of caps) {
      const over = c.cap === 'monthly_messages' ? c.used > c.limit : c.used >= c.limit;
      if (over) allowed = false;
      for (const percent of THRESHOLDS) {
        const reached = percent === 100 ? over : c.used >= (c.limit * percent) / 100;
        if (reached) await this.announce(tenant, c, percent);
      }
    }
    return allowed;
  }

  /** Once per tenant, month, cap and threshold, fleet-wide: the row's insert decides who announces. */
  private async announce(tenant: Tenant, c: CapUse, percent: number): Promise<void> {
    const month = currentMonth(this.now());
    if (!(await this.deps.store.claimAlert(tenant.id, month, c.cap, percent))) return;
    const type = percent === 100 ? 'usage_cap_reached' : 'usage_cap_warning';
    await this.deps.events.record(tenant.id, type, { data: { cap: c.cap, percent, limit: c.limit, used: c.used, month } });
    this.deps.logger.warn({ tenant: tenant.slug, cap: c.cap, percent, limit: c.limit, used: c.used, month }, percent === 100 ? 'usage cap reached: the offline assistant answers until next month' : 'usage cap at 80%');
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}

/** The model while the tenant is within its caps; past them the offline assistant, or the tenant's message. */
export class CappedProvider implements AiProvider {
  readonly name: AiProvider['name'];
  readonly usesHistory: boolean;

  constructor(
    private readonly model: AiProvider,
    private readonly offline: AiProvider,
    private readonly caps: UsageCaps,
  ) {
    this.name = model.name;
    this.usesHistory = model.usesHistory;
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    if (await this.caps.modelAllowed(request.tenant)) return this.model.generate(request);
    const message = request.tenant.settings.limits?.over_cap_message;
    if (!message) return this.offline.generate(request);
    request.onToken(message);
    return { text: message, tokens: 0 };
  }
}
