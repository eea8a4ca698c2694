import { once } from 'node:events';
import { Router, type Response } from 'express';
import { noteAudit, type Api } from '../../http/api.js';
import { BadRequestError } from '../../errors.js';
import type { EventService } from '../events/event-service.js';
import { requiredTenant, scopedTenant } from '../tenants/tenant-routes.js';
import type { TenantService } from '../tenants/tenant-service.js';
import type { AnalyticsReport } from './analytics-read-model.js';
import type { LeadReport } from './lead-read-model.js';
import { analyticsQuery, eventListQuery, leadExportQuery, leadListQuery } from './reports.schemas.js';
import * as R from '../../http/response-schemas.js';

interface Deps {
  tenants: TenantService;
  events: EventService;
  leadReport: LeadReport;
  analytics: AnalyticsReport;
}

const DAY = 86_400_000;

/** Operator reads: leads (paged and exported), events, analytics. */
export function reportRoutes(api: Api, deps: Deps): Router {
  const router = Router();

  api.route(
    router,
    { method: 'get', path: '/v1/admin/leads', summary: 'Leads, oldest first, keyset-paged (next_cursor)', tag: 'leads', auth: 'tenant', response: R.leadPage, query: leadListQuery },
    async ({ query, principal }) => {
      const tenant = await scopedTenant(deps.tenants, principal, query.tenant);
      return deps.leadReport.page({ tenantId: tenant?.id, since: query.since, until: query.until }, query.limit, query.cursor);
    },
  );

  api.route(
    router,
    { method: 'get', path: '/v1/admin/leads/export', summary: 'Stream every matching lead as CSV or JSON lines', tag: 'leads', auth: 'tenant', query: leadExportQuery, produces: 'text/csv or application/x-ndjson, streamed', content: ['text/csv', 'application/x-ndjson'], audit: 'leads.exported' },
    async ({ query, principal, res }) => {
      const tenant = await scopedTenant(deps.tenants, principal, query.tenant);
      noteAudit(res, { details: { format: query.format, since: query.since ?? null, until: query.until ?? null } });
      res.status(200);
      res.setHeader('content-type', query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
      res.setHeader('content-disposition', `attachment; filename="leads-${tenant?.slug ?? 'all'}.${query.format}"`);
      await pipeChunks(res, deps.leadReport.export({ tenantId: tenant?.id, since: query.since, until: query.until }, query.format));
      return undefined;
    },
  );

  api.route(
    router,
    { method: 'get', path: '/v1/admin/events', summary: "A tenant's events, newest first", tag: 'analytics', auth: 'tenant', response: R.events, query: eventListQuery },
    async ({ query, principal }) => {
      const tenant = await requiredTenant(deps.tenants, principal, query.tenant);
      const events = await deps.events.list(tenant.id, {
        type: query.type,
        conversationId: query.conversation_id,
        since: query.since,
        until: query.until,
        limit: query.limit,
      });
      return { events: events.map((e) => ({ id: e.id, type: e.type, conversation_id: e.conversationId, data: e.data, created_at: e.createdAt })) };
    },
  );

  api.route(
    router,
    { method: 'get', path: '/v1/admin/analytics', summary: 'Event counts per interval, the funnels, handoffs and outcomes against the previous period', tag: 'analytics', auth: 'tenant', response: R.analytics, query: analyticsQuery },
    async ({ query, principal }) => {
      const tenant = await requiredTenant(deps.tenants, principal, query.tenant);
      const to = query.to ?? new Date().toISOString();
      const from = query.from ?? new Date(Date.parse(to) - 30 * DAY).toISOString();
      if (from >= to) throw new BadRequestError('from must be before to');
      return { tenant: tenant.slug, ...(await deps.analytics.analytics({ tenantId: tenant.id, from, to, interval: query.interval })) };
    },
  );

  return router;
}


/** Writes chunks with backpressure; stops reading the database when the client goes away. */
export async function pipeChunks(res: Response, chunks: AsyncIterable<string>): Promise<void> {
  let gone = false;
  res.once('close', () => (gone = true));
  for await (const chunk of chunks) {
    if (gone) break;
    if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  }
  res.end();
}
