import type { RequestHandler } from 'express';

/**
 * A graceful stop in two steps. On SIGTERM the server keeps serving while /readyz answers 503, so a
 * load balancer takes it out of rotation without a refused connection; responses say
 * `Connection: close` so kept-alive clients move on. The drain ends when no request is in flight (chat
 * streams included) or when the deadline passes; only then does the server stop listening.
 */
export class Drain {
  private inFlight = 0;
  private idle: (() => void) | undefined;
  draining = false;

  /** Counts requests in flight; mounted first, so it sees every request. */
  readonly middleware: RequestHandler = (_req, res, next) => {
    this.inFlight++;
    if (this.draining) res.setHeader('connection', 'close');
    res.once('close', () => {
      this.inFlight--;
      if (this.inFlight === 0) this.idle?.();
    });
    next();
  };

  get requests(): number {
    return this.inFlight;
  }

  /**
   * Starts draining: keeps serving for at least delayMs (load balancers see /readyz fail), then waits
   * up to deadlineMs for the requests in flight. Resolves true when none is left, false at the deadline.
   */
  async start(delayMs: number, deadlineMs: number): Promise<boolean> {
    this.draining = true;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (this.inFlight === 0) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idle = undefined;
        resolve(false);
      }, deadlineMs);
      this.idle = () => {
        clearTimeout(timer);
        this.idle = undefined;
        resolve(true);
      };
    });
  }
}
