import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { NotFoundError } from '../../errors.js';
import type { Write } from '../../db/create-db.js';
import { newId, nowIso } from '../../db/dialect.js';
import type { Logger } from '../../logger.js';
import type { PromptBuilder } from '../ai/prompt-builder.js';
import type { AiProvider, GenerateRequest, GenerateResult, ModelMessage, ToolRunner } from '../ai/provider.js';
import { wordChunks } from '../ai/text-match.js';
import { TurnTools } from '../ai/tools.js';
import type { CatalogLookup } from '../catalog/catalog.types.js';
import type { EventService } from '../events/event-service.js';
import { advanceLeadFlow, capturedReply, hasContactIntent, startLeadFlow, type LeadState } from '../leads/lead-flow.js';
import type { CaptureInput, LeadService, SubmittedLead } from '../leads/lead-service.js';
import type { CheckoutCreator } from '../payments/payments.types.js';
import { withoutNul } from '../../validation.js';
import type { ChatEngine, TurnInput, TurnResult } from './chat.types.js';
import type { ConversationRow, ConversationStore, NewMessage } from './conversation-store.js';
import { type Tx } from '../../db/unit-of-work.js';

export const DEFAULT_MEMORY_MESSAGES = 12;

export interface ChatEngineDeps {
  store: ConversationStore;
  leads: LeadService;
  events: EventService;
  provider: AiProvider;
  prompts: PromptBuilder;
  logger: Logger;
  /** Optional: product search for the search_catalog tool and the prompt. */
  catalog?: CatalogLookup;
  /** Optional: payment links for the create_checkout_link tool. */
  checkout?: CheckoutCreator;
}

interface Inbound {
  conversation: ConversationRow;
  inbound: { id: string; duplicate: boolean };
}

/** What the caller of recordInbound read just before: the conversation itself, or the id to create it under. */
type Known = { conversation: ConversationRow } | { newId: string };

/** A turn without a live client (/v1/chat, a channel's worker) has no use for the tokens as they come. */
const ignoreToken = () => undefined;

/** The visitor's conversation was created by another request between the read and the write. */
class ConversationTaken extends Error {}

interface Answer {
  text: string;
  leadState?: LeadState | null;
  lead?: SubmittedLead;
  checkoutUrl?: string;
  /** Recorded, like the lead captured, in the transaction that stores the reply. */
  events?: Parameters<EventService['recordAll']>[1];
  capture?: CaptureInput;
}

/** Runs one turn of conversation for any channel: who answers, what is stored, which events are recorded. */
export class DefaultChatEngine implements ChatEngine {
  constructor(private readonly deps: ChatEngineDeps) {}

  /**
   * Two transactions per turn, none held across the model call: one records the user's message (with
   * its conversation and events), one the reply with what it says happened (the lead flow's state, a
   * lead captured, their events). A commit per statement was most of a turn's cost, and a turn a crash
   * interrupted is answered again from the state the last commit left, so nothing is done twice.
   *
   * When the model will answer (no lead flow, not paused, not a provider's message that may be a
   * repeat), the first transaction runs alongside the model request instead of before it, and an
   * answer that is already there by then goes in the same write: see overlappedTurn. Everything else
   * records the message first and then decides.
   */
  async runTurn(input: TurnInput): Promise<TurnResult> {
    if (!input.providerMessageId) {
      const existing = await this.findConversation(input);
      if (this.modelAnswersAtOnce(input, existing)) return this.overlappedTurn(input, existing);
    }
    return this.afterInbound(input, await this.recordInbound(input));
  }

  /** The conversation the turn continues, if there is one yet (a read, outside any transaction). */
  private async findConversation(input: TurnInput, trx?: Tx): Promise<ConversationRow | undefined> {
    const { store } = this.deps;
    if (!input.conversationId) return store.findByUser(input.tenant.id, input.channel, input.externalUserId, trx);
    const c = await store.findById(input.tenant.id, input.conversationId, trx);
    // Another tenant's conversation, or another channel's, is as unknown as a made-up id.
    if (!c || c.channel !== input.channel) throw new NotFoundError('conversation not found');
    return c;
  }

  /** Whether the model answers this message whatever the first transaction finds (see leadFlowAnswer). */
  private modelAnswersAtOnce(input: TurnInput, existing: ConversationRow | undefined): boolean {
    if (existing?.botPaused || existing?.leadState) return false;
    const mode = input.tenant.settings.lead?.mode ?? 'intent';
    return mode === 'off' || (mode === 'intent' && !hasContactIntent(input.text));
  }

  /**
   * The first transaction: the conversation (found or created), the user's message, its events. `known`:
   * what the caller read just before — the conversation itself, or the id to create it under. Then
   * nothing needs a result from another write, so they go together (Db.writeAll: one statement on
   * PostgreSQL); if the new conversation's insert was skipped (another request of the same visitor
   * created one first) the message's foreign key fails them all, and the transaction below, which
   * reads first, finds the other conversation.
   */
  private async recordInbound(input: TurnInput, known?: Known): Promise<Inbound> {
    const { store } = this.deps;
    const tenantId = input.tenant.id;
    if (known && this.writesAtOnce(input, known)) {
      const inbound = this.inboundWrites(input, known);
      try {
        await store.writeAll(inbound.writes);
      } catch (err) {
        if (!inbound.created) throw err;
        return this.recordInbound(input);
      }
      inbound.announce();
      return { conversation: inbound.conversation, inbound: { id: inbound.messageId, duplicate: false } };
    }
    let announce = () => {};
    const recorded = await store.transaction(async (trx) => {
      const { conversation, created } = await this.resolveConversation(input, trx, known);
      const inbound = await store.insertMessage(tenantId, this.userMessage(input, conversation), trx);
      const rest = this.inboundFollowUp(input, conversation, created, inbound.duplicate);
      await store.runAll(rest.writes, trx);
      announce = rest.announce;
      return { conversation, inbound };
    });
    announce();
    return recorded;
  }

  /**
   * Whether the first transaction's writes can go together without a read (Db.writeAll). A new
   * conversation on a messaging channel is also patched (last_inbound_at): one statement cannot both
   * insert a row and update it, so that one takes the transaction; so does a provider's message, which
   * may be a repeat.
   */
  private writesAtOnce(input: TurnInput, known: Known): boolean {
    return !input.providerMessageId && !('newId' in known && input.channel !== 'web');
  }

  /** The first transaction's writes, not yet run, when the caller knows the conversation (or its new id). */
  private inboundWrites(input: TurnInput, known: Known) {
    const { store } = this.deps;
    const tenantId = input.tenant.id;
    const created = 'newId' in known ? store.conversationInsert(tenantId, input.channel, input.externalUserId, input.userName ?? null, known.newId) : undefined;
    const conversation = created?.conversation ?? (known as { conversation: ConversationRow }).conversation;
    const message = store.messageInsert(tenantId, this.userMessage(input, conversation));
    const rest = this.inboundFollowUp(input, conversation, Boolean(created));
    return { conversation, created: Boolean(created), messageId: message.id, writes: [...(created ? [created.write] : []), message.write, ...rest.writes], announce: rest.announce };
  }

  private userMessage(input: TurnInput, conversation: ConversationRow): NewMessage {
    return {
      conversationId: conversation.id,
      channel: conversation.channel,
      role: 'user',
      text: input.text,
      providerMessageId: input.providerMessageId,
      media: input.media?.length ? input.media : undefined,
    };
  }

  /** What a user's message changes besides itself: the conversation's patch and the events, not yet run. */
  private inboundFollowUp(input: TurnInput, conversation: ConversationRow, created: boolean, duplicate = false): { writes: Write[]; announce(): void } {
    const { store, events } = this.deps;
    const tenantId = input.tenant.id;
    const writes: Write[] = [];
    const recorded: Parameters<EventService['recordAll']>[1] = [];
    if (created) recorded.push({ type: 'conversation_started', conversationId: conversation.id, data: { channel: conversation.channel } });
    if (!duplicate) {
      // The 24 h reply window of Meta and WhatsApp starts at the user's last message.
      const patch = {
        ...(conversation.channel !== 'web' ? { lastInboundAt: nowIso() } : {}),
        ...(input.userName && input.userName !== conversation.userName ? { userName: input.userName } : {}),
      };
      // A conversation created just now already has this updated_at; only a patch needs the write.
      if (!created || Object.keys(patch).length > 0) writes.push(store.updateWrite(tenantId, conversation.id, patch));
      recorded.push({ type: 'message_received', conversationId: conversation.id, data: { channel: conversation.channel } });
    }
    const prepared = events.prepareAll(tenantId, recorded);
    if (prepared.write) writes.push(prepared.write);
    return { writes, announce: prepared.announce };
  }

  /** The rest of a turn once the user's message is stored: repeats, pauses, lead flow or model, reply. */
  private async afterInbound(input: TurnInput, { conversation, inbound }: Inbound): Promise<TurnResult> {
    const { store } = this.deps;
    const tenantId = input.tenant.id;
    input.onConversation?.(conversation.id);
    let userMessageId = inbound.id;
    if (inbound.duplicate) {
      // A provider message seen before: the worker is retrying a turn that a crash interrupted. If the
      // reply was stored, hand it back so it can still be delivered; if the crash came before the reply,
      // answer now. Either way the message is stored once and answered once.
      const earlier = input.providerMessageId ? await store.inboundWithReply(tenantId, conversation.channel, input.providerMessageId) : undefined;
      if (!earlier || earlier.reply) {
        return {
          conversationId: conversation.id,
          duplicate: true,
          reply: earlier?.reply?.text ?? null,
          replyMessageId: earlier?.reply?.id ?? null,
          userMessageId: earlier?.userMessageId ?? null,
          leadFlowActive: Boolean(conversation.leadState),
        };
      }
      userMessageId = earlier.userMessageId;
    }
    if (conversation.botPaused) {
      return { conversationId: conversation.id, duplicate: false, userMessageId, reply: null, replyMessageId: null, leadFlowActive: Boolean(conversation.leadState) };
    }
    const answer =
      (await this.leadFlowAnswer(input, conversation)) ??
      (await this.providerAnswer(input, conversation, await this.modelMessages(input, conversation.id, { stored: true })));
    return this.finishTurn(input, conversation, userMessageId, answer);
  }

  /**
   * A model answer needs nothing the first transaction writes, so the two run side by side: the
   * upstream request leaves while the user's message is being committed, and the model's own time to
   * first token hides the commit. Tokens wait for the commit (the `meta` event comes first), and so do
   * tool calls and error events (their rows refer to the conversation); a failed commit aborts the
   * request. A new conversation gets its id up front; if another request for the same visitor created
   * one in between, that one is used and the model is asked again, before any token was relayed.
   * An answer that arrived before the message was written (the offline provider answers at once) is
   * written with it, one write for the whole turn.
   */
  private async overlappedTurn(input: TurnInput, existing: ConversationRow | undefined): Promise<TurnResult> {
    const conversationId = existing?.id ?? newId();
    const messages = await this.modelMessages(input, existing?.id, { stored: false });
    const upstream = new AbortController();
    const forward = () => upstream.abort(input.signal?.reason);
    if (input.signal?.aborted) forward();
    input.signal?.addEventListener('abort', forward, { once: true });
    try {
      let open!: () => void;
      let refuse!: (err: unknown) => void;
      const ready = new Promise<void>((resolve, reject) => ((open = resolve), (refuse = reject)));
      let held: string[] | undefined = [];
      const onToken =
        input.onToken &&
        ((text: string) => {
          if (held) held.push(text);
          else input.onToken!(text);
        });
      void ready.then(
        () => {
          for (const text of held!) input.onToken!(text);
          held = undefined;
        },
        (err) => upstream.abort(err),
      );
      let early: Answer | undefined;
      const asked = this.providerAnswer({ ...input, signal: upstream.signal, onToken }, { id: conversationId, channel: input.channel }, messages, ready);
      asked.then(
        (answer) => void (early = answer),
        () => undefined,
      );
      // The request leaves first. On SQLite a commit blocks the thread, and begun first it held the
      // request back until it was done (~2 ms of every web reply's first token); a turn of the event
      // loop is what the SDK needs to write the request on a kept-alive connection.
      await yieldToLoop();
      const known: Known = existing ? { conversation: existing } : { newId: conversationId };
      // An answer that is already there (the offline provider's) is written with the user's message.
      if (early && this.writesAtOnce(input, known) && !early.capture && early.leadState === undefined) {
        const answer: Answer = early;
        const inbound = this.inboundWrites(input, known);
        const reply = this.replyWrites(input, inbound.conversation, answer);
        try {
          await this.deps.store.writeAll([...inbound.writes, ...reply.writes]);
        } catch (err) {
          refuse(err);
          if (!inbound.created) throw err;
          // Another request of this visitor created the conversation first: answer within that one.
          return this.afterInbound(input, await this.recordInbound(input));
        }
        inbound.announce();
        input.onConversation?.(conversationId);
        open();
        reply.announce();
        return this.turnResult(inbound.conversation, inbound.messageId, reply.id, answer, answer.lead);
      }
      const stored = this.recordInbound(input, known);
      stored.then(({ conversation }) => {
        if (conversation.id !== conversationId) throw new ConversationTaken();
        input.onConversation?.(conversation.id);
      }).then(open, refuse);
      let inbound: Inbound;
      try {
        inbound = await stored;
        await ready;
      } catch (err) {
        await asked.catch(() => undefined);
        if (!(err instanceof ConversationTaken)) throw err;
        return this.afterInbound(input, await stored);
      }
      return this.finishTurn(input, inbound.conversation, inbound.inbound.id, await asked);
    } finally {
      input.signal?.removeEventListener('abort', forward);
    }
  }

  /** The second transaction: the reply (and the lead state it leaves), then what the caller gets back. */
  private async finishTurn(input: TurnInput, conversation: ConversationRow, userMessageId: string, answer: Answer): Promise<TurnResult> {
    const { store } = this.deps;
    const reply = this.replyWrites(input, conversation, answer);
    let lead = answer.lead;
    const capture = answer.capture;
    if (capture) {
      // Whether the email is known decides between a new lead and a recorded resubmission: it reads,
      // so it needs the transaction. The caller gets back what was typed, never a stored lead.
      const captured = await store.transaction(async (trx) => {
        await store.runAll(reply.writes, trx);
        return this.deps.leads.submit(input.tenant.id, capture, trx);
      });
      lead = captured.submitted;
    } else {
      await store.writeAll(reply.writes);
    }
    reply.announce();
    return this.turnResult(conversation, userMessageId, reply.id, answer, lead);
  }

  /** The reply's writes, not yet run: its message, the lead state it leaves, its events. */
  private replyWrites(input: TurnInput, conversation: ConversationRow, answer: Answer): { id: string; writes: Write[]; announce(): void } {
    const { store, events } = this.deps;
    const tenantId = input.tenant.id;
    const reply = store.messageInsert(tenantId, { conversationId: conversation.id, channel: conversation.channel, role: 'assistant', text: answer.text });
    const writes = [reply.write];
    if (answer.leadState !== undefined) writes.push(store.updateWrite(tenantId, conversation.id, { leadState: answer.leadState }));
    const recorded = [...(answer.events ?? [])];
    // A web reply is delivered in the response itself; on Meta and WhatsApp the channel's sender records
    // reply_sent when the provider has taken the message, so each reply is counted once.
    if (conversation.channel === 'web') recorded.push({ type: 'reply_sent', conversationId: conversation.id, data: { channel: conversation.channel, length: answer.text.length } });
    const prepared = events.prepareAll(tenantId, recorded);
    if (prepared.write) writes.push(prepared.write);
    return { id: reply.id, writes, announce: prepared.announce };
  }

  private turnResult(conversation: ConversationRow, userMessageId: string, replyMessageId: string, answer: Answer, lead: SubmittedLead | undefined): TurnResult {
    const leadState = answer.leadState === undefined ? conversation.leadState : answer.leadState;
    return {
      conversationId: conversation.id,
      duplicate: false,
      userMessageId,
      reply: answer.text,
      replyMessageId,
      leadFlowActive: Boolean(leadState),
      ...(answer.checkoutUrl ? { checkoutUrl: answer.checkoutUrl } : {}),
      ...(lead ? { lead } : {}),
    };
  }

  private async resolveConversation(
    input: TurnInput,
    trx: Tx,
    known?: Known,
  ): Promise<{ conversation: ConversationRow; created: boolean }> {
    if (known && 'conversation' in known) return { conversation: known.conversation, created: false };
    if (input.conversationId) return { conversation: (await this.findConversation(input, trx))!, created: false };
    return this.deps.store.findOrCreate(input.tenant.id, input.channel, input.externalUserId, input.userName ?? null, trx, known?.newId);
  }

  /** The lead flow answers when it is running, or when the tenant's lead mode says it starts now. */
  private async leadFlowAnswer(input: TurnInput, conversation: ConversationRow): Promise<Answer | undefined> {
    const settings = input.tenant.settings.lead ?? {};
    const mode = settings.mode ?? 'intent';
    const state = conversation.leadState;
    if (!state) {
      if (mode === 'off') return undefined;
      const starts =
        mode === 'intent'
          ? hasContactIntent(input.text)
          : (await this.deps.store.countUserMessages(input.tenant.id, conversation.id)) === 1;
      if (!starts) return undefined;
      const started = startLeadFlow();
      const text = mode === 'first_message' ? `Hi! I'm the ${input.tenant.name} assistant. Before we start, what's your name?` : started.reply;
      this.relay(input, text);
      return { text, leadState: started.state, events: [{ type: 'lead_started', conversationId: conversation.id, data: { channel: conversation.channel, mode } }] };
    }
    const outcome = advanceLeadFlow(state, input.text, { askWhatsapp: settings.ask_whatsapp !== false });
    if (outcome.kind === 'continue') {
      this.relay(input, outcome.reply);
      return { text: outcome.reply, leadState: outcome.state };
    }
    if (outcome.kind === 'cancelled') {
      this.relay(input, outcome.reply);
      return { text: outcome.reply, leadState: null };
    }
    const text = capturedReply(outcome.lead);
    this.relay(input, text);
    return { text, leadState: null, capture: { ...outcome.lead, channel: conversation.channel, conversationId: conversation.id } };
  }

  /** What the model sees of the conversation: its recent messages, ending with the user's new one. */
  private async modelMessages(input: TurnInput, conversationId: string | undefined, opts: { stored: boolean }): Promise<ModelMessage[]> {
    const current: ModelMessage = { role: 'user', content: input.text };
    if (!this.deps.provider.usesHistory || !conversationId) return [current];
    const limit = input.tenant.settings.memory_messages ?? DEFAULT_MEMORY_MESSAGES;
    // Read after the message was stored, the history ends with it; read before, it is added here.
    const history = await this.deps.store.recentMessages(input.tenant.id, conversationId, opts.stored ? limit : limit - 1);
    const messages = history.filter((m) => m.role !== 'system').map((m): ModelMessage => ({ role: m.role === 'user' ? 'user' : 'assistant', content: m.text }));
    return opts.stored ? messages : [...messages, current];
  }

  /** `stored` settles when the user's message is committed: tools and error events wait for it. */
  private providerAnswer(
    input: TurnInput,
    conversation: Pick<ConversationRow, 'id' | 'channel'>,
    messages: ModelMessage[],
    stored: Promise<void> = Promise.resolve(),
  ): Promise<Answer> {
    const { provider, prompts, events, catalog, checkout, leads } = this.deps;
    const tenant = input.tenant;
    const turnTools = new TurnTools({ tenant, channel: conversation.channel, conversationId: conversation.id, leads, events, catalog, checkout });
    const tools: ToolRunner = { specs: turnTools.specs, run: async (name, args) => (await stored, turnTools.run(name, args)) };
    const request: GenerateRequest = {
      tenant,
      channel: conversation.channel,
      conversationId: conversation.id,
      system: prompts.build(tenant, conversation.channel, { hasCatalog: catalog?.configured(tenant) ?? false }),
      messages,
      tools,
      signal: input.signal,
      live: input.onToken !== undefined,
      onToken: input.onToken ?? ignoreToken,
    };
    // Handlers rather than an awaiting frame: a stream keeps whatever waits on the model for as long as it lasts.
    return new Promise<GenerateResult>((resolve) => resolve(provider.generate(request))).then(
      // A model (or an OpenAI-compatible server) may emit U+0000, which PostgreSQL would refuse to store.
      (result) => ({ text: withoutNul(result.text).trim() || "Sorry, I don't have an answer to that right now.", checkoutUrl: turnTools.checkoutUrl, lead: turnTools.lead }),
      (err: unknown) => this.providerFailed(input, conversation, stored, err),
    );
  }

  /** A failed model request is an ai_error event (once the user's message is stored), unless the client left. */
  private async providerFailed(input: TurnInput, conversation: Pick<ConversationRow, 'id' | 'channel'>, stored: Promise<void>, err: unknown): Promise<never> {
    if (!input.signal?.aborted) {
      const e = err as { code?: string; status?: number; message?: string };
      await stored;
      await this.deps.events.record(input.tenant.id, 'ai_error', {
        conversationId: conversation.id,
        data: { provider: this.deps.provider.name, code: e.code ?? 'error', status: e.status ?? null },
      });
      this.deps.logger.warn({ err, tenant: input.tenant.slug, conversation: conversation.id }, 'AI provider failed');
    }
    throw err;
  }

  /** Canned replies stream like model output, so every client handles one kind of reply. */
  private relay(input: TurnInput, text: string): void {
    if (!input.onToken) return;
    for (const chunk of wordChunks(text)) input.onToken(chunk);
  }
}
