import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The deployment's Prometheus metrics, one registry per set of services (never prom-client's global
 * one), so tests and several apps in one process do not collide. Features get the instruments they
 * observe; gauges that mirror stored state are read when scraped, not kept up to date on every change.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Streams that have sent their first event and are still open. */
  readonly sseStreams: Gauge;
  /** Inbox items (webhook messages, comments) this process is handling now, by tenant id. */
  readonly inboxInFlight: Gauge<'tenant'>;
  /** A job handler's run, by kind and outcome (ok, error). */
  readonly jobDuration: Histogram<'kind' | 'outcome'>;
  /** One generate() call on the AI provider, tools included. */
  readonly aiDuration: Histogram<'provider' | 'outcome'>;
  readonly aiFirstToken: Histogram<'provider'>;
  readonly aiTokens: Counter<'provider' | 'direction'>;
  readonly aiErrors: Counter<'provider' | 'class'>;
  /** Adds Node's process metrics (CPU, memory, event loop lag); only processes that serve metrics call it. */
  collectProcessMetrics(): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  let processMetrics = false;
  return {
    registry,
    sseStreams: new Gauge({ name: 'zia_sse_streams_open', help: 'Server-Sent Events streams open now', registers }),
    inboxInFlight: new Gauge({ name: 'zia_inbox_in_flight', help: 'Webhook items being handled now by this process, by tenant id', labelNames: ['tenant'] as const, registers }),
    jobDuration: new Histogram({
      name: 'zia_job_duration_seconds',
      help: 'Time a background job took, by kind and outcome (ok, or error: retried or parked)',
      labelNames: ['kind', 'outcome'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    aiDuration: new Histogram({
      name: 'zia_ai_request_duration_seconds',
      help: 'AI provider calls (one reply, tool rounds included), by provider and outcome',
      labelNames: ['provider', 'outcome'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
      registers,
    }),
    aiFirstToken: new Histogram({
      name: 'zia_ai_first_token_seconds',
      help: 'Time from an AI provider call to its first token of text',
      labelNames: ['provider'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15],
      registers,
    }),
    aiTokens: new Counter({
      name: 'zia_ai_tokens_total',
      help: 'Tokens the AI provider reported, by direction (in: prompt, out: completion)',
      labelNames: ['provider', 'direction'] as const,
      registers,
    }),
    aiErrors: new Counter({
      name: 'zia_ai_errors_total',
      help: 'Failed AI provider calls by error class (rate_limited, timeout, unreachable, upstream_4xx, upstream_5xx, upstream, internal)',
      labelNames: ['provider', 'class'] as const,
      registers,
    }),
    collectProcessMetrics() {
      if (processMetrics) return;
      processMetrics = true;
      collectDefaultMetrics({ register: registry });
    },
  };
}
