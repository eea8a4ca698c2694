import { RateLimiterQueue } from 'rate-limiter-flexible';
import type { RateLimiterFactory } from '../../../db/rate-limit-store.js';

/**
 * Messages per second per business number, spent from one budget by every process on the database
 * (PostgreSQL: the rate_limits table; SQLite: this process, the only one on the file). A send past the
 * budget waits for the next second instead of being refused by Meta (130429).
 */
export class ThroughputLimit {
  private readonly queues = new Map<number, RateLimiterQueue>();

  constructor(private readonly limiters: RateLimiterFactory) {}

  /** Waits until `phoneNumberId` may send one more message at `perSecond`. */
  async take(phoneNumberId: string, perSecond: number): Promise<void> {
    let queue = this.queues.get(perSecond);
    if (!queue) {
      queue = new RateLimiterQueue(this.limiters({ points: perSecond, duration: 1, keyPrefix: `wa_mps_${perSecond}` }));
      this.queues.set(perSecond, queue);
    }
    await queue.removeTokens(1, phoneNumberId);
  }
}
