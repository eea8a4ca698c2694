import express, { Router, type Express } from 'express';
import type { Services } from '../container.js';
import { ping } from '../db/create-db.js';
import { tenantRoutes } from '../features/tenants/tenant-routes.js';
import { metaRoutes } from '../features/channels/meta/meta-routes.js';
import { whatsappRoutes } from '../features/channels/whatsapp/whatsapp-routes.js';
import { webhookRoutes } from '../features/webhooks/webhook-routes.js';
import { reportRoutes } from '../features/reports/reports-routes.js';
import { catalogRoutes } from '../features/catalog/catalog-routes.js';
import { chatRoutes } from '../features/chat/chat-routes.js';
import { WindowRateLimiter } from '../features/chat/rate-limiter.js';
import { leadRoutes } from '../features/leads/lead-routes.js';
import { paymentRoutes, stripeWebhookRoutes } from '../features/payments/payment-routes.js';
import { Api } from './api.js';
import { createAuthenticator } from './middleware/admin-auth.js';
import { tenantCors } from './middleware/cors.js';
import { widgetRoutes } from '../features/widget/widget-routes.js';
import { handoffRoutes } from '../features/handoff/handoff-routes.js';
import { errorHandler, notFound } from './middleware/error-handler.js';
import { createHttpMetrics } from './middleware/metrics.js';
import { idOf, requestId } from './middleware/request-id.js';
import { requestLog } from './middleware/request-log.js';
import { packageVersion } from '../paths.js';

/** The Express app, middleware in the order a request meets it. */
export function createApp(services: Services): Express {
  const { config, logger } = services;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', parseTrustProxy(config.TRUST_PROXY));
  app.set('json spaces', 0);

  const onError = errorHandler(logger);
  const api = new Api(
    createAuthenticator(config.ADMIN_KEY, (key) => services.apiKeys.resolve(key)),
    (err, req, res) => onError(err, req, res, () => undefined),
  );
  const metrics = createHttpMetrics();

  // 1. Identify and log every request; count it.
  app.use(requestId());
  app.use(requestLog(logger));
  app.use(metrics.middleware);

  // 2. CORS for browsers (the widget): ALLOWED_ORIGINS everywhere, a tenant's allowed_origins on its public routes.
  app.use(tenantCors({ allowedOrigins: config.ALLOWED_ORIGINS, siteUrl: config.SITE_URL, tenants: services.tenants, logger }));

  // 3. Signed webhooks read their own bodies (the signature covers the exact bytes or parameters
  //    received), capped and refused early, so they are mounted before the shared parsers.
  app.use(metaRoutes(api, { config, tenants: services.tenants, inbox: services.webhooks, logger }));
  app.use(stripeWebhookRoutes(api, services.stripeWebhooks));
  app.use(
    whatsappRoutes(api, { config, tenants: services.tenants, inbox: services.webhooks, sends: services.whatsapp, conversations: services.conversations, logger }),
  );

  // 4. Bodies: JSON and forms, with a limit. The raw bytes are not kept: a request's few bytes of body
  //    would pin the 8 KB pool slab they were copied into for as long as the request lasts (a chat
  //    stream: minutes), whatever else in the slab is long dead.
  app.use(express.json({ limit: '256kb' }));
  app.use(express.urlencoded({ extended: false, limit: '256kb' }));

  // 5. Operational routes.
  const ops = Router();
  ops.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  ops.get('/readyz', async (req, res) => {
    try {
      await ping(services.db);
      res.json({ status: 'ready', database: services.db.dialect });
    } catch (err) {
      logger.warn({ err }, 'readiness check failed');
      res.status(503).json({ error: { code: 'not_ready', message: 'database unreachable', request_id: idOf(req) } });
    }
  });
  ops.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  ops.get('/openapi.json', (_req, res) => {
    res.json(api.document({ title: 'zia', version: packageVersion(), serverUrl: config.SITE_URL }));
  });
  app.use(ops);

  // 6. Feature routes; chat first, as the most frequent (a request walks the routers in this order).
  const limiter = new WindowRateLimiter();
  app.use(
    chatRoutes(api, {
      chat: services.chat,
      tenants: services.tenants,
      limiter,
      config,
      logger,
      shutdown: services.shutdown.signal,
    }),
  );
  app.use(tenantRoutes(api, services.tenants));
  app.use(webhookRoutes(api, { webhooks: services.webhooks, jobs: services.jobs, tenants: services.tenants, config }));
  app.use(reportRoutes(api, services));
  app.use(handoffRoutes(api, { tenants: services.tenants, handoff: services.handoff, store: services.handoffStore }));
  app.use(widgetRoutes(api, { tenants: services.tenants, siteUrl: config.SITE_URL }));
  app.use(catalogRoutes(api, services.tenants, services.catalog));
  app.use(leadRoutes(api, { leads: services.leads, tenants: services.tenants, conversations: services.conversations, limiter, config }));
  app.use(paymentRoutes(api, { tenants: services.tenants, payments: services.payments }));

  // 7. Everything else: JSON 404, and one error handler.
  app.use(notFound());
  app.use(onError);
  return app;
}

function parseTrustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined) return false;
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}
