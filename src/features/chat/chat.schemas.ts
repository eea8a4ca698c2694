import { z } from 'zod';
import { ulidSchema } from '../../validation.js';

export const chatBodySchema = z.strictObject({
  message: z.string().trim().min(1).max(4000),
  conversation_id: ulidSchema.optional(),
  visitor_id: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[\w.:-]+$/, 'letters, digits, dot, colon, dash, underscore')
    .optional()
    .describe("the widget's stable id for this browser; the conversation continues across page loads"),
});

export type ChatBody = z.output<typeof chatBodySchema>;
