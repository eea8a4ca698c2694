import type { RequestHandler } from 'express';
import type { Logger } from '../../logger.js';
import type { TenantService } from '../../features/tenants/tenant-service.js';
import { idOf } from './request-id.js';

/** Public routes a tenant's website may call from the browser (the widget). */
const TENANT_PUBLIC = /^\/v1\/(chat|chat\/stream|chat\/operator-messages|chat\/operator-stream|widget\/bootstrap|leads|catalog|stripe\/checkout\/[\w-]+)$/;

/**
 * CORS with two lists: ALLOWED_ORIGINS for every route, plus each tenant's own allowed_origins for that
 * tenant's public routes. A cross-origin request from an origin on neither list is refused outright
 * (403, and 204 with no CORS headers for a preflight) and the reason is logged, so a widget on the
 * wrong site fails visibly instead of half-working.
 */
export function tenantCors(deps: { allowedOrigins: string[]; siteUrl: string; tenants: TenantService; logger: Logger }): RequestHandler {
  const global = new Set(deps.allowedOrigins);
  const site = new URL(deps.siteUrl).origin;
  return async (req, res, next) => {
    const origin = req.get('origin');
    if (!origin || origin === site || origin === `${req.protocol}://${req.get('host')}`) return next();
    const preflight = req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined;
    let allowed = global.has(origin);
    let tenantSlug: string | undefined;
    if (!allowed && TENANT_PUBLIC.test(req.path) && typeof req.query.tenant === 'string') {
      tenantSlug = req.query.tenant;
      try {
        const tenant = await deps.tenants.find(tenantSlug);
        allowed = Boolean(tenant?.settings.allowed_origins?.includes(origin));
      } catch (err) {
        return next(err);
      }
    }
    res.vary('Origin');
    if (!allowed) {
      deps.logger.info(
        { origin, tenant: tenantSlug, path: req.path, request_id: idOf(req) },
        `cors: origin ${origin} refused: not in ALLOWED_ORIGINS${tenantSlug ? ` nor in allowed_origins of tenant '${tenantSlug}'` : ''}`,
      );
      if (preflight) {
        res.status(204).end();
        return;
      }
      res.status(403).json({
        error: { code: 'origin_not_allowed', message: `origin ${origin} is not allowed to call this API`, request_id: idOf(req) },
      });
      return;
    }
    res.setHeader('access-control-allow-origin', origin);
    if (preflight) {
      res.setHeader('access-control-allow-methods', 'GET, POST, PATCH, DELETE, OPTIONS');
      res.setHeader('access-control-allow-headers', global.has(origin) ? 'content-type, x-api-key, x-request-id' : 'content-type, x-request-id');
      res.setHeader('access-control-max-age', '600');
      res.status(204).end();
      return;
    }
    res.setHeader('access-control-expose-headers', 'x-request-id, retry-after');
    next();
  };
}
