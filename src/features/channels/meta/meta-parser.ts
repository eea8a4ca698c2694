import {
  changeSchema,
  fbCommentSchema,
  igCommentSchema,
  messagingEventSchema,
  type envelopeSchema,
  type MetaCommentItem,
  type MetaMessageItem,
} from './meta.schemas.js';
import type { z } from 'zod';

export type ParsedItem =
  | { kind: 'meta.message'; object: 'page' | 'instagram'; accountId: string; externalId: string; item: MetaMessageItem }
  | { kind: 'meta.comment'; object: 'page' | 'instagram'; accountId: string; externalId: string; item: MetaCommentItem };

export interface ParseResult {
  items: ParsedItem[];
  /** Why each dropped update was dropped (echo, read, edit, …), for the debug log and tests. */
  dropped: string[];
}

/**
 * Splits one webhook payload into the items zia answers, each with the provider id it is deduplicated
 * on: message.mid / postback.mid for DMs, comment_id (Facebook) or value.id (Instagram) for comments.
 * Everything else — echoes of our own sends, deliveries, reads, edits, removals, the account's own
 * comments and replies — is dropped here so it never reaches the inbox.
 */
export function parseMetaPayload(envelope: z.output<typeof envelopeSchema>): ParseResult {
  const out: ParseResult = { items: [], dropped: [] };
  if (envelope.object !== 'page' && envelope.object !== 'instagram') {
    out.dropped.push(`object ${envelope.object}`);
    return out;
  }
  const object = envelope.object;
  for (const entry of envelope.entry) {
    for (const raw of [...(entry.messaging ?? []), ...(entry.standby ?? [])]) messaging(object, entry.id, raw, out);
    for (const raw of entry.changes ?? []) change(object, entry.id, raw, out);
  }
  return out;
}

function messaging(object: 'page' | 'instagram', accountId: string, raw: unknown, out: ParseResult): void {
  const parsed = messagingEventSchema.safeParse(raw);
  if (!parsed.success) {
    out.dropped.push(describe(raw));
    return;
  }
  const e = parsed.data;
  const channel = object === 'page' ? 'messenger' : 'instagram';
  if (e.sender.id === accountId) return void out.dropped.push('own message');
  if (e.message) {
    const m = e.message;
    if (m.is_echo) return void out.dropped.push('echo');
    if (m.is_deleted) return void out.dropped.push('deleted');
    if (m.is_self || m.is_unsupported) return void out.dropped.push('unsupported');
    const media = (m.attachments ?? []).flatMap((a) => (a.payload?.url ? [{ url: a.payload.url, ...(a.type ? { contentType: a.type } : {}) }] : []));
    const text = m.text ?? m.quick_reply?.payload ?? '';
    if (!text && media.length === 0) return void out.dropped.push('empty message');
    out.items.push({
      kind: 'meta.message',
      object,
      accountId,
      externalId: `mid:${m.mid}`,
      item: { channel, accountId, senderId: e.sender.id, mid: m.mid, text, timestamp: e.timestamp ?? null, media, raw },
    });
    return;
  }
  if (e.postback) {
    const p = e.postback;
    const mid = p.mid ?? `postback:${e.sender.id}:${e.timestamp ?? ''}:${p.payload ?? ''}`;
    const text = p.title ?? p.payload ?? '';
    if (!text) return void out.dropped.push('empty postback');
    out.items.push({
      kind: 'meta.message',
      object,
      accountId,
      externalId: `mid:${mid}`,
      item: { channel, accountId, senderId: e.sender.id, mid, text, timestamp: e.timestamp ?? null, media: [], raw },
    });
    return;
  }
  out.dropped.push(describe(raw));
}

function change(object: 'page' | 'instagram', accountId: string, raw: unknown, out: ParseResult): void {
  const c = changeSchema.safeParse(raw);
  if (!c.success) return void out.dropped.push('malformed change');
  const { field, value } = c.data;
  if (object === 'page' && field === 'feed') {
    const v = fbCommentSchema.safeParse(value);
    if (!v.success) return void out.dropped.push(`feed ${String((value as any).item ?? '?')}`);
    const f = v.data;
    if (f.item !== 'comment' || f.verb !== 'add') return void out.dropped.push(`feed ${f.item}/${f.verb}`);
    if (f.from.id === accountId) return void out.dropped.push('own comment');
    const created = typeof f.created_time === 'number' ? f.created_time : f.created_time ? Math.floor(Date.parse(f.created_time) / 1000) : null;
    out.items.push({
      kind: 'meta.comment',
      object,
      accountId,
      externalId: `fb_comment:${f.comment_id}`,
      item: { channel: 'fb_comment', accountId, commentId: f.comment_id, fromId: f.from.id, fromName: f.from.name ?? null, text: f.message ?? '', createdTime: Number.isFinite(created) ? created : null, raw: value },
    });
    return;
  }
  if (object === 'instagram' && field === 'comments') {
    const v = igCommentSchema.safeParse(value);
    if (!v.success) return void out.dropped.push('malformed comment');
    const g = v.data;
    if (g.from.id === accountId) return void out.dropped.push('own comment');
    out.items.push({
      kind: 'meta.comment',
      object,
      accountId,
      externalId: `ig_comment:${g.id}`,
      item: { channel: 'ig_comment', accountId, commentId: g.id, fromId: g.from.id, fromName: g.from.username ?? null, text: g.text ?? '', createdTime: null, raw: value },
    });
    return;
  }
  out.dropped.push(`change ${field}`);
}

function describe(raw: unknown): string {
  if (raw && typeof raw === 'object') {
    for (const k of ['delivery', 'read', 'reaction', 'message_edit', 'optin', 'referral', 'account_linking']) if (k in raw) return k;
  }
  return 'unrecognised event';
}
