import { Router, type Response } from 'express';
import { noteAudit, type Api, type Principal } from '../../http/api.js';
import { tenantChanges } from '../audit/tenant-changes.js';
import { BadRequestError, NotFoundError } from '../../errors.js';
import type { Tenant, TenantService } from './tenant-service.js';
import { slugParamsSchema, tenantCreateSchema, tenantQuerySchema, tenantUpdateSchema } from './tenant.schemas.js';
import * as R from '../../http/response-schemas.js';

/**
 * A key scoped to one tenant sees that tenant only; for any other tenant the answer is the same 404 an
 * unknown tenant gets, so a key cannot probe which slugs exist.
 */
export function assertTenantAccess(principal: Principal | undefined, tenant: Tenant): void {
  if (principal?.kind === 'tenant-key' && principal.tenantId !== tenant.id) {
    throw new NotFoundError(`tenant '${tenant.slug}' not found`);
  }
}

/**
 * The tenant an admin-API request is about. ADMIN_KEY: the named tenant, or all tenants when none is
 * named (undefined). A scoped key: always its own tenant; naming another one is a 404.
 */
export async function scopedTenant(
  tenants: TenantService,
  principal: Principal | undefined,
  slug: string | undefined,
): Promise<Tenant | undefined> {
  if (principal?.kind === 'tenant-key') {
    const own = await tenants.getById(principal.tenantId);
    if (slug !== undefined && slug !== own.slug) throw new NotFoundError(`tenant '${slug}' not found`);
    return own;
  }
  return slug === undefined ? undefined : tenants.get(slug);
}

/** scopedTenant for routes that act on one tenant: the admin key must name it. */
export async function requiredTenant(tenants: TenantService, principal: Principal | undefined, slug: string | undefined): Promise<Tenant> {
  const tenant = await scopedTenant(tenants, principal, slug);
  if (!tenant) throw new BadRequestError('name the tenant: ?tenant=<slug> (or "tenant" in the body)');
  return tenant;
}

export function tenantRoutes(api: Api, tenants: TenantService): Router {
  const router = Router();
  /** The audit entry of a write names the fields and settings it changed, never their values. */
  const noteChanges = (res: Response, before: Tenant | undefined, after: Tenant) =>
    noteAudit(res, { action: before ? 'tenant.updated' : 'tenant.created', tenant: after, target: after.slug, details: tenantChanges(tenants, before, after) });

  for (const base of ['/v1/tenants', '/v1/admin/tenants']) {
    api.route(
      router,
      { method: 'post', path: base, summary: 'Create a tenant, or update the one with that slug', tag: 'tenants', auth: 'admin', response: R.tenantUpsert, statuses: [201], body: tenantCreateSchema, audit: 'tenant.created' },
      async ({ body, res }) => {
        const before = await tenants.findStored(body.slug);
        const { tenant, created } = await tenants.upsert(body);
        noteChanges(res, before, tenant);
        res.status(created ? 201 : 200);
        return { tenant: tenants.view(tenant), created };
      },
    );
    api.route(router, { method: 'get', path: base, summary: 'List tenants', tag: 'tenants', auth: 'admin', response: R.tenantList }, async () => ({
      tenants: (await tenants.list()).map((t) => tenants.view(t)),
    }));
    api.route(
      router,
      { method: 'get', path: `${base}/:slug`, summary: 'Show a tenant (secrets redacted)', tag: 'tenants', auth: 'tenant', response: R.tenantOne, params: slugParamsSchema },
      async ({ params, principal }) => {
        const tenant = await tenants.get(params.slug);
        assertTenantAccess(principal, tenant);
        return { tenant: tenants.view(tenant) };
      },
    );
    api.route(
      router,
      { method: 'patch', path: `${base}/:slug`, summary: 'Update a tenant; settings keys merge, null removes', tag: 'tenants', auth: 'admin', response: R.tenantOne, params: slugParamsSchema, body: tenantUpdateSchema, audit: 'tenant.updated' },
      async ({ params, body, res }) => {
        const before = await tenants.findStored(params.slug);
        const after = await tenants.update(params.slug, body);
        noteChanges(res, before, after);
        return { tenant: tenants.view(after) };
      },
    );
    api.route(
      router,
      { method: 'delete', path: `${base}/:slug`, summary: 'Delete a tenant and everything it owns', tag: 'tenants', auth: 'admin', response: R.tenantDeleted, params: slugParamsSchema, audit: 'tenant.deleted' },
      async ({ params, res }) => {
        // Named before it goes: the entry keeps the deleted tenant's id and slug.
        noteAudit(res, { tenant: await tenants.get(params.slug) });
        await tenants.delete(params.slug);
        return { deleted: params.slug };
      },
    );
  }

  return router;
}
