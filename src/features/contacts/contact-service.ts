import { createHash } from 'node:crypto';
import { newId, nowIso } from '../../db/dialect.js';
import type { Tx } from '../../db/unit-of-work.js';
import type { Tenant } from '../tenants/tenant-service.js';
import type { ContactConversation, ContactDelivery, ContactEvent, ContactLead, ContactMessage, ContactOrder, ContactSend, ContactStore, ErasureRecord } from './contact-store.js';
import type { Identifier, IdentifierKind } from './contacts.schemas.js';
import { mentions, scrubJson, termPattern } from './personal-data.js';

/**
 * A person's data inside one tenant: found from one identifier, exported as one document, erased in
 * one transaction. From the identifier the person's leads, orders and conversations are followed to
 * each other (a lead's conversation and WhatsApp number, an order's email and conversation) until
 * nothing new turns up, so "erase ada@example.com" also reaches the Messenger conversation where she
 * gave that email and the WhatsApp number she left.
 */

/** The channels whose conversations are keyed by each kind of user id. */
const CHANNELS: Record<Exclude<IdentifierKind, 'email'>, readonly string[]> = {
  phone: ['whatsapp'],
  psid: ['messenger', 'instagram', 'fb_comment', 'ig_comment'],
  visitor: ['web'],
};
/** Rounds of following links; each round only adds what the previous found, so a few always suffice. */
const MAX_ROUNDS = 6;

export interface Person {
  conversations: ContactConversation[];
  leads: ContactLead[];
  orders: ContactOrder[];
  emails: string[];
  phones: string[];
}

export interface PersonData extends Person {
  messages: ContactMessage[];
  events: ContactEvent[];
  deliveries: ContactDelivery[];
  sends: ContactSend[];
}

export type ErasureCounts = Record<string, { deleted?: number; changed?: number }>;

export interface ErasureResult {
  erasure: ErasureRecord;
  nothingFound: boolean;
}

/** SHA-256 of what identified the person: the record proves which request it answered without keeping it. */
export function identifierHash(id: Identifier): string {
  return createHash('sha256').update(`${id.kind}:${id.value}`).digest('hex');
}

export class ContactService {
  constructor(private readonly store: ContactStore) {}

  async find(tenant: Tenant, id: Identifier): Promise<Person & { messageCounts: Map<string, number> }> {
    const person = await this.person(tenant.id, id);
    return { ...person, messageCounts: await this.store.messageCounts(tenant.id, person.conversations.map((c) => c.id)) };
  }

  async export(tenant: Tenant, id: Identifier): Promise<PersonData> {
    return this.store.transaction((tx) => this.collect(tenant.id, id, tx));
  }

  /**
   * Deletes messages and leads; keeps conversations, orders, events, inbox deliveries and sends with
   * everything personal taken out and the pseudonym in its place, so revenue and funnels stay exactly
   * as they were. Recorded even when nothing was found: the request was answered.
   */
  async erase(tenant: Tenant, id: Identifier): Promise<ErasureResult> {
    return this.store.transaction(async (tx) => {
      const data = await this.collect(tenant.id, id, tx);
      const reference = `erased:${newId()}`;
      const counts = await this.scrub(tenant.id, data, reference, tx);
      const nothingFound = Object.values(counts).every((c) => !c.deleted && !c.changed);
      const erasure = await this.store.recordErasure({ tenantId: tenant.id, reference, identifierKind: id.kind, identifierHash: identifierHash(id), counts, createdAt: nowIso() }, tx);
      return { erasure, nothingFound };
    });
  }

  private async scrub(tenantId: string, data: PersonData, reference: string, tx: Tx): Promise<ErasureCounts> {
    const now = nowIso();
    const pattern = termPattern(terms(data));
    const conversationIds = data.conversations.map((c) => c.id);
    const messages = await this.store.deleteMessages(tenantId, conversationIds, tx);
    const leads = await this.store.deleteLeads(tenantId, data.leads.map((l) => l.id), tx);
    // The Cloud API's business-scoped user ids (and number, profile name) of the person's WhatsApp conversations.
    const whatsappContacts = await this.store.deleteWhatsAppContacts(tenantId, data.conversations.filter((c) => c.channel === 'whatsapp').map((c) => c.externalUserId), tx);
    // One conversation per channel and user id: a second one on the same channel gets a numbered pseudonym.
    const perChannel = new Map<string, number>();
    for (const c of data.conversations) {
      const n = (perChannel.get(c.channel) ?? 0) + 1;
      perChannel.set(c.channel, n);
      await this.store.pseudonymiseConversation(tenantId, c.id, n === 1 ? reference : `${reference}.${n}`, now, tx);
    }
    const orders = await this.store.scrubOrders(tenantId, data.orders.map((o) => o.id), reference, now, tx);
    for (const e of data.events) await this.store.replaceEventData(tenantId, e.id, { ...(scrubJson(e.data, pattern, reference) as object), erased: reference }, tx);
    const deliveries = await this.store.scrubDeliveries(tenantId, data.deliveries.map((d) => d.id), reference, now, tx);
    const sends = await this.store.scrubSends(tenantId, data.sends.map((s) => s.id), now, tx);
    return {
      messages: { deleted: messages },
      leads: { deleted: leads },
      ...(whatsappContacts > 0 ? { whatsapp_contacts: { deleted: whatsappContacts } } : {}),
      conversations: { changed: data.conversations.length },
      orders: { changed: orders },
      events: { changed: data.events.length },
      webhook_deliveries: { changed: deliveries },
      outbound_sends: { changed: sends },
    };
  }

  /** The person and every row that concerns them; rows matched by text are kept only when a term stands in them alone. */
  private async collect(tenantId: string, id: Identifier, tx: Tx): Promise<PersonData> {
    const person = await this.person(tenantId, id, tx);
    const conversationIds = new Set(person.conversations.map((c) => c.id));
    const messages = await this.store.messagesOf(tenantId, [...conversationIds], tx);
    const messageIds = new Set(messages.map((m) => m.id));
    const words = terms(person);
    const pattern = termPattern(words);
    if (words.length === 0) return { ...person, messages, events: [], deliveries: [], sends: [] };
    const events = (await this.store.eventsOf(tenantId, [...conversationIds], words, tx)).filter((e) => (e.conversationId !== null && conversationIds.has(e.conversationId)) || mentions(e.text, pattern));
    const sends = (await this.store.sendsOf(tenantId, { conversationIds: [...conversationIds], messageIds: [...messageIds], terms: words }, tx)).filter(
      (s) => (s.conversationId !== null && conversationIds.has(s.conversationId)) || (s.messageId !== null && messageIds.has(s.messageId)) || mentions(s.request, pattern) || mentions(s.lastError, pattern),
    );
    const sentFor = new Set(sends.flatMap((s) => (s.deliveryId ? [s.deliveryId] : [])));
    const deliveries = (await this.store.deliveriesOf(tenantId, words, [...sentFor], tx)).filter(
      (d) => sentFor.has(d.id) || mentions(d.payload, pattern) || mentions(d.result, pattern) || mentions(d.lastError, pattern),
    );
    return { ...person, messages, events, deliveries, sends };
  }

  /** Conversations, leads and orders of the person, following each link until nothing new turns up. */
  private async person(tenantId: string, id: Identifier, tx?: Tx): Promise<Person> {
    const emails = new Set<string>();
    const phones = new Set<string>();
    const conversations = new Map<string, ContactConversation>();
    const leads = new Map<string, ContactLead>();
    const orders = new Map<string, ContactOrder>();
    if (id.kind === 'email') emails.add(id.value);
    else if (id.kind === 'phone') phones.add(id.value);
    else for (const c of await this.store.conversationsByUser(tenantId, CHANNELS[id.kind], [id.value], tx)) conversations.set(c.id, c);
    const searchedPhones = new Set<string>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const size = emails.size + phones.size + conversations.size + leads.size + orders.size;
      const newPhones = [...phones].filter((p) => !searchedPhones.has(p));
      newPhones.forEach((p) => searchedPhones.add(p));
      for (const c of await this.store.conversationsByUser(tenantId, CHANNELS.phone, newPhones, tx)) conversations.set(c.id, c);
      const conversationIds = [...conversations.keys()];
      const linked = new Set<string>();
      for (const l of await this.store.leadsOf(tenantId, { emails: [...emails], phones: [...phones], conversationIds }, tx)) {
        leads.set(l.id, l);
        emails.add(l.email);
        if (l.whatsapp) phones.add(l.whatsapp);
        if (l.conversationId) linked.add(l.conversationId);
      }
      for (const o of await this.store.ordersOf(tenantId, { emails: [...emails], conversationIds }, tx)) {
        orders.set(o.id, o);
        if (o.customerEmail?.includes('@')) emails.add(o.customerEmail.toLowerCase());
        if (o.conversationId) linked.add(o.conversationId);
      }
      const unseen = [...linked].filter((c) => !conversations.has(c));
      for (const c of await this.store.conversationsById(tenantId, unseen, tx)) conversations.set(c.id, c);
      if (emails.size + phones.size + conversations.size + leads.size + orders.size === size) break;
    }
    return { conversations: [...conversations.values()], leads: [...leads.values()], orders: [...orders.values()], emails: [...emails], phones: [...phones] };
  }
}

/** Every string that points at the person wherever it is written: identifiers and the ids of their rows. */
function terms(p: Person): string[] {
  return [
    ...p.emails,
    ...p.phones,
    ...p.conversations.flatMap((c) => [c.id, c.externalUserId]),
    ...p.leads.map((l) => l.id),
    ...p.orders.flatMap((o) => (o.stripeSessionId ? [o.id, o.stripeSessionId] : [o.id])),
  ];
}
