import type { Write } from '../../db/create-db.js';
import { newId, nowIso } from '../../db/dialect.js';
import { NotFoundError } from '../../errors.js';
import type { Tx } from '../../db/unit-of-work.js';
import type { EventService } from '../events/event-service.js';
import type { LeadState } from '../leads/lead-flow.js';
import type { CaptureInput, LeadService, SubmittedLead } from '../leads/lead-service.js';
import type { TurnInput } from './chat.types.js';
import type { ConversationRow, ConversationStore, NewMessage } from './conversation-store.js';

type EventItems = Parameters<EventService['recordAll']>[1];

/** The user's message as stored: its conversation (and whether this message began it), its id, and whether the provider had sent it before. */
export interface Inbound {
  conversation: ConversationRow;
  created: boolean;
  inbound: { id: string; duplicate: boolean };
}

/** What a turn's answer changes: the reply's text, the lead flow's state it leaves, a lead to submit, events. */
export interface ReplyRecord {
  text: string;
  /** undefined: unchanged; null: the flow ended. */
  leadState?: LeadState | null;
  capture?: CaptureInput;
  events?: EventItems;
  /** The customer asked for a person: since when they wait, and whether the bot stops answering. */
  handoff?: { requestedAt: string; pause: boolean };
}

/**
 * How a turn is saved: two commits per turn, none held across the model call. The first stores the
 * user's message with its conversation and events, the second the reply with what it says happened
 * (the lead flow's state, a lead submitted, their events). A turn a crash interrupted is answered
 * again from the state the last commit left, so nothing is done twice.
 *
 * Each commit is one Db.writeAll (one statement on PostgreSQL) when nothing in it needs a read first,
 * and a transaction otherwise: a provider's message (it may be a repeat), a new conversation on a
 * messaging channel, a lead to submit (whether the email is known decides what is written). When a
 * new visitor's conversation was created by another request of theirs in between, the writeAll fails
 * on the message's foreign key and the message is saved again in the transaction, which reads first.
 */
export class TurnRecorder {
  constructor(private readonly deps: { store: ConversationStore; events: EventService; leads: LeadService }) {}

  /** The conversation the turn continues, if there is one yet; another tenant's or channel's is a 404. */
  async find(input: TurnInput, tx?: Tx): Promise<ConversationRow | undefined> {
    const { store } = this.deps;
    if (!input.conversationId) return store.findByUser(input.tenant.id, input.channel, input.externalUserId, tx);
    const c = await store.findById(input.tenant.id, input.conversationId, tx);
    if (!c || c.channel !== input.channel) throw new NotFoundError('conversation not found');
    return c;
  }

  /** The first commit. `existing`: what find() returned just before, when the caller read it. */
  async recordInbound(input: TurnInput, existing?: ConversationRow | null): Promise<Inbound> {
    const known = existing === undefined ? undefined : (existing ?? { newId: newId() });
    if (known && !input.providerMessageId && !('newId' in known && input.channel !== 'web')) {
      const created = 'newId' in known ? this.deps.store.conversationWrite(input.tenant.id, input.channel, input.externalUserId, input.userName ?? null, known.newId) : undefined;
      const conversation = created?.conversation ?? (known as ConversationRow);
      const message = this.deps.store.messageWrite(input.tenant.id, userMessage(input, conversation));
      const rest = this.inboundFollowUp(input, conversation, message.id, Boolean(created));
      try {
        await this.deps.store.writeAll([...(created ? [created.write] : []), message.write, ...rest.writes]);
      } catch (err) {
        if (!created) throw err;
        return this.recordInbound(input);
      }
      rest.announce();
      return { conversation, created: Boolean(created), inbound: { id: message.id, duplicate: false } };
    }
    let announce = () => {};
    const recorded = await this.deps.store.transaction(async (tx) => {
      const { conversation, created } = existing
        ? { conversation: existing, created: false }
        : input.conversationId
          ? { conversation: (await this.find(input, tx))!, created: false }
          : await this.deps.store.findOrCreate(input.tenant.id, input.channel, input.externalUserId, input.userName ?? null, tx);
      const inbound = await this.deps.store.insertMessage(input.tenant.id, userMessage(input, conversation), tx);
      const rest = this.inboundFollowUp(input, conversation, inbound.id, created, inbound.duplicate);
      await this.deps.store.runAll(rest.writes, tx);
      announce = rest.announce;
      return { conversation, created, inbound };
    });
    announce();
    return recorded;
  }

  /** The second commit: the reply and what it changes. Returns its message id and the lead as typed. */
  async recordReply(input: TurnInput, conversation: ConversationRow, reply: ReplyRecord): Promise<{ id: string; lead?: SubmittedLead }> {
    const { store, events, leads } = this.deps;
    const tenantId = input.tenant.id;
    const message = store.messageWrite(tenantId, { conversationId: conversation.id, channel: conversation.channel, role: 'assistant', text: reply.text });
    const writes = [message.write];
    const patch = {
      ...(reply.leadState !== undefined ? { leadState: reply.leadState } : {}),
      ...(reply.handoff ? { handoffRequestedAt: reply.handoff.requestedAt, ...(reply.handoff.pause ? { botPaused: true } : {}) } : {}),
    };
    if (Object.keys(patch).length > 0) writes.push(store.updateWrite(tenantId, conversation.id, patch));
    const recorded = [...(reply.events ?? [])];
    // A web reply is delivered in the response itself; on Meta and WhatsApp the channel's sender records
    // reply_sent when the provider has taken the message, so each reply is counted once.
    if (conversation.channel === 'web') recorded.push({ type: 'reply_sent', conversationId: conversation.id, data: { channel: conversation.channel, message_id: message.id, length: reply.text.length } });
    const prepared = events.prepareAll(tenantId, recorded);
    if (prepared.write) writes.push(prepared.write);
    let lead: SubmittedLead | undefined;
    const capture = reply.capture;
    if (capture) {
      // The caller gets back what was typed, never a stored lead.
      lead = (
        await store.transaction(async (tx) => {
          await store.runAll(writes, tx);
          return leads.submit(tenantId, capture, tx);
        })
      ).submitted;
    } else {
      await store.writeAll(writes);
    }
    prepared.announce();
    return { id: message.id, lead };
  }

  /** What a user's message changes besides itself: the conversation's patch and the events, not yet run. */
  private inboundFollowUp(input: TurnInput, conversation: ConversationRow, messageId: string, created: boolean, duplicate = false): { writes: Write[]; announce(): void } {
    const { store, events } = this.deps;
    const tenantId = input.tenant.id;
    const writes: Write[] = [];
    const recorded: EventItems = [];
    if (created) recorded.push({ type: 'conversation_started', conversationId: conversation.id, data: { channel: conversation.channel } });
    if (!duplicate) {
      // The 24 h reply window of Meta and WhatsApp starts at the user's last message.
      const patch = {
        ...(conversation.channel !== 'web' ? { lastInboundAt: nowIso() } : {}),
        ...(input.userName && input.userName !== conversation.userName ? { userName: input.userName } : {}),
      };
      // A conversation created just now already has this updated_at; only a patch needs the write.
      if (!created || Object.keys(patch).length > 0) writes.push(store.updateWrite(tenantId, conversation.id, patch));
      recorded.push({ type: 'message_received', conversationId: conversation.id, data: { channel: conversation.channel, message_id: messageId } });
    }
    const prepared = events.prepareAll(tenantId, recorded);
    if (prepared.write) writes.push(prepared.write);
    return { writes, announce: prepared.announce };
  }
}

function userMessage(input: TurnInput, conversation: ConversationRow): NewMessage {
  return {
    conversationId: conversation.id,
    channel: conversation.channel,
    role: 'user',
    text: input.text,
    providerMessageId: input.providerMessageId,
    media: input.media?.length ? input.media : undefined,
  };
}
