import { nowIso, readJson } from '../../db/dialect.js';
import type { Identifier } from './contacts.schemas.js';
import type { ErasureResult, Person, PersonData } from './contact-service.js';

/** The JSON the API answers and `zia contacts … --json` prints: one shape for both. */

export function foundView(id: Identifier, p: Person & { messageCounts: Map<string, number> }) {
  return {
    identifier: id,
    conversations: p.conversations.map((c) => ({ id: c.id, channel: c.channel, created_at: c.createdAt, updated_at: c.updatedAt, messages: p.messageCounts.get(c.id) ?? 0 })),
    leads: p.leads.map((l) => ({ id: l.id, email: l.email, name: l.name, whatsapp: l.whatsapp, created_at: l.createdAt })),
    orders: p.orders.map((o) => ({ id: o.id, status: o.status, amount: o.amount, currency: o.currency, created_at: o.createdAt, paid_at: o.paidAt })),
  };
}

/** A stored payload as the JSON it was: a raw body kept as a string (Stripe's) is parsed too. */
function payloadOf(text: string | null): unknown {
  const value = readJson<unknown>(text, text);
  return typeof value === 'string' && value.startsWith('{') ? readJson<unknown>(value, value) : value;
}

export function exportView(slug: string, id: Identifier, d: PersonData) {
  return {
    tenant: slug,
    identifier: id,
    exported_at: nowIso(),
    identifiers: { emails: d.emails, phones: d.phones },
    conversations: d.conversations.map((c) => ({
      id: c.id,
      channel: c.channel,
      external_user_id: c.externalUserId,
      user_name: c.userName,
      bot_paused: c.botPaused,
      last_inbound_at: c.lastInboundAt,
      created_at: c.createdAt,
      updated_at: c.updatedAt,
    })),
    messages: d.messages.map((m) => ({ id: m.id, conversation_id: m.conversationId, channel: m.channel, role: m.role, text: m.text, media: m.media, delivery_status: m.deliveryStatus, created_at: m.createdAt })),
    leads: d.leads.map((l) => ({ id: l.id, conversation_id: l.conversationId, name: l.name, email: l.email, whatsapp: l.whatsapp, source_channel: l.sourceChannel, created_at: l.createdAt })),
    orders: d.orders.map((o) => ({
      id: o.id,
      conversation_id: o.conversationId,
      kind: o.kind,
      ref: o.ref,
      name: o.name,
      quantity: o.quantity,
      amount: o.amount,
      currency: o.currency,
      status: o.status,
      customer_email: o.customerEmail,
      paid_at: o.paidAt,
      created_at: o.createdAt,
    })),
    events: d.events.map((e) => ({ id: e.id, type: e.type, conversation_id: e.conversationId, data: e.data, created_at: e.createdAt })),
    deliveries: {
      inbox: d.deliveries.map((x) => ({ id: x.id, provider: x.provider, external_id: x.externalId, kind: x.kind, status: x.status, payload: payloadOf(x.payload), result: payloadOf(x.result), last_error: x.lastError, created_at: x.createdAt })),
      sends: d.sends.map((s) => ({ id: s.id, channel: s.channel, status: s.status, conversation_id: s.conversationId, message_id: s.messageId, request: payloadOf(s.request), last_error: s.lastError, created_at: s.createdAt })),
    },
  };
}

export function erasedView(r: ErasureResult) {
  return { id: r.erasure.id, reference: r.erasure.reference, nothing_found: r.nothingFound, counts: r.erasure.counts, created_at: r.erasure.createdAt };
}
