import { z } from 'zod';
import { ulidSchema } from '../../validation.js';
import { slugSchema } from '../tenants/tenant.schemas.js';
import { DELIVERY_STATUSES } from './webhook-store.js';

export const deliveryListQuerySchema = z.strictObject({
  status: z.enum(DELIVERY_STATUSES).optional(),
  provider: z.string().max(16).regex(/^[a-z]*$/, 'a provider name such as meta, twilio or stripe').optional(),
  tenant: slugSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const idParamsSchema = z.strictObject({ id: ulidSchema });

export const simulateBodySchema = z.strictObject({
  provider: z.enum(['meta', 'whatsapp', 'stripe']),
  tenant: slugSchema,
  text: z.string().min(1).max(2000).default('Hello from zia webhooks simulate'),
  /** Base URL of the server to send to; default SITE_URL (the public path, through any proxy). */
  url: z.url({ protocol: /^https?$/ }).optional(),
  from: z.string().min(1).max(64).optional(),
  order_id: ulidSchema.optional(),
});
