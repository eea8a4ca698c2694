import { RateLimitError } from '../../errors.js';

/**
 * Fixed one-minute windows per key (tenant + client IP), in memory. Each process counts its own
 * requests; behind N processes the effective limit is at most N times the setting.
 */
export class WindowRateLimiter {
  private windows = new Map<string, { start: number; count: number }>();
  private lastSweep = 0;

  constructor(private readonly windowMs = 60_000) {}

  /** Throws RateLimitError when `key` has used its `limit` in the current window; 0 means no limit. */
  hit(key: string, limit: number, now = Date.now()): void {
    if (limit <= 0) return;
    this.sweep(now);
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    if (w.count > limit) {
      throw new RateLimitError('too many requests; slow down', Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000)));
    }
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.windowMs) return;
    this.lastSweep = now;
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
  }
}
