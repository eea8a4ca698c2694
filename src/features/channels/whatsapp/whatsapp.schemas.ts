import { z } from 'zod';
import { slugSchema } from '../../tenants/tenant.schemas.js';

export const twilioQuerySchema = z.object({ tenant: slugSchema.optional() });
export const statusQuerySchema = z.object({ tenant: slugSchema });

const address = z.string().regex(/^whatsapp:\+[1-9]\d{6,14}$/, 'a whatsapp:+E.164 address');
const sid = z.string().regex(/^(SM|MM)[0-9a-fA-F]{32}$/, 'a Twilio message SID');
/** Twilio sends every field once; a repeated one arrives as an array, of which the first counts here. */
const one = <T extends z.ZodType>(s: T) => z.preprocess((v) => (Array.isArray(v) ? v[0] : v), s);

/** The fields of an inbound message zia reads; Twilio's other (and future) fields are kept in the signature only. */
export const inboundFormSchema = z.looseObject({
  MessageSid: one(sid),
  From: one(address),
  To: one(address),
  Body: one(z.string().max(20_000)).optional(),
  ProfileName: one(z.string().max(200)).optional(),
  NumMedia: one(z.string().regex(/^\d{1,2}$/)).optional(),
});

export const statusFormSchema = z.looseObject({
  MessageSid: one(sid),
  MessageStatus: one(z.string().min(1).max(32)),
  ErrorCode: one(z.string().max(16)).optional(),
});

/** What the worker reads from the inbox: the inbound message, already checked and reduced. */
export const whatsappItemSchema = z.strictObject({
  messageSid: sid,
  from: z.string().regex(/^\+[1-9]\d{6,14}$/),
  to: z.string().regex(/^\+[1-9]\d{6,14}$/),
  text: z.string(),
  profileName: z.string().nullable(),
  media: z.array(z.strictObject({ url: z.string(), contentType: z.string().optional() })),
});
export type WhatsAppItem = z.infer<typeof whatsappItemSchema>;

/** The inbox item of a checked inbound form: media refs from MediaUrlN / MediaContentTypeN. */
export function toItem(form: z.infer<typeof inboundFormSchema>): WhatsAppItem {
  const raw = form as Record<string, unknown>;
  const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);
  const media: WhatsAppItem['media'] = [];
  const count = Math.min(Number(form.NumMedia ?? 0), 20);
  for (let i = 0; i < count; i++) {
    const url = first(raw[`MediaUrl${i}`]);
    const type = first(raw[`MediaContentType${i}`]);
    if (typeof url === 'string' && url) media.push({ url, ...(typeof type === 'string' && type ? { contentType: type } : {}) });
  }
  return {
    messageSid: form.MessageSid,
    from: form.From.slice('whatsapp:'.length),
    to: form.To.slice('whatsapp:'.length),
    text: (form.Body ?? '').trim(),
    profileName: form.ProfileName?.trim() || null,
    media,
  };
}
