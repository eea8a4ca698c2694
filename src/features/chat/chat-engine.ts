import { withoutNul } from '../../validation.js';
import type { Logger } from '../../logger.js';
import type { PromptBuilder } from '../ai/prompt-builder.js';
import type { AiProvider, GenerateRequest, GenerateResult, ModelMessage, ToolRunner } from '../ai/provider.js';
import { wordChunks } from '../ai/text-match.js';
import { TurnTools } from '../ai/tools.js';
import type { CatalogLookup } from '../catalog/catalog.types.js';
import type { EventService } from '../events/event-service.js';
import { advanceLeadFlow, capturedReply, hasContactIntent, startLeadFlow } from '../leads/lead-flow.js';
import type { LeadService, SubmittedLead } from '../leads/lead-service.js';
import type { CheckoutCreator } from '../payments/payments.types.js';
import type { Channel, TurnInput, TurnResult, TurnRunner } from './chat.types.js';
import type { ConversationRow, ConversationStore } from './conversation-store.js';
import { TurnRecorder, type Inbound, type ReplyRecord } from './turn-recorder.js';
import { asksForHuman, decideHandoff, operatorLabel, takesHandoff, type HandoffDecision } from '../handoff/handoff-policy.js';
import { nowIso } from '../../db/dialect.js';
import type { KnowledgeLookup, Passage } from '../knowledge/knowledge-search.js';
import { citedSources, passagesSection, type Source } from '../knowledge/knowledge-answer.js';

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
  /** Optional: the tenants' knowledge bases (search_knowledge, passages in the prompt, sources). */
  knowledge?: KnowledgeLookup;
  /** The clock that decides whether the team is in (opening hours); Date.now by default. */
  now?: () => number;
}

/** A turn without a live client (/v1/chat, a channel's worker) has no use for the tokens as they come. */
const ignoreToken = () => undefined;

/** What answers the user: the text, and what it changes (see ReplyRecord), a checkout link made on the way. */
interface Answer extends ReplyRecord {
  lead?: SubmittedLead;
  checkoutUrl?: string;
  sources?: Source[];
}

/** Runs one turn of conversation for any channel: who answers, what is stored, which events are recorded. */
export class ChatEngine implements TurnRunner {
  private readonly recorder: TurnRecorder;

  constructor(private readonly deps: ChatEngineDeps) {
    this.recorder = new TurnRecorder({ store: deps.store, events: deps.events, leads: deps.leads });
  }

  /**
   * The user's message is committed first (TurnRecorder), then the turn decides who answers: nobody
   * (a repeat already answered, a paused bot), the lead flow, or the model; the reply is the second
   * commit. A web turn reads the visitor's conversation first so that the first commit needs no read;
   * a visitor whose id was made up for this request has none to read.
   */
  async runTurn(input: TurnInput): Promise<TurnResult> {
    const existing = input.providerMessageId ? undefined : input.newVisitor ? null : ((await this.recorder.find(input)) ?? null);
    return this.afterInbound(input, await this.recorder.recordInbound(input, existing));
  }

  /** The rest of a turn once the user's message is stored: repeats, pauses, lead flow or model, reply. */
  private async afterInbound(input: TurnInput, { conversation, created, inbound }: Inbound): Promise<TurnResult> {
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
      this.handoffAnswer(input, conversation) ??
      (await this.leadFlowAnswer(input, conversation)) ??
      (await this.providerAnswer(input, conversation, await this.modelMessages(input, created ? undefined : conversation.id)));
    const reply = await this.recorder.recordReply(input, conversation, answer);
    const lead = reply.lead ?? answer.lead;
    const leadState = answer.leadState === undefined ? conversation.leadState : answer.leadState;
    return {
      conversationId: conversation.id,
      duplicate: false,
      userMessageId,
      reply: answer.text,
      replyMessageId: reply.id,
      leadFlowActive: Boolean(leadState),
      ...(answer.checkoutUrl ? { checkoutUrl: answer.checkoutUrl } : {}),
      ...(answer.sources?.length ? { sources: answer.sources } : {}),
      ...(lead ? { lead } : {}),
    };
  }

  /**
   * A customer who asks for a person (tenants with handoff enabled) is told what happens next. Public
   * comments are not conversations a person takes over: there the words are a question like any other.
   */
  private handoffAnswer(input: TurnInput, conversation: ConversationRow): Answer | undefined {
    const tenant = input.tenant;
    if (!takesHandoff(tenant, conversation.channel) || !asksForHuman(input.text, tenant.settings.handoff?.keywords)) return undefined;
    const decision = this.handoffDecision(tenant);
    this.relay(input, decision.message);
    return { text: decision.message, ...handoffRecord(conversation, decision, 'customer', null) };
  }

  private handoffDecision(tenant: TurnInput['tenant']): HandoffDecision {
    return decideHandoff(tenant, new Date((this.deps.now ?? Date.now)()));
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

  /**
   * What the model sees of the conversation: its recent messages, ending with the user's new one. A
   * conversation this message began (no id given) has only that message. What a person from the team
   * wrote is an assistant turn marked with their label, so the model can tell it from its own words.
   */
  private async modelMessages(input: TurnInput, conversationId: string | undefined): Promise<ModelMessage[]> {
    if (!this.deps.provider.usesHistory || !conversationId) return [{ role: 'user', content: input.text }];
    const limit = input.tenant.settings.memory_messages ?? DEFAULT_MEMORY_MESSAGES;
    const history = await this.deps.store.recentMessages(input.tenant.id, conversationId, limit);
    const label = operatorLabel(input.tenant);
    return history
      .filter((m) => m.role !== 'system')
      .map((m): ModelMessage => ({ role: m.role === 'user' ? 'user' : 'assistant', content: m.role === 'operator' ? `[${label}] ${m.text}` : m.text }));
  }

  /** The model's answer, with what the knowledge base holds on the question when the tenant has one. */
  private async providerAnswer(input: TurnInput, conversation: Pick<ConversationRow, 'id' | 'channel' | 'handoffRequestedAt'>, messages: ModelMessage[]): Promise<Answer> {
    const { knowledge } = this.deps;
    const knows = knowledge !== undefined && (await knowledge.has(input.tenant));
    // Only passages that clearly match go into the prompt; the model can search for more itself.
    const passages = knows ? (await knowledge.search(input.tenant, input.text, { limit: 3 })).filter((p) => p.clear) : [];
    return this.modelAnswer(input, conversation, messages, knows ? knowledge : undefined, passages);
  }

  private modelAnswer(
    input: TurnInput,
    conversation: Pick<ConversationRow, 'id' | 'channel' | 'handoffRequestedAt'>,
    messages: ModelMessage[],
    knowledge: KnowledgeLookup | undefined,
    passages: Passage[],
  ): Promise<Answer> {
    const { provider, prompts, events, catalog, checkout, leads } = this.deps;
    const tenant = input.tenant;
    const handoff = takesHandoff(tenant, conversation.channel) ? () => this.handoffDecision(tenant) : undefined;
    const turnTools = new TurnTools({ tenant, channel: conversation.channel, conversationId: conversation.id, leads, events, catalog, checkout, handoff, knowledge });
    const tools: ToolRunner = { specs: turnTools.specs, run: (name, args) => turnTools.run(name, args) };
    const system = withHandoffNote(prompts.build(tenant, conversation.channel, { hasCatalog: catalog?.configured(tenant) ?? false }), tenant, messages);
    const request: GenerateRequest = {
      tenant,
      channel: conversation.channel,
      conversationId: conversation.id,
      system: passages.length > 0 ? `${system}\n\n${passagesSection(passages)}` : system,
      messages,
      tools,
      ...(passages.length > 0 ? { knowledge: passages } : {}),
      signal: input.signal,
      live: input.onToken !== undefined,
      onToken: input.onToken ?? ignoreToken,
    };
    // Handlers rather than an awaiting frame: a stream keeps whatever waits on the model for as long as it lasts.
    return new Promise<GenerateResult>((resolve) => resolve(provider.generate(request))).then(
      (result) => {
        // A model (or an OpenAI-compatible server) may emit U+0000, which PostgreSQL would refuse to store.
        const text = withoutNul(result.text).trim() || (turnTools.handoff?.decision.message ?? "Sorry, I don't have an answer to that right now.");
        const sources = passages.length + turnTools.passages.length > 0 ? citedSources(text, [...passages, ...turnTools.passages]) : [];
        return {
          text: withSourceLink(text, sources, conversation.channel),
          checkoutUrl: turnTools.checkoutUrl,
          lead: turnTools.lead,
          sources,
          ...(turnTools.handoff ? handoffRecord(conversation, turnTools.handoff.decision, 'model', turnTools.handoff.reason) : {}),
        };
      },
      (err: unknown) => this.providerFailed(input, conversation, err),
    );
  }

  /** A failed model request is an ai_error event, unless the client left. */
  private async providerFailed(input: TurnInput, conversation: Pick<ConversationRow, 'id' | 'channel'>, err: unknown): Promise<never> {
    if (!input.signal?.aborted) {
      const e = err as { code?: string; status?: number; message?: string };
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

/**
 * What a request for a person changes: the conversation waits (since the first request) and the bot
 * pauses unless the tenant lets it keep helping; `handoff_requested` is recorded once per wait.
 */
function handoffRecord(
  conversation: Pick<ConversationRow, 'id' | 'channel' | 'handoffRequestedAt'>,
  decision: HandoffDecision,
  by: 'customer' | 'model',
  reason: string | null,
): Pick<ReplyRecord, 'handoff' | 'events'> {
  const waiting = conversation.handoffRequestedAt;
  return {
    handoff: { requestedAt: waiting ?? nowIso(), pause: decision.pause },
    events: waiting
      ? []
      : [{ type: 'handoff_requested', conversationId: conversation.id, data: { channel: conversation.channel, by, reason, within_hours: decision.withinHours, bot_paused: decision.pause } }],
  };
}

/**
 * When a person from the team took part in the recent conversation, the model is told so: what they
 * said stands, and the bot carries on from it rather than repeating or contradicting it.
 */
function withHandoffNote(system: string, tenant: TurnInput['tenant'], messages: ModelMessage[]): string {
  const mark = `[${operatorLabel(tenant)}] `;
  const operatorTurns = messages.filter((m) => m.role === 'assistant' && m.content.startsWith(mark)).length;
  if (operatorTurns === 0) return system;
  return `${system}\n\nHandoff: a person from the team answered this customer ${operatorTurns === 1 ? 'once' : `${operatorTurns} times`} above (their messages start with ${mark.trim()}); you are answering again now. Treat what they said as settled: build on it, do not repeat it or contradict it, and never write as them.`;
}

/** Channels whose replies carry no structured sources: the first source's link goes in the text, once. */
const LINKED_CHANNELS: ReadonlySet<Channel> = new Set(['whatsapp', 'messenger', 'instagram']);

function withSourceLink(text: string, sources: readonly Source[], channel: Channel): string {
  const url = sources.find((s) => s.url)?.url;
  if (!url || !LINKED_CHANNELS.has(channel) || text.includes(url)) return text;
  return `${text}\n\n${url}`;
}
