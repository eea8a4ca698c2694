import type { RequestHandler } from 'express';
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimiterFactory } from '../../db/rate-limit-store.js';
import { RateLimitError } from '../../errors.js';
import type { Tenant } from '../../features/tenants/tenant-service.js';
import { slugSchema } from '../../features/tenants/tenant.schemas.js';
import type { Logger } from '../../logger.js';

/**
 * Fixed windows per key, counted by rate-limiter-flexible where `store` says: on PostgreSQL in the
 * database, so the limit holds across every process (see rateLimiters). The library's limiter has one
 * budget per instance, so there is one instance per distinct budget (the deployment default and each
 * tenant override).
 */
export class RateLimits {
  private readonly byBudget = new Map<number, RateLimiterAbstract>();

  private readonly store: RateLimiterFactory;
  private readonly windowSeconds: number;

  constructor(options: { store?: RateLimiterFactory; windowSeconds?: number } = {}) {
    this.store = options.store ?? ((window) => new RateLimiterMemory(window));
    this.windowSeconds = options.windowSeconds ?? 60;
  }

  private limiter(budget: number): RateLimiterAbstract {
    let l = this.byBudget.get(budget);
    if (!l) {
      l = this.store({ points: budget, duration: this.windowSeconds, keyPrefix: `b${budget}` });
      this.byBudget.set(budget, l);
    }
    return l;
  }

  /**
   * Takes one from `key`'s budget and answers how many the window has used; throws RateLimitError once
   * the budget is spent. 0 means no limit. Taking before the work (not counting after it) keeps the
   * limit exact however many requests run at once.
   */
  async hit(key: string, budget: number, opts: { message?: string; onFirstRefusal?: () => void } = {}): Promise<number> {
    if (budget <= 0) return 0;
    try {
      return (await this.limiter(budget).consume(key)).consumedPoints;
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      if (err.consumedPoints === budget + 1) opts.onFirstRefusal?.();
      throw new RateLimitError(opts.message ?? 'too many requests; slow down', retryAfter(err));
    }
  }

  /** Returns one to `key`'s budget: the request it was taken for turned out not to count. */
  async giveBack(key: string, budget: number): Promise<void> {
    if (budget > 0) await this.limiter(budget).reward(key, 1);
  }
}

function retryAfter(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}

/**
 * The routes anyone may call that write something or cost the tenant money (a model call, a lead, a
 * Stripe Checkout Session). Signed webhooks are not here: providers send from few addresses, in bursts.
 */
export const PUBLIC_WRITE_ROUTES = [
  '/v1/chat',
  '/v1/chat/stream',
  '/v1/leads',
  '/v1/stripe/checkout/by-plan',
  '/v1/stripe/checkout/by-item',
  '/v1/stripe/checkout/qr',
] as const;

export interface PublicLimitDeps {
  limits: RateLimits;
  logger: Logger;
  findTenant: (slug: string) => Promise<Tenant | undefined>;
  defaultPerMinute: number;
}

/**
 * One budget per tenant and client address, shared by every public write route, so spreading requests
 * over chat, the lead form and checkout buys an abuser nothing. A tenant's own setting wins over the
 * deployment default. Requests without a known tenant pass: the route answers them 400 or 404.
 */
export function publicWriteLimit(deps: PublicLimitDeps): RequestHandler {
  return async (req, _res, next) => {
    try {
      const slug = tenantSlugOf(req.query.tenant, req.body);
      const tenant = slug ? await deps.findTenant(slug) : undefined;
      if (tenant) {
        const budget = tenant.settings.rate_limit_per_minute ?? deps.defaultPerMinute;
        const address = req.ip ?? 'unknown';
        await deps.limits.hit(`${tenant.id}:${address}`, budget, {
          // Once per burst, not per refused request: the request log keeps those at debug.
          onFirstRefusal: () => deps.logger.warn({ tenant: tenant.slug, address, per_minute: budget }, `rate limit reached for ${address} on tenant ${tenant.slug}: public requests refused (429) until the minute is over`),
        });
      }
      next();
    } catch (err) {
      next(err);
    }
  };
}

/**
 * ?tenant= first, then a JSON body's "tenant" (checkout routes accept either). Only a well-formed slug
 * is looked up; anything else is left to the route's validation (400).
 */
function tenantSlugOf(query: unknown, body: unknown): string | undefined {
  const slug = typeof query === 'string' ? query : (body as { tenant?: unknown } | undefined)?.tenant;
  return slugSchema.safeParse(slug).success ? (slug as string) : undefined;
}
