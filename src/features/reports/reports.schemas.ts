import { z } from 'zod';
import { slugSchema } from '../tenants/tenant.schemas.js';

/** A date (2026-11-01) or a date-time with offset; normalised to ISO-8601 UTC. */
export const isoTime = z
  .string()
  .refine((v) => /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(v) && !Number.isNaN(Date.parse(v)), {
    message: 'a date (2026-11-01) or an ISO-8601 date-time with offset',
  })
  .transform((v) => new Date(v).toISOString());

export const leadListQuery = z.strictObject({
  tenant: slugSchema.optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
});

export const leadExportQuery = z.strictObject({
  tenant: slugSchema.optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  format: z.enum(['csv', 'jsonl']).default('csv'),
});

export const eventListQuery = z.strictObject({
  tenant: slugSchema.optional(),
  type: z.string().max(48).optional(),
  conversation_id: z.string().max(64).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const analyticsQuery = z.strictObject({
  tenant: slugSchema.optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
  interval: z.enum(['hour', 'day', 'week']).default('day'),
});

export const keyCreateBody = z.strictObject({ name: z.string().trim().min(1).max(100).default('api key') });
export const keyParams = z.object({ slug: slugSchema, id: z.string().min(1).max(64) });
