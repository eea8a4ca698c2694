import { z } from 'zod';
import { slugSchema } from '../tenants/tenant.schemas.js';

/** Paging is by an opaque cursor (what next_cursor returned) or a plain offset; not both. */
export const catalogQuerySchema = z
  .object({
    tenant: slugSchema,
    q: z.string().trim().max(200).optional().describe('search words; results ranked best first'),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z
      .string()
      .max(100)
      .regex(/^[A-Za-z0-9_-]+$/, 'a cursor from next_cursor')
      .optional(),
    offset: z.coerce.number().int().min(0).max(1_000_000).optional(),
  })
  .refine((q) => q.cursor === undefined || q.offset === undefined, { message: 'give cursor or offset, not both', path: ['cursor'] });

export function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

/** undefined when the cursor is not one we issued. */
export function decodeCursor(cursor: string): number | undefined {
  const m = /^o:(\d{1,7})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}
