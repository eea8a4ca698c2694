import { knowledgeRoutes } from '../features/knowledge/knowledge-routes.js';
import { contactRoutes } from '../features/contacts/contact-routes.js';
import { auditRoutes } from '../features/audit/audit-routes.js';
import { rateLimiters } from '../db/rate-limit-store.js';
import express, { type Express } from 'express';
import type { Services } from '../container.js';
import { tenantRoutes } from '../features/tenants/tenant-routes.js';
import { apiKeyRoutes } from '../features/tenants/api-key-routes.js';
import { jobRoutes } from '../features/jobs/job-routes.js';
import { metaRoutes } from '../features/channels/meta/meta-routes.js';
import { whatsappRoutes } from '../features/channels/whatsapp/whatsapp-routes.js';
import { webhookRoutes } from '../features/webhooks/webhook-routes.js';
import { reportRoutes } from '../features/reports/reports-routes.js';
import { usageRoutes } from '../features/usage/usage-routes.js';
import { catalogRoutes } from '../features/catalog/catalog-routes.js';
import { chatRoutes } from '../features/chat/chat-routes.js';
import { leadRoutes } from '../features/leads/lead-routes.js';
import { paymentRoutes, stripeWebhookRoutes } from '../features/payments/payment-routes.js';
import { Api } from './api.js';
import { createAuthenticator } from './middleware/admin-auth.js';
import { tenantCors } from './middleware/cors.js';
import { widgetRoutes } from '../features/widget/widget-routes.js';
import { handoffRoutes } from '../features/handoff/handoff-routes.js';
import { errorHandler, notFound } from './middleware/error-handler.js';
import { httpMetrics } from './middleware/metrics.js';
import { Drain } from './drain.js';
import { opsRoutes } from './ops-routes.js';
import { KeyGuard } from './middleware/key-guard.js';
import { PUBLIC_WRITE_ROUTES, publicWriteLimit, RateLimits } from './middleware/rate-limit.js';
import { requestId } from './middleware/request-id.js';
import { requestLog } from './middleware/request-log.js';

export interface AppOptions {
  /** The server's graceful stop (`zia serve` drives it); /readyz answers 503 while it drains. */
  drain?: Drain;
}

/** The Express app, middleware in the order a request meets it. */
export function createApp(services: Services, options: AppOptions = {}): Express {
  const { config, logger } = services;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', parseTrustProxy(config.TRUST_PROXY));
  app.set('json spaces', 0);

  const onError = errorHandler(logger);
  const limits = new RateLimits({ store: rateLimiters(services.db) });
  const api = new Api(
    createAuthenticator(config.ADMIN_KEY, (key) => services.apiKeys.resolve(key), new KeyGuard(limits, logger, services.metrics.registry)),
    (err, req, res) => onError(err, req, res, () => undefined),
    ({ principal, ...entry }) => services.audit.record({ actor: principal, ...entry }),
  );
  const drain = options.drain ?? new Drain();
  const registry = services.metrics.registry;
  services.metrics.collectProcessMetrics();

  // 1. Track it for a graceful stop; identify and log every request; count it.
  app.use(drain.middleware);
  app.use(requestId());
  app.use(requestLog(logger));
  app.use(httpMetrics(registry));

  // 2. CORS for browsers (the widget): ALLOWED_ORIGINS everywhere, a tenant's allowed_origins on its public routes.
  app.use(tenantCors({ allowedOrigins: config.ALLOWED_ORIGINS, siteUrl: config.SITE_URL, tenants: services.tenants, logger }));

  // 3. Signed webhooks read their own bodies (the signature covers the exact bytes or parameters
  //    received), capped and refused early, so they are mounted before the shared parsers.
  app.use(metaRoutes(api, { config, tenants: services.tenants, inbox: services.webhooks, cloud: services.cloudWebhooks, logger }));
  app.use(stripeWebhookRoutes(api, services.stripeWebhooks));
  app.use(
    whatsappRoutes(api, { config, tenants: services.tenants, inbox: services.webhooks, sends: services.whatsapp, conversations: services.conversations, logger }),
  );

  // 4. Bodies: JSON and forms, with a limit. The raw bytes are not kept: a request's few bytes of body
  //    would pin the buffer-pool slab they were copied into for as long as the request lasts (a chat
  //    stream: minutes), whatever else in the slab is long dead.
  app.use(express.json({ limit: '256kb' }));
  app.use(express.urlencoded({ extended: false, limit: '256kb' }));

  // 5. Operational routes.
  app.use(opsRoutes(api, { services, drain }));

  // 6. One rate limit for every public route that writes or spends: per tenant and client address.
  //    Mounted path by path so a refused request is still counted under its route in /metrics.
  const publicLimit = publicWriteLimit({ limits, logger, findTenant: (slug) => services.tenants.find(slug), defaultPerMinute: config.ZIA_RATE_LIMIT_PER_MINUTE });
  for (const path of PUBLIC_WRITE_ROUTES) app.post(path, publicLimit);

  // 7. Feature routes; chat first, as the most frequent (a request walks the routers in this order).
  app.use(
    chatRoutes(api, {
      chat: services.chat,
      tenants: services.tenants,
      logger,
      shutdown: services.shutdown.signal,
      openStreams: services.metrics.sseStreams,
    }),
  );
  app.use(tenantRoutes(api, services.tenants));
  app.use(apiKeyRoutes(api, services));
  app.use(webhookRoutes(api, { webhooks: services.webhooks, tenants: services.tenants, sends: services.sends, config }));
  app.use(jobRoutes(api, services));
  app.use(reportRoutes(api, services));
  app.use(usageRoutes(api, services));
  app.use(handoffRoutes(api, { tenants: services.tenants, handoff: services.handoff, sends: services.sends, feed: services.feed, shutdown: services.shutdown.signal, openStreams: services.metrics.sseStreams }));
  app.use(widgetRoutes(api, { tenants: services.tenants, siteUrl: config.SITE_URL }));
  app.use(catalogRoutes(api, services.tenants, services.catalog));
  app.use(knowledgeRoutes(api, { tenants: services.tenants, knowledge: services.knowledge, search: services.knowledgeSearch }));
  app.use(leadRoutes(api, { leads: services.leads, tenants: services.tenants, conversations: services.conversations }));
  app.use(contactRoutes(api, { tenants: services.tenants, contacts: services.contacts }));
  app.use(paymentRoutes(api, { tenants: services.tenants, payments: services.payments }));
  app.use(auditRoutes(api, { tenants: services.tenants, audit: services.audit }));

  // 8. Everything else: JSON 404, and one error handler.
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
