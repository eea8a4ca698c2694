import { z } from 'zod';
import { ulidSchema } from '../../validation.js';
import { slugSchema } from '../tenants/tenant.schemas.js';

export const knowledgeTenantQuery = z.strictObject({
  tenant: slugSchema.optional().describe('required with ADMIN_KEY; a scoped key always means its own tenant'),
});

export const knowledgeAddBody = z.strictObject({
  tenant: slugSchema.optional(),
  url: z.string().trim().min(1).max(2000),
  mode: z.enum(['page', 'sitemap', 'crawl']).optional().describe('page: this page; sitemap: the pages it lists; crawl: the site from this page (same site only). Default: sitemap for *.xml, else page'),
  max_pages: z.number().int().min(1).max(10_000).optional(),
  sync_hours: z.number().min(0).max(24 * 90).optional().describe('hours between re-syncs; 0: only when asked'),
});

export const knowledgeUploadQuery = z.strictObject({
  tenant: slugSchema.optional(),
  name: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .regex(/^[^/\\]+$/, 'a file name without a path')
    .describe('the file name (its extension says the type when the Content-Type does not: .md, .txt, .html, .pdf)'),
});

export const knowledgeSearchQuery = z.strictObject({
  tenant: slugSchema.optional(),
  q: z.string().trim().min(1).max(500),
  limit: z.coerce.number().int().min(1).max(20).default(5),
});

export const knowledgeParams = z.strictObject({ id: ulidSchema });
