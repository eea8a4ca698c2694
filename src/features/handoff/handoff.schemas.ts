import { z } from 'zod';
import { ulidSchema } from '../../validation.js';
import { CHANNELS } from '../chat/chat.types.js';
import { slugSchema } from '../tenants/tenant.schemas.js';

export const conversationListQuery = z
  .strictObject({
    tenant: slugSchema.optional(),
    channel: z.enum(CHANNELS).optional(),
    paused: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
    waiting: z
      .enum(['true'])
      .transform(() => true)
      .optional()
      .describe('only customers waiting for a person, longest waiting first (one page, no cursor)'),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: ulidSchema.optional().describe('next_cursor of the previous page'),
  })
  .refine((q) => !(q.waiting && q.cursor), { message: 'waiting lists are one page: leave out cursor', path: ['cursor'] });

export const conversationParams = z.strictObject({ id: ulidSchema });

export const feedQuery = z.strictObject({
  tenant: slugSchema.optional(),
  last_event_id: ulidSchema.optional().describe('resume after this event (the Last-Event-ID header does the same)'),
});

/** A send in outbound_sends (ids are ULIDs). */
export const sendParams = z.strictObject({ id: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/i, 'a send id (26 characters)') });

export const conversationShowQuery = z.strictObject({
  messages: z.coerce.number().int().min(1).max(1000).default(100),
});

export const operatorReplyBody = z.strictObject({
  text: z.string().trim().min(1).max(4000),
});

export const operatorMessagesQuery = z.strictObject({
  tenant: slugSchema,
  conversation_id: ulidSchema,
  /** The last operator message the widget has shown (ids are ULIDs: later ids sort after). */
  after: ulidSchema.optional(),
});
