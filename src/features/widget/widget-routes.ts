import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Router } from 'express';
import type { Api } from '../../http/api.js';
import { fillTemplate } from '../../http/html.js';
import { templatePath } from '../../paths.js';
import type { TenantService } from '../tenants/tenant-service.js';
import { tenantQuerySchema } from '../tenants/tenant.schemas.js';
import * as R from '../../http/response-schemas.js';

/** `GET /widget.js` (one script tag on any site), its public configuration, and `GET /demo?tenant=slug` (a page that embeds it). */
export function widgetRoutes(api: Api, deps: { tenants: TenantService; siteUrl: string }): Router {
  const router = Router();
  // Read once at start: the files ship with the package and never change while running.
  const widget = readFileSync(templatePath('widget.js'));
  const etag = `"${createHash('sha256').update(widget).digest('base64url').slice(0, 22)}"`;
  const demo = readFileSync(templatePath('demo.html'), 'utf8');
  const siteOrigin = new URL(deps.siteUrl).origin;

  api.route(router, { method: 'get', path: '/widget.js', summary: 'The chat widget script to embed on a site', tag: 'widget', auth: 'public', content: ['application/javascript'] }, ({ req, res }) => {
    res.setHeader('content-type', 'application/javascript; charset=utf-8');
    res.setHeader('cache-control', 'public, max-age=300');
    // Any site may load the script itself; what it may call is decided by CORS on the API.
    res.setHeader('cross-origin-resource-policy', 'cross-origin');
    res.setHeader('etag', etag);
    if (req.get('if-none-match') === etag) {
      res.status(304).end();
      return undefined;
    }
    res.send(widget);
    return undefined;
  });

  api.route(
    router,
    { method: 'get', path: '/v1/widget/bootstrap', summary: 'Public widget configuration of a tenant', tag: 'widget', auth: 'public', response: R.bootstrap, query: tenantQuerySchema },
    async ({ query }) => deps.tenants.bootstrap(await deps.tenants.get(query.tenant)),
  );

  api.route(
    router,
    { method: 'get', path: '/demo', summary: 'Demo page embedding the widget for a tenant', tag: 'widget', auth: 'public', query: tenantQuerySchema, produces: 'text/html', content: ['text/html'] },
    async ({ query, res }) => {
      const tenant = await deps.tenants.get(query.tenant);
      // The widget comes from SITE_URL, as on a customer's site, never from the Host header: a forged
      // one would otherwise choose where the page loads its script from (and a cache could keep that).
      const html = fillTemplate(demo, { name: tenant.name, slug: tenant.slug, site: deps.siteUrl });
      res.setHeader('content-security-policy', `default-src 'self'; script-src 'self' ${siteOrigin}; style-src 'self' 'unsafe-inline'; img-src * data:; connect-src 'self' ${siteOrigin}`);
      res.type('html').send(html);
      return undefined;
    },
  );
  return router;
}
