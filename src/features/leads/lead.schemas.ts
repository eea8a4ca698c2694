import { z } from 'zod';
import { ulidSchema } from '../../validation.js';
import { emailSchema } from './lead-flow.js';

export const leadFormSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  email: z.string().trim().toLowerCase().pipe(emailSchema),
  whatsapp: z
    .string()
    .trim()
    .transform((v) => v.replace(/[\s().-]/g, '').replace(/^00/, '+'))
    .pipe(z.string().regex(/^\+[1-9]\d{6,14}$/, 'an E.164 number such as +4791234567'))
    .nullable()
    .optional(),
  conversation_id: ulidSchema.optional(),
});
