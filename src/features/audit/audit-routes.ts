import { Router } from 'express';
import type { Api } from '../../http/api.js';
import * as R from '../../http/response-schemas.js';
import { scopedTenant } from '../tenants/tenant-routes.js';
import type { TenantService } from '../tenants/tenant-service.js';
import { auditView, type AuditLog } from './audit-log.js';
import { auditListQuery } from './audit.schemas.js';

/** Reading the audit log; there is no route that changes or removes an entry. */
export function auditRoutes(api: Api, deps: { tenants: TenantService; audit: AuditLog }): Router {
  const router = Router();
  api.route(
    router,
    { method: 'get', path: '/v1/admin/audit', summary: 'The audit log, newest first, keyset-paged (next_cursor): who changed what, when, from where', tag: 'audit', auth: 'tenant', response: R.auditPage, query: auditListQuery },
    async ({ query, principal }) => {
      // A scoped key sees its own tenant's entries only; the admin key names a tenant by slug, so a
      // deleted tenant's entries can still be found.
      const own = principal?.kind === 'tenant-key' ? await scopedTenant(deps.tenants, principal, query.tenant) : undefined;
      const page = await deps.audit.list(own?.id, { tenantSlug: own ? undefined : query.tenant, since: query.since, before: query.before, limit: query.limit });
      return { entries: page.entries.map(auditView), next_cursor: page.nextCursor };
    },
  );
  return router;
}
