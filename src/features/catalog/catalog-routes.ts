import { Router } from 'express';
import type { Api } from '../../http/api.js';
import { AppError, ValidationError } from '../../errors.js';
import type { TenantService } from '../tenants/tenant-service.js';
import type { CatalogItem } from './catalog.types.js';
import { catalogQuerySchema, decodeCursor, encodeCursor } from './catalog.schemas.js';
import type { CatalogService } from './catalog-service.js';
import * as R from '../../http/response-schemas.js';

/** The public catalog (the widget and shop pages read it): items with prices formatted for the tenant. */
export function catalogRoutes(api: Api, tenants: TenantService, catalog: CatalogService): Router {
  const router = Router();
  api.route(
    router,
    { method: 'get', path: '/v1/catalog', summary: "A tenant's normalised product catalog, paged; q searches", tag: 'catalog', auth: 'public', response: R.catalogPage, errors: [503], query: catalogQuerySchema },
    async ({ query }) => {
      const tenant = await tenants.get(query.tenant);
      let offset = query.offset ?? 0;
      if (query.cursor !== undefined) {
        const decoded = decodeCursor(query.cursor);
        if (decoded === undefined) throw new ValidationError('invalid query: cursor: not a cursor this API issued', [{ path: 'query.cursor', message: 'not a cursor this API issued' }]);
        offset = decoded;
      }
      let page;
      try {
        page = await catalog.page(tenant, { q: query.q, offset, limit: query.limit });
      } catch (err) {
        // The reason (an address, a DNS answer) is for the operator (`zia catalog show`), not the public.
        if (err instanceof AppError && err.code === 'catalog_unavailable') throw new AppError(503, 'catalog_unavailable', 'the catalog is temporarily unavailable');
        throw err;
      }
      const next = offset + page.hits.length;
      return {
        tenant: tenant.slug,
        total: page.total,
        offset,
        limit: query.limit,
        fetched_at: page.fetchedAt,
        items: page.hits.map((h) => ({ ...view(h.item), price_text: h.priceText, ...(h.score !== undefined ? { score: h.score } : {}) })),
        next_cursor: next < page.total ? encodeCursor(next) : null,
      };
    },
  );
  return router;
}

function view(item: CatalogItem) {
  return {
    id: item.id,
    name: item.name,
    description: item.description,
    price: item.price,
    currency: item.currency,
    url: item.url,
    image: item.image,
    available: item.available,
    stock: item.stock,
  };
}
