import { z } from 'zod';
import { slugSchema } from '../tenants/tenant.schemas.js';

/** A calendar month, UTC: 2026-11. */
export const monthSchema = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM');

export const usageQuery = z.strictObject({
  tenant: slugSchema.optional(),
  month: monthSchema.optional().describe('YYYY-MM, UTC; default the current month'),
  format: z.enum(['json', 'csv']).default('json'),
});

const counted = z.object({ total: z.number(), by_channel: z.record(z.string(), z.number()) }).loose();

/** GET /v1/admin/usage as JSON (documentation only). */
export const usageResponse = z
  .object({
    month: z.string(),
    tenants: z.array(
      z
        .object({
          tenant: z.string(),
          conversations: counted,
          messages_in: counted,
          messages_out: counted,
          models: z.array(z.object({ model: z.string(), requests: z.number(), tokens_in: z.number(), tokens_out: z.number(), cost_usd: z.number() }).loose()),
          model_cost_usd: z.number().describe('estimated, US dollars'),
          checkout_sessions: z.number(),
          template_sends: z.record(z.string(), z.number()).describe('by template category'),
          payments: z.array(z.object({ currency: z.string(), count: z.number(), amount: z.number().describe('minor units') }).loose()),
          caps: z.array(z.object({ cap: z.string(), limit: z.number(), used: z.number(), share: z.number() }).loose()),
        })
        .loose(),
    ),
  })
  .loose();
