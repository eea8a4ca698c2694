import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';

/** Counts every request and its latency into the deployment's registry. */
export function httpMetrics(registry: Registry): RequestHandler {
  // A second app over the same services (tests) shares the first one's instruments.
  const requests = (registry.getSingleMetric('zia_http_requests_total') as Counter<'method' | 'route' | 'status'> | undefined) ?? new Counter({
    name: 'zia_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = (registry.getSingleMetric('zia_http_request_duration_seconds') as Histogram<'method' | 'route'> | undefined) ?? new Histogram({
    name: 'zia_http_request_duration_seconds',
    help: 'HTTP request latency by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return (req, res, next) => {
    // A number, not startTimer()'s closure and hrtime pair: a chat stream keeps this for its whole life.
    const started = performance.now();
    res.on('finish', () => {
      // The matched route pattern, never the raw path: raw paths would explode label cardinality.
      const route = (req.route?.path as string | undefined) ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      requests.inc({ method: req.method, route, status: String(res.statusCode) });
      duration.observe({ method: req.method, route }, (performance.now() - started) / 1000);
    });
    next();
  };
}

/**
 * Answers a scrape: the registry in Prometheus text format, behind `Authorization: Bearer <token>`
 * when a token is configured. Plain node:http types, so the same handler serves the main app and the
 * separate metrics port.
 */
export function metricsEndpoint(registry: Registry, token: string | undefined): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const expected = token === undefined ? undefined : digest(token);
  return async (req, res) => {
    if (expected) {
      const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
      // Digests of equal length, so the comparison takes the same time whatever was sent.
      if (!m || !timingSafeEqual(digest(m[1]!.trim()), expected)) {
        res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer realm="metrics"' });
        res.end('metrics require Authorization: Bearer <ZIA_METRICS_TOKEN>\n');
        return;
      }
    }
    let body: string;
    try {
      body = await registry.metrics();
    } catch {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('metrics could not be collected\n');
      return;
    }
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
    res.end(body);
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
