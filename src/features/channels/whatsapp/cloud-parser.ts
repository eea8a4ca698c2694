import { z } from 'zod';

/**
 * The WhatsApp Cloud API's webhooks (object `whatsapp_business_account`), after Meta's "messages",
 * "template_category_update" and "message_template_status_update" webhook references. Loose objects:
 * Meta adds fields without notice, and an unknown one must not make zia refuse a batch.
 */

const wamid = z.string().min(1).max(500);
const digits = z.union([z.string(), z.number()]).transform(String).pipe(z.string().regex(/^\d{1,32}$/));
/** A business-scoped user id: CC.<alphanumerics>, or CC.ENT.<…> for a parent id. */
const userId = z.string().regex(/^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$/);
const phone = z.string().regex(/^\+?[1-9]\d{6,14}$/);

const mediaObject = z.looseObject({ id: z.string().min(1).max(200), mime_type: z.string().max(200).optional(), caption: z.string().max(4096).optional(), filename: z.string().max(500).optional() });

const messageSchema = z.looseObject({
  id: wamid,
  from: phone.optional(),
  from_user_id: userId.optional(),
  timestamp: z.union([z.string(), z.number()]).optional(),
  type: z.string().max(40),
  text: z.looseObject({ body: z.string().max(20_000) }).optional(),
  image: mediaObject.optional(),
  audio: mediaObject.optional(),
  video: mediaObject.optional(),
  document: mediaObject.optional(),
  sticker: mediaObject.optional(),
  location: z.looseObject({ latitude: z.number(), longitude: z.number(), name: z.string().max(1000).optional(), address: z.string().max(1000).optional() }).optional(),
  interactive: z
    .looseObject({
      type: z.string(),
      button_reply: z.looseObject({ id: z.string().max(256), title: z.string().max(100) }).optional(),
      list_reply: z.looseObject({ id: z.string().max(256), title: z.string().max(100) }).optional(),
    })
    .optional(),
  button: z.looseObject({ payload: z.string().max(1000).optional(), text: z.string().max(1000) }).optional(),
  system: z.looseObject({ type: z.string().max(60).optional(), wa_id: phone.optional(), user_id: userId.optional(), previous_user_id: userId.optional() }).optional(),
});

const contactSchema = z.looseObject({
  wa_id: phone.optional(),
  user_id: userId.optional(),
  profile: z.looseObject({ name: z.string().max(200).optional() }).optional(),
});

const statusSchema = z.looseObject({
  id: wamid,
  status: z.string().max(32),
  recipient_id: z.string().max(160).optional(),
  errors: z.array(z.looseObject({ code: z.number().optional(), title: z.string().max(500).optional() })).optional(),
});

const messagesValueSchema = z.looseObject({
  metadata: z.looseObject({ phone_number_id: digits, display_phone_number: z.string().optional() }),
  contacts: z.array(z.unknown()).max(1000).optional(),
  messages: z.array(z.unknown()).max(1000).optional(),
  statuses: z.array(z.unknown()).max(1000).optional(),
});

const templateChangeSchema = z.looseObject({
  message_template_id: digits,
  message_template_name: z.string().max(512).optional(),
  new_category: z.string().max(32).optional(),
  event: z.string().max(32).optional(),
});

/** What kind of thing arrived without text, for the transcript and the polite answer. */
export type CloudMediaKind = 'image' | 'audio' | 'video' | 'document' | 'sticker' | 'location' | 'other';

/** One inbound message, as the worker reads it from the inbox. */
export const cloudItemSchema = z.strictObject({
  messageId: wamid,
  phoneNumberId: z.string(),
  /** E.164 with its +, when Meta shares the number. */
  phone: z.string().nullable(),
  userId: z.string().nullable(),
  profileName: z.string().nullable(),
  text: z.string(),
  media: z.array(z.strictObject({ kind: z.enum(['image', 'audio', 'video', 'document', 'sticker', 'location', 'other']), id: z.string().optional(), mimeType: z.string().optional(), description: z.string().optional() })),
  /** A reply button or list row the customer tapped: its id (zia's own start with `zia:`). */
  buttonId: z.string().nullable(),
  timestamp: z.number().nullable(),
});
export type CloudItem = z.infer<typeof cloudItemSchema>;

export interface CloudStatus {
  phoneNumberId: string;
  messageId: string;
  status: string;
  errorCode: string | null;
  errorTitle: string | null;
}

export interface TemplateChange {
  wabaId: string;
  templateId: string;
  category?: string;
  status?: string;
}

/** A customer's new user id (after a number change, or a new one outright), linked to the previous one. */
export interface IdentityChange {
  phoneNumberId: string;
  previousUserId: string;
  userId: string;
  phone: string | null;
}

export interface CloudParseResult {
  messages: CloudItem[];
  identities: IdentityChange[];
  statuses: CloudStatus[];
  templates: TemplateChange[];
  dropped: string[];
}

const MEDIA_TYPES = ['image', 'audio', 'video', 'document', 'sticker'] as const;

/** Splits a whatsapp_business_account payload into messages to answer, statuses and template changes. */
export function parseCloudPayload(entries: Array<{ id: string; changes?: unknown[] }>): CloudParseResult {
  const out: CloudParseResult = { messages: [], identities: [], statuses: [], templates: [], dropped: [] };
  for (const entry of entries) {
    for (const raw of entry.changes ?? []) {
      const change = z.looseObject({ field: z.string(), value: z.unknown() }).safeParse(raw);
      if (!change.success) {
        out.dropped.push('malformed change');
        continue;
      }
      const { field, value } = change.data;
      if (field === 'messages') messagesChange(value, out);
      else if (field === 'template_category_update' || field === 'message_template_status_update') {
        const v = templateChangeSchema.safeParse(value);
        if (!v.success) out.dropped.push(`malformed ${field}`);
        else if (field === 'template_category_update') {
          if (v.data.new_category) out.templates.push({ wabaId: entry.id, templateId: v.data.message_template_id, category: v.data.new_category });
        } else if (v.data.event) out.templates.push({ wabaId: entry.id, templateId: v.data.message_template_id, status: v.data.event });
      } else out.dropped.push(`field ${field}`);
    }
  }
  return out;
}

function messagesChange(value: unknown, out: CloudParseResult): void {
  const v = messagesValueSchema.safeParse(value);
  if (!v.success) return void out.dropped.push('malformed messages value');
  const phoneNumberId = v.data.metadata.phone_number_id;
  const contacts = (v.data.contacts ?? []).flatMap((c) => {
    const p = contactSchema.safeParse(c);
    return p.success ? [p.data] : [];
  });
  for (const raw of v.data.messages ?? []) {
    const p = messageSchema.safeParse(raw);
    if (!p.success) {
      out.dropped.push('malformed message');
      continue;
    }
    const m = p.data;
    const sys = m.system;
    const newUserId = sys?.user_id ?? m.from_user_id;
    if (m.type === 'system' && sys?.previous_user_id && newUserId && newUserId !== sys.previous_user_id) {
      const number = sys.wa_id ?? m.from;
      out.identities.push({ phoneNumberId, previousUserId: sys.previous_user_id, userId: newUserId, phone: number ? `+${digitsOf(number)}` : null });
      continue;
    }
    if (m.type === 'system' || m.type === 'reaction' || m.type === 'request_welcome') {
      out.dropped.push(m.type);
      continue;
    }
    const user = m.from_user_id ?? null;
    const contact = contacts.find((c) => (m.from && c.wa_id && digitsOf(c.wa_id) === digitsOf(m.from)) || (user && c.user_id === user)) ?? (contacts.length === 1 ? contacts[0] : undefined);
    const number = m.from ?? contact?.wa_id;
    const userIdOf = user ?? contact?.user_id ?? null;
    if (!number && !userIdOf) {
      out.dropped.push('message with neither a number nor a user id');
      continue;
    }
    const item: CloudItem = {
      messageId: m.id,
      phoneNumberId,
      phone: number ? `+${digitsOf(number)}` : null,
      userId: userIdOf,
      profileName: contact?.profile?.name?.trim() || null,
      text: '',
      media: [],
      buttonId: null,
      timestamp: m.timestamp !== undefined && Number.isFinite(Number(m.timestamp)) ? Number(m.timestamp) : null,
    };
    if (m.type === 'text') item.text = (m.text?.body ?? '').trim();
    else if (m.type === 'interactive') {
      const reply = m.interactive?.button_reply ?? m.interactive?.list_reply;
      item.text = reply?.title ?? '';
      item.buttonId = reply?.id ?? null;
    } else if (m.type === 'button') {
      item.text = m.button?.text ?? '';
      item.buttonId = m.button?.payload ?? null;
    } else if ((MEDIA_TYPES as readonly string[]).includes(m.type)) {
      const media = m[m.type as (typeof MEDIA_TYPES)[number]];
      item.text = (media?.caption ?? '').trim();
      item.media.push({ kind: m.type as CloudMediaKind, ...(media?.id ? { id: media.id } : {}), ...(media?.mime_type ? { mimeType: media.mime_type } : {}) });
    } else if (m.type === 'location' && m.location) {
      const l = m.location;
      const place = [l.name, l.address].filter(Boolean).join(', ');
      item.media.push({ kind: 'location', description: `${place ? `${place} ` : ''}(${l.latitude}, ${l.longitude})` });
    } else item.media.push({ kind: 'other', description: m.type });
    if (!item.text && item.media.length === 0) {
      out.dropped.push('empty message');
      continue;
    }
    out.messages.push(item);
  }
  for (const raw of v.data.statuses ?? []) {
    const p = statusSchema.safeParse(raw);
    if (!p.success) {
      out.dropped.push('malformed status');
      continue;
    }
    const e = p.data.errors?.[0];
    out.statuses.push({ phoneNumberId, messageId: p.data.id, status: p.data.status.toLowerCase(), errorCode: e?.code !== undefined ? String(e.code) : null, errorTitle: e?.title ?? null });
  }
}

function digitsOf(n: string): string {
  return n.replace(/^\+/, '');
}
