import { Router } from 'express';
import type { Services } from '../container.js';
import { ping } from '../db/create-db.js';
import { AppError } from '../errors.js';
import { packageVersion } from '../paths.js';
import type { Api } from './api.js';
import type { Drain } from './drain.js';
import { docsPage, homePage } from './home.js';
import { metricsEndpoint } from './middleware/metrics.js';
import * as R from './response-schemas.js';

/** Health, readiness, metrics, the OpenAPI document, and the pages that say what this server is. */
export function opsRoutes(api: Api, deps: { services: Services; drain: Drain }): Router {
  const { config, logger, db, metrics } = deps.services;
  const router = Router();
  const document = () => api.document({ title: 'zia', version: packageVersion(), serverUrl: config.SITE_URL });

  api.route(router, { method: 'get', path: '/healthz', summary: 'Liveness: the process answers', tag: 'ops', auth: 'public', response: R.ok }, () => ({ status: 'ok' }));

  api.route(
    router,
    { method: 'get', path: '/readyz', summary: 'Readiness: the database answers and the server is not draining for a stop', tag: 'ops', auth: 'public', response: R.ready, errors: [503] },
    async () => {
      if (deps.drain.draining) throw new AppError(503, 'draining', 'shutting down: finishing in-flight requests');
      try {
        await ping(db);
      } catch (err) {
        logger.warn({ err }, 'readiness check failed');
        throw new AppError(503, 'not_ready', 'database unreachable');
      }
      return { status: 'ready', database: db.dialect };
    },
  );

  // With ZIA_METRICS_PORT the metrics are served on that port only, not on the public side.
  if (config.ZIA_METRICS_PORT === undefined) {
    const scrape = metricsEndpoint(metrics.registry, config.ZIA_METRICS_TOKEN);
    api.route(
      router,
      {
        method: 'get',
        path: '/metrics',
        summary: 'Prometheus metrics (HTTP, jobs, AI upstream, open streams, process)',
        tag: 'ops',
        auth: 'public',
        content: ['text/plain'],
        produces: 'Prometheus text exposition format; 401 without the bearer token when ZIA_METRICS_TOKEN is set',
        security: config.ZIA_METRICS_TOKEN ? [{ metricsToken: [] }] : [],
      },
      async ({ req, res }) => {
        await scrape(req, res);
        return undefined;
      },
    );
  }

  api.route(router, { method: 'get', path: '/openapi.json', summary: 'This OpenAPI 3.1 document', tag: 'ops', auth: 'public', content: ['application/json'] }, () => document());

  const home = homePage({ version: packageVersion(), metrics: config.ZIA_METRICS_PORT === undefined ? '/metrics' : undefined });
  api.route(
    router,
    { method: 'get', path: '/', summary: 'What this server is, with links to the docs, the OpenAPI document and the health checks', tag: 'ops', auth: 'public', response: R.home, content: ['text/html'], produces: 'an HTML page, or JSON when the client prefers it' },
    ({ req, res }) => {
      home(req, res);
      return undefined;
    },
  );
  const docs = docsPage(document);
  api.route(router, { method: 'get', path: '/docs', summary: 'The API reference as a page', tag: 'ops', auth: 'public', content: ['text/html'] }, ({ req, res }) => {
    docs(req, res);
    return undefined;
  });
  return router;
}
