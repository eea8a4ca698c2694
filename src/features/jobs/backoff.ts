/**
 * Retry delay for attempt n (1-based, the attempt that just failed): exponential from `baseMs`, capped,
 * with "equal jitter" (half fixed, half random) so a burst of jobs failing together against a provider
 * does not come back together and fail again.
 */
export function retryDelayMs(attempt: number, baseMs: number, capMs = 10 * 60_000, random: () => number = Math.random): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
