import { Router } from 'express';
import { noteAudit, type Api } from '../../http/api.js';
import type { TenantService } from '../tenants/tenant-service.js';
import type { DeliveryRecord } from './webhook-store.js';
import type { WebhookService } from './webhook-service.js';
import type { Config } from '../../config.js';
import { sendView, type OutboundSends } from '../channels/outbound-sends.js';
import { buildSimulation, sendSimulation } from '../diagnostics/webhook-simulator.js';
import { deliveryListQuerySchema, idParamsSchema, simulateBodySchema } from './webhook.schemas.js';
import * as R from '../../http/response-schemas.js';

/** The inbox, for operators: what arrived, what happened to it, and a way to run it again. */
export function webhookRoutes(api: Api, deps: { webhooks: WebhookService; tenants: TenantService; sends: OutboundSends; config: Config }): Router {
  const router = Router();
  api.route(
    router,
    { method: 'get', path: '/v1/admin/webhooks/deliveries', summary: 'Webhook delivery log (newest first), with the replies in doubt (held, uncertain, re-sent after a crash)', tag: 'webhooks', auth: 'admin', response: R.deliveryList, query: deliveryListQuerySchema },
    async ({ query }) => {
      const tenant = query.tenant ? await deps.tenants.get(query.tenant) : undefined;
      const rows = await deps.webhooks.list({ status: query.status, provider: query.provider, tenantId: tenant?.id, limit: query.limit });
      const doubts = await deps.sends.inDoubt(tenant?.id, { limit: query.limit });
      return { deliveries: rows.map(deliveryView), counts: await deps.webhooks.countByStatus(), sends_in_doubt: doubts.map(sendView) };
    },
  );
  api.route(
    router,
    { method: 'post', path: '/v1/admin/webhooks/deliveries/:id/replay', summary: 'Process a delivery again (dead, failed or processed)', tag: 'webhooks', auth: 'admin', response: R.deliveryOne, errors: [409], params: idParamsSchema, audit: 'webhook.replayed' },
    async ({ params, res }) => {
      const delivery = await deps.webhooks.replay(params.id);
      if (delivery.tenantId) noteAudit(res, { tenant: { id: delivery.tenantId }, details: { provider: delivery.provider } });
      return { delivery: deliveryView(delivery) };
    },
  );
  api.route(
    router,
    {
      method: 'post',
      path: '/v1/admin/webhooks/simulate',
      summary: 'Send a correctly signed sample webhook (meta, whatsapp, stripe) to SITE_URL or the given server, as the provider would',
      tag: 'webhooks',
      auth: 'admin',
      body: simulateBodySchema,
      response: R.simulation,
      errors: [404, 502, 503],
      audit: 'webhook.simulated',
    },
    async ({ body, res }) => {
      const tenant = await deps.tenants.get(body.tenant);
      const req = await buildSimulation(body.provider, deps.config, deps.tenants, {
        tenant,
        text: body.text,
        baseUrl: body.url ?? deps.config.SITE_URL,
        ...(body.from ? { from: body.from } : {}),
        ...(body.order_id ? { orderId: body.order_id } : {}),
      });
      const answer = await sendSimulation(req);
      noteAudit(res, { target: req.externalId, details: { provider: body.provider, status: answer.status } });
      return { provider: body.provider, url: req.url, external_id: req.externalId, status: answer.status, ok: answer.status >= 200 && answer.status < 300, response: answer.body };
    },
  );
  return router;
}

export function deliveryView(delivery: DeliveryRecord) {
  return {
    id: delivery.id,
    provider: delivery.provider,
    external_id: delivery.externalId,
    tenant_id: delivery.tenantId,
    kind: delivery.kind,
    status: delivery.status,
    attempts: delivery.attempts,
    duplicates: delivery.duplicates,
    last_error: delivery.lastError,
    processed_at: delivery.processedAt,
    created_at: delivery.createdAt,
    updated_at: delivery.updatedAt,
  };
}
