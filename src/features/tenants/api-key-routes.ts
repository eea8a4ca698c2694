import { Router } from 'express';
import { noteAudit, type Api } from '../../http/api.js';
import type { ApiKeyService } from './api-key-service.js';
import type { TenantService } from './tenant-service.js';
import { keyCreateBody, keyParams, slugParamsSchema } from './tenant.schemas.js';
import * as R from '../../http/response-schemas.js';

/** Keys scoped to one tenant: created (shown once), listed, revoked — by the admin only. */
export function apiKeyRoutes(api: Api, deps: { tenants: TenantService; apiKeys: ApiKeyService }): Router {
  const router = Router();

  api.route(
    router,
    { method: 'post', path: '/v1/admin/tenants/:slug/keys', summary: 'Create a key scoped to this tenant (shown once)', tag: 'tenants', auth: 'admin', response: R.keyCreated, params: slugParamsSchema, body: keyCreateBody, status: 201, audit: 'key.created' },
    async ({ params, body, res }) => {
      const { key, record } = await deps.apiKeys.create(await deps.tenants.get(params.slug), body.name);
      noteAudit(res, { target: record.id, details: { name: record.name } });
      return { key, id: record.id, prefix: record.prefix, name: record.name, created_at: record.createdAt };
    },
  );
  api.route(
    router,
    { method: 'get', path: '/v1/admin/tenants/:slug/keys', summary: "A tenant's scoped keys (never the keys themselves)", tag: 'tenants', auth: 'admin', response: R.keyList, params: slugParamsSchema },
    async ({ params }) => ({ keys: await deps.apiKeys.list(await deps.tenants.get(params.slug)) }),
  );
  api.route(
    router,
    { method: 'delete', path: '/v1/admin/tenants/:slug/keys/:id', summary: 'Revoke a scoped key (by id or prefix)', tag: 'tenants', auth: 'admin', response: R.keyRevoked, params: keyParams, audit: 'key.revoked' },
    async ({ params }) => {
      await deps.apiKeys.revoke(await deps.tenants.get(params.slug), params.id);
      return { revoked: params.id };
    },
  );

  return router;
}
