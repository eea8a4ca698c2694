import { z } from 'zod';
import { ulidSchema } from '../../validation.js';
import { isoTime } from '../reports/reports.schemas.js';
import { slugSchema } from '../tenants/tenant.schemas.js';

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** A duration back from now (`30m`, `12h`, `7d`, `2w`), as the ISO time it reaches. */
const ago = z
  .string()
  .regex(/^\d{1,6}[mhdw]$/)
  .transform((v) => new Date(Date.now() - Number(v.slice(0, -1)) * UNIT_MS[v.at(-1) as keyof typeof UNIT_MS]).toISOString());

/** An ISO date or date-time, or a duration back from now. */
export const sinceSchema = z.union([ago, isoTime], { error: 'a date (2026-11-01), an ISO-8601 date-time, or a duration such as 7d, 12h, 30m' });

export const auditListQuery = z.strictObject({
  tenant: slugSchema.optional(),
  since: sinceSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: ulidSchema.optional().describe('next_cursor of the previous page'),
});
