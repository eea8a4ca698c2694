import { z } from 'zod';
import { ulidSchema } from '../../validation.js';
import { slugSchema } from '../tenants/tenant.schemas.js';

export const E164 = /^\+[1-9]\d{6,14}$/;
export const e164Schema = z.string().regex(E164, 'an E.164 number such as +4791234567');
export const quantitySchema = z.number().int().min(1).max(99);

const refId = z.string().min(1).max(191);
const common = {
  tenant: slugSchema.optional().describe('tenant slug; or ?tenant='),
  conversation_id: ulidSchema.optional().describe('the buyer\'s conversation: its id becomes client_reference_id'),
  customer_email: z.email().max(320).optional(),
};

/*
 * Checkout bodies are non-strict on purpose: a widget or an older client may send a price or an amount
 * along; such fields are dropped here and the price always comes from the plan or the catalog.
 */
export const byPlanBodySchema = z.object({ ...common, plan_id: refId });
export const byItemBodySchema = z.object({ ...common, item_id: refId, quantity: quantitySchema.default(1) });

/** A QR or a WhatsApp message is only ever made for a link zia creates: by plan, by item or an existing order. */
const linkSource = z
  .object({
    ...common,
    plan_id: refId.optional(),
    item_id: refId.optional(),
    quantity: quantitySchema.optional(),
    order_id: ulidSchema.optional(),
  })
  .refine((b) => [b.plan_id, b.item_id, b.order_id].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of plan_id, item_id or order_id',
  })
  .refine((b) => b.quantity === undefined || b.item_id !== undefined, { message: 'quantity only applies to item_id', path: ['quantity'] });

export const qrBodySchema = linkSource;
export const sendWaBodySchema = z.intersection(linkSource, z.object({ to: e164Schema.describe('recipient, +E.164') }));

export const tenantQuerySchema = z.object({ tenant: slugSchema.optional() });
export const qrQuerySchema = z.object({ tenant: slugSchema.optional(), format: z.enum(['png', 'svg']).default('png') });

export const onboardBodySchema = z.strictObject({
  tenant: slugSchema,
  country: z.string().regex(/^[A-Za-z]{2}$/, 'ISO 3166-1 alpha-2, e.g. NO').toUpperCase().optional(),
  email: z.email().max(320).optional(),
});

export const pageQuerySchema = z.object({
  tenant: slugSchema.optional(),
  session_id: z.string().max(255).optional(),
});

export type LinkSource = z.output<typeof linkSource>;
