/**
 * Lets background jobs start only while the event loop keeps up. The worker shares its process with
 * the HTTP server (`zia serve`), and a worker full of turns that need the CPU (the offline provider,
 * SQLite) would otherwise queue every webhook acknowledgement behind them. Turns that mostly wait (a
 * model, a provider's API) leave the loop free, so those run at the full configured concurrency.
 *
 * The limit moves by additive increase, multiplicative decrease: every tick the loop's delay is
 * measured as a timer's lateness; above the target the number of jobs allowed at once is cut by
 * a third, otherwise raised by one, between 1 and the configured concurrency. A job that waits here
 * has been taken from the queue already (its lease or lock holds it); it starts when there is room.
 */
export class LoopGate {
  private limit: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly max: number,
    private readonly options: { targetMs?: number; tickMs?: number } = {},
  ) {
    this.limit = max;
  }

  /** How many jobs may run at once now (for tests and metrics). */
  get allowed(): number {
    return this.limit;
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    this.watch();
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // counted by admit()
    try {
      return await job();
    } finally {
      this.active--;
      this.admit();
    }
  }

  private admit(): void {
    while (this.waiting.length > 0 && this.active < this.limit) {
      this.active++;
      this.waiting.shift()!();
    }
  }

  /** Starts measuring on first use; the timer never keeps a process alive. */
  private watch(): void {
    if (this.timer) return;
    const tick = this.options.tickMs ?? 50;
    const target = this.options.targetMs ?? 20;
    let expected = performance.now() + tick;
    this.timer = setInterval(() => {
      const now = performance.now();
      const lag = now - expected;
      expected = now + tick;
      this.limit = lag > target ? Math.max(1, Math.floor((this.limit * 2) / 3)) : Math.min(this.max, this.limit + 1);
      this.admit();
    }, tick);
    this.timer.unref();
  }
}
