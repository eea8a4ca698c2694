import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { metricsEndpoint } from './middleware/metrics.js';

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * /metrics on a port of its own (ZIA_METRICS_PORT), for scrapers on an internal network while the main
 * port faces the public; `zia worker` uses it too, having no other HTTP server. Nothing else is served.
 */
export async function startMetricsServer(registry: Registry, opts: { host: string; port: number; token?: string }): Promise<MetricsServer> {
  const scrape = metricsEndpoint(registry, opts.token);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      scrape(req, res).catch(() => res.destroy());
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('only /metrics is served on this port\n');
  });
  server.listen(opts.port, opts.host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
