import { Counter, type Registry } from 'prom-client';
import { RateLimitError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { RateLimits } from './rate-limit.js';

/** Wrong x-api-key values one client address may send per minute before it is answered 429. */
export const WRONG_KEYS_PER_MINUTE = 20;

/**
 * Throttles key guessing per client address, in memory. Every keyed request takes an attempt before
 * its key is compared or looked up and gives it back when the key is right, so a blocked address costs
 * the database nothing and concurrent guesses cannot overrun the budget. The right key still works
 * from every other address.
 */
export class KeyGuard {
  private readonly failures: Counter<'reason'>;

  constructor(
    private readonly limits: RateLimits,
    private readonly logger: Logger,
    registry: Registry,
    private readonly perMinute = WRONG_KEYS_PER_MINUTE,
  ) {
    // One counter per registry: an app built twice on the same services (tests) reuses it.
    this.failures = (registry.getSingleMetric('zia_auth_failures_total') as Counter<'reason'> | undefined) ?? new Counter({
      name: 'zia_auth_failures_total',
      help: 'Requests refused for their x-api-key: invalid (a wrong key) or throttled (429 after too many wrong keys from one address)',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
  }

  /** Takes an attempt; throws RateLimitError (429) while the address has none left. */
  async attempt(address: string): Promise<Attempt> {
    try {
      const used = await this.limits.hit(`auth:${address}`, this.perMinute, { message: 'too many wrong API keys from this address; try again later' });
      return { address, used };
    } catch (err) {
      if (err instanceof RateLimitError) this.failures.inc({ reason: 'throttled' });
      throw err;
    }
  }

  async succeeded(attempt: Attempt): Promise<void> {
    await this.limits.giveBack(`auth:${attempt.address}`, this.perMinute);
  }

  failed(attempt: Attempt): void {
    this.failures.inc({ reason: 'invalid' });
    // Once per burst: the failure that spends the window's budget, not every refused request after it.
    if (attempt.used === this.perMinute) {
      this.logger.warn({ address: attempt.address, wrong_keys: attempt.used }, `${attempt.used} wrong API keys within a minute from ${attempt.address}: its keys are refused (429) until the minute is over`);
    }
  }
}

export interface Attempt {
  address: string;
  used: number;
}
