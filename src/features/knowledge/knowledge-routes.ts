import express, { Router } from 'express';
import { BadRequestError } from '../../errors.js';
import { noteAudit, type Api, type Principal } from '../../http/api.js';
import { requiredTenant } from '../tenants/tenant-routes.js';
import type { TenantService } from '../tenants/tenant-service.js';
import { reportView, sourceView } from './knowledge-views.js';
import type { KnowledgeSearch } from './knowledge-search.js';
import { MAX_FILE_BYTES, type KnowledgeService } from './knowledge-service.js';
import { knowledgeAddBody, knowledgeParams, knowledgeSearchQuery, knowledgeTenantQuery, knowledgeUploadQuery } from './knowledge.schemas.js';
import * as R from '../../http/response-schemas.js';

interface Deps {
  tenants: TenantService;
  knowledge: KnowledgeService;
  search: KnowledgeSearch;
}

/** Operators' knowledge base API: the same as `zia knowledge`, for the admin key or a key scoped to the tenant. */
export function knowledgeRoutes(api: Api, deps: Deps): Router {
  const router = Router();
  const base = '/v1/admin/knowledge';

  const tenantOf = (principal: Principal | undefined, slug: string | undefined) => requiredTenant(deps.tenants, principal, slug);

  api.route(
    router,
    { method: 'get', path: base, summary: "List a tenant's knowledge sources", tag: 'knowledge', auth: 'tenant', query: knowledgeTenantQuery, response: R.knowledgeSources },
    async ({ query, principal }) => ({ sources: (await deps.knowledge.list(await tenantOf(principal, query.tenant))).map(sourceView) }),
  );
  api.route(
    router,
    {
      method: 'post',
      path: base,
      summary: 'Add a page, sitemap or site to crawl; a worker syncs it at once and then on its schedule',
      tag: 'knowledge',
      auth: 'tenant',
      body: knowledgeAddBody,
      status: 202,
      response: R.knowledgeSource,
      errors: [409],
      audit: 'knowledge.added',
    },
    async ({ body, principal, res }) => {
      const tenant = await tenantOf(principal, body.tenant);
      const source = await deps.knowledge.addUrl(tenant, { url: body.url, mode: body.mode, maxPages: body.max_pages, syncHours: body.sync_hours });
      noteAudit(res, { target: source.id, details: { kind: source.kind } });
      await deps.knowledge.requestSync(tenant, source);
      return { source: sourceView(source) };
    },
  );
  api.route(
    router,
    {
      method: 'post',
      path: `${base}/files`,
      summary: 'Upload a file (Markdown, text, HTML or PDF as the raw request body) and index it now; the same name replaces it',
      tag: 'knowledge',
      auth: 'tenant',
      query: knowledgeUploadQuery,
      status: 201,
      response: R.knowledgeSync,
      audit: 'knowledge.added',
    },
    async ({ query, principal, req, res }) => {
      const tenant = await tenantOf(principal, query.tenant);
      if (!Buffer.isBuffer(req.body) || req.body.length === 0) {
        throw new BadRequestError('send the file itself as the request body, with its Content-Type (text/markdown, text/plain, text/html, application/pdf)');
      }
      const report = await deps.knowledge.addFile(tenant, { name: query.name, body: req.body, contentType: req.get('content-type') });
      noteAudit(res, { target: report.source.id, details: { kind: report.source.kind, indexed: report.indexed } });
      return reportView(report);
    },
    // Any type but JSON and forms, which the shared parsers have read already.
    express.raw({ type: () => true, limit: MAX_FILE_BYTES }),
  );
  api.route(
    router,
    { method: 'get', path: `${base}/search`, summary: 'The passages (and scores) the bot would use for a question', tag: 'knowledge', auth: 'tenant', query: knowledgeSearchQuery, response: R.knowledgeSearch },
    async ({ query, principal }) => {
      const tenant = await tenantOf(principal, query.tenant);
      const passages = await deps.search.search(tenant, query.q, { limit: query.limit, includeFlagged: true });
      return {
        passages: passages.map((p, i) => ({
          title: p.title,
          url: p.url,
          location: p.location,
          heading: p.heading,
          text: p.text,
          score: p.score,
          coverage: p.coverage,
          clear: p.clear,
          flagged: p.flagged,
          in_prompt: i < 3 && p.clear && !p.flagged,
        })),
      };
    },
  );
  api.route(
    router,
    { method: 'get', path: `${base}/:id`, summary: 'A knowledge source and its documents (skipped ones with the reason)', tag: 'knowledge', auth: 'tenant', params: knowledgeParams, query: knowledgeTenantQuery, response: R.knowledgeSourceDetail },
    async ({ params, query, principal }) => {
      const tenant = await tenantOf(principal, query.tenant);
      const source = await deps.knowledge.get(tenant, params.id);
      const documents = await deps.knowledge.documents(tenant, source.id);
      return {
        source: sourceView(source),
        documents: documents.map((d) => ({ url: d.url, title: d.title, status: d.status, skip_reason: d.skipReason, chunk_count: d.chunkCount })),
      };
    },
  );
  api.route(
    router,
    { method: 'post', path: `${base}/:id/sync`, summary: 'Queue a sync of the source now', tag: 'knowledge', auth: 'tenant', params: knowledgeParams, query: knowledgeTenantQuery, status: 202, response: R.knowledgeSource, errors: [409], audit: 'knowledge.synced' },
    async ({ params, query, principal }) => {
      const tenant = await tenantOf(principal, query.tenant);
      const source = await deps.knowledge.get(tenant, params.id);
      await deps.knowledge.requestSync(tenant, source);
      return { source: sourceView(source) };
    },
  );
  api.route(
    router,
    { method: 'delete', path: `${base}/:id`, summary: 'Remove a source and everything indexed from it', tag: 'knowledge', auth: 'tenant', params: knowledgeParams, query: knowledgeTenantQuery, response: R.knowledgeDeleted, audit: 'knowledge.removed' },
    async ({ params, query, principal }) => {
      const tenant = await tenantOf(principal, query.tenant);
      await deps.knowledge.remove(tenant, params.id);
      return { deleted: params.id };
    },
  );
  return router;
}
