import { Router } from 'express';
import type { Api } from '../../http/api.js';
import { csvRow } from '../reports/csv.js';
import { scopedTenant } from '../tenants/tenant-routes.js';
import type { TenantService } from '../tenants/tenant-service.js';
import type { UsageReport } from './usage-report.js';
import { currentMonth } from './usage-store.js';
import { usageQuery, usageResponse } from './usage.schemas.js';

export const USAGE_CSV_HEADER = ['month', 'tenant', 'metric', 'dimension', 'value'];

/** Usage for billing: every tenant's month with the admin key, its own with a tenant's key. */
export function usageRoutes(api: Api, deps: { tenants: TenantService; usage: UsageReport }): Router {
  const router = Router();
  api.route(
    router,
    {
      method: 'get',
      path: '/v1/admin/usage',
      summary: "Usage per tenant for a month (JSON, or CSV: month,tenant,metric,dimension,value)",
      tag: 'analytics',
      auth: 'tenant',
      response: usageResponse,
      query: usageQuery,
      content: ['application/json', 'text/csv'],
    },
    async ({ query, principal, res }) => {
      const tenant = await scopedTenant(deps.tenants, principal, query.tenant);
      const month = query.month ?? currentMonth();
      if (query.format === 'json') return { month, tenants: await deps.usage.month(month, tenant) };
      const rows = await deps.usage.csvRows(month, tenant);
      res.status(200);
      res.setHeader('content-type', 'text/csv; charset=utf-8');
      res.setHeader('content-disposition', `attachment; filename="usage-${tenant?.slug ?? 'all'}-${month}.csv"`);
      res.end([csvRow(USAGE_CSV_HEADER), ...rows.map((r) => csvRow([r.month, r.tenant, r.metric, r.dimension, r.value]))].join(''));
      return undefined;
    },
  );
  return router;
}
