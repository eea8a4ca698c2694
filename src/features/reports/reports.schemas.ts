import { z } from 'zod';
import { ulidSchema } from '../../validation.js';
import { slugSchema } from '../tenants/tenant.schemas.js';

/** Both databases order and compare every instant in this range; PostgreSQL refuses year 0 outright. */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A date (2026-11-01) or a date-time with offset, between 1970 and 9999; normalised to ISO-8601 UTC. */
export const isoTime = z
  .string()
  .refine((v) => /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(v) && !Number.isNaN(Date.parse(v)), {
    message: 'a date (2026-11-01) or an ISO-8601 date-time with offset',
    abort: true,
  })
  .refine((v) => Date.parse(v) >= EARLIEST && Date.parse(v) <= LATEST, { message: 'a time between 1970-01-01 and 9999-12-31 (UTC)' })
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
  conversation_id: ulidSchema.optional(),
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

