import { z } from 'zod';

/**
 * Meta webhook payloads. Objects are loose: Meta adds fields without notice, and an unknown field must
 * not make us refuse a batch (Meta would retry it for 36 hours, then unsubscribe the app).
 */
const id = z.union([z.string().min(1).max(191), z.number()]).transform(String);

export const envelopeSchema = z.looseObject({
  object: z.string(),
  entry: z
    .array(
      z.looseObject({
        id,
        time: z.number().optional(),
        messaging: z.array(z.unknown()).optional(),
        standby: z.array(z.unknown()).optional(),
        changes: z.array(z.unknown()).optional(),
      }),
    )
    .max(5000),
});

const attachment = z.looseObject({
  type: z.string().optional(),
  payload: z.looseObject({ url: z.string().optional() }).nullish(),
});

export const messagingEventSchema = z.looseObject({
  sender: z.looseObject({ id }),
  recipient: z.looseObject({ id }),
  timestamp: z.number().optional(),
  message: z
    .looseObject({
      mid: z.string().min(1).max(500),
      text: z.string().max(20_000).optional(),
      is_echo: z.boolean().optional(),
      is_deleted: z.boolean().optional(),
      is_unsupported: z.boolean().optional(),
      is_self: z.boolean().optional(),
      attachments: z.array(attachment).optional(),
      quick_reply: z.looseObject({ payload: z.string() }).optional(),
    })
    .optional(),
  postback: z
    .looseObject({
      mid: z.string().min(1).max(500).optional(),
      title: z.string().max(1000).optional(),
      payload: z.string().max(2000).optional(),
    })
    .optional(),
});

export const changeSchema = z.looseObject({ field: z.string(), value: z.looseObject({}) });

export const fbCommentSchema = z.looseObject({
  item: z.string(),
  verb: z.string(),
  comment_id: z.string().min(1).max(191),
  post_id: z.string().optional(),
  parent_id: z.string().optional(),
  from: z.looseObject({ id, name: z.string().optional() }),
  message: z.string().max(20_000).optional(),
  created_time: z.union([z.number(), z.string()]).optional(),
});

export const igCommentSchema = z.looseObject({
  id: z.string().min(1).max(191),
  text: z.string().max(20_000).optional(),
  parent_id: z.string().nullish(),
  from: z.looseObject({ id, username: z.string().optional() }),
  media: z.looseObject({ id: z.string().optional() }).optional(),
});

/** What the inbox stores for a direct message or postback (job kind meta.message). */
export const metaMessageItemSchema = z.strictObject({
  channel: z.enum(['messenger', 'instagram']),
  accountId: z.string(),
  senderId: z.string(),
  mid: z.string(),
  text: z.string(),
  timestamp: z.number().nullable(),
  media: z.array(z.strictObject({ url: z.string(), contentType: z.string().optional() })),
  raw: z.unknown(),
});
export type MetaMessageItem = z.infer<typeof metaMessageItemSchema>;

/** What the inbox stores for a comment (job kind meta.comment). */
export const metaCommentItemSchema = z.strictObject({
  channel: z.enum(['fb_comment', 'ig_comment']),
  accountId: z.string(),
  commentId: z.string(),
  fromId: z.string(),
  fromName: z.string().nullable(),
  text: z.string(),
  /** Seconds since the epoch, when Meta says. */
  createdTime: z.number().nullable(),
  raw: z.unknown(),
});
export type MetaCommentItem = z.infer<typeof metaCommentItemSchema>;

export const verifyQuerySchema = z.looseObject({
  'hub.mode': z.string().max(100).optional(),
  'hub.verify_token': z.string().max(500).optional(),
  'hub.challenge': z.string().max(500).optional(),
});
