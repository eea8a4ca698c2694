import { z } from 'zod';
import { slugSchema } from '../tenants/tenant.schemas.js';
import { DELIVERY_STATUSES } from './webhook-store.js';

export const deliveryListQuerySchema = z.strictObject({
  status: z.enum(DELIVERY_STATUSES).optional(),
  provider: z.string().max(16).optional(),
  tenant: slugSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const idParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });
