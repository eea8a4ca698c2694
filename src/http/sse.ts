import type { Response } from 'express';

export interface SseStream {
  /** Whether the response has started (headers sent): from then on errors are events, not statuses. */
  readonly started: boolean;
  /** Aborted when the client goes away or the server shuts down. */
  readonly signal: AbortSignal;
  /** `id`: the event's id, which a reconnecting client sends back as Last-Event-ID. */
  send(event: string, data: unknown, id?: string): void;
  end(): void;
}

/**
 * One interval for all open streams instead of a timer per stream: with thousands of streams held
 * open, per-stream timers are memory and wake-ups for nothing. It runs only while a stream is open.
 */
export class SseHeartbeat {
  private readonly streams = new Set<Response>();
  private timer: NodeJS.Timeout | undefined;

  /** `open` counts the streams this heartbeat keeps (the open-streams gauge). */
  constructor(
    private readonly intervalMs = 15_000,
    private readonly open?: { inc(): void; dec(): void },
  ) {}

  add(res: Response): void {
    if (this.streams.has(res)) return;
    this.streams.add(res);
    this.open?.inc();
    if (!this.timer) {
      this.timer = setInterval(() => this.beat(), this.intervalMs);
      this.timer.unref();
    }
  }

  delete(res: Response): void {
    if (!this.streams.delete(res)) return;
    this.open?.dec();
    if (this.streams.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private beat(): void {
    for (const res of this.streams) if (!res.writableEnded) res.write(': ping\n\n');
  }
}

export interface SseOptions {
  /** Shared heartbeat of the route's streams; without it the stream gets its own, every heartbeatMs. */
  heartbeat?: SseHeartbeat;
  heartbeatMs?: number;
  /** The server's shutdown signal: open streams end when it fires. */
  shutdown?: AbortSignal;
}

/**
 * A Server-Sent Events response that opens lazily: until the first event, the route can still answer
 * with a JSON error status. Heartbeat comments keep proxies and load balancers from closing an idle
 * stream; the headers keep them from buffering it.
 */
export function createSse(res: Response, options: SseOptions = {}): SseStream {
  const controller = new AbortController();
  const heartbeat = options.heartbeat ?? new SseHeartbeat(options.heartbeatMs);
  const stop = () => {
    heartbeat.delete(res);
    options.shutdown?.removeEventListener('abort', onShutdown);
  };
  const onShutdown = () => {
    controller.abort(new Error('server shutting down'));
    if (sse.started && !res.writableEnded) res.end();
  };
  options.shutdown?.addEventListener('abort', onShutdown, { once: true });
  res.on('close', () => {
    stop();
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  res.on('finish', stop);

  const open = () => {
    if (sse.started) return;
    sse.started = true;
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    // Each token should leave at once, not wait for Nagle to batch it.
    res.socket?.setNoDelay(true);
    heartbeat.add(res);
  };

  // A plain data property, not a getter: an object literal with an accessor is kept as a dictionary,
  // a few hundred bytes per open stream.
  const sse = {
    started: false,
    signal: controller.signal,
    send(event: string, data: unknown, id?: string) {
      if (res.writableEnded || controller.signal.aborted) return;
      open();
      res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    /** Ends a started stream; before the first event the route still owns the response. */
    end() {
      stop();
      if (sse.started && !res.writableEnded) res.end();
    },
  };
  return sse;
}
