import type { Knex } from 'knex';
import { NotFoundError } from '../../errors.js';
import { nowIso } from '../../db/dialect.js';
import type { Logger } from '../../logger.js';
import type { PromptBuilder } from '../ai/prompt-builder.js';
import type { AiProvider, ModelMessage } from '../ai/provider.js';
import { wordChunks } from '../ai/text-match.js';
import { TurnTools } from '../ai/tools.js';
import type { CatalogLookup } from '../catalog/catalog.types.js';
import type { EventService } from '../events/event-service.js';
import { advanceLeadFlow, capturedReply, hasContactIntent, startLeadFlow, type LeadState } from '../leads/lead-flow.js';
import { leadView, type CaptureInput, type LeadService, type LeadView } from '../leads/lead-service.js';
import type { CheckoutCreator } from '../payments/payments.types.js';
import type { ChatEngine, TurnInput, TurnResult } from './chat.types.js';
import type { ConversationRow, ConversationStore } from './conversation-store.js';

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

interface Answer {
  text: string;
  leadState?: LeadState | null;
  lead?: LeadView;
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
   */
  async runTurn(input: TurnInput): Promise<TurnResult> {
    const { store, events } = this.deps;
    const tenantId = input.tenant.id;
    const { conversation, inbound } = await store.transaction(async (trx) => {
      const { conversation, created } = await this.resolveConversation(input, trx);
      const inbound = await store.insertMessage(
        tenantId,
        {
          conversationId: conversation.id,
          channel: conversation.channel,
          role: 'user',
          text: input.text,
          providerMessageId: input.providerMessageId,
          media: input.media?.length ? input.media : undefined,
        },
        trx,
      );
      const recorded: Parameters<EventService['recordAll']>[1] = [];
      if (created) recorded.push({ type: 'conversation_started', conversationId: conversation.id, data: { channel: conversation.channel } });
      if (!inbound.duplicate) {
        // The 24 h reply window of Meta and WhatsApp starts at the user's last message.
        const patch = {
          ...(conversation.channel !== 'web' ? { lastInboundAt: nowIso() } : {}),
          ...(input.userName && input.userName !== conversation.userName ? { userName: input.userName } : {}),
        };
        // A conversation created just now already has this updated_at; only a patch needs the write.
        if (!created || Object.keys(patch).length > 0) await store.update(tenantId, conversation.id, patch, trx);
        recorded.push({ type: 'message_received', conversationId: conversation.id, data: { channel: conversation.channel } });
      }
      await events.recordAll(tenantId, recorded, { trx });
      return { conversation, inbound };
    });
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

    const base = { conversationId: conversation.id, duplicate: false, userMessageId };
    if (conversation.botPaused) {
      return { ...base, reply: null, replyMessageId: null, leadFlowActive: Boolean(conversation.leadState) };
    }

    const answer = (await this.leadFlowAnswer(input, conversation)) ?? (await this.providerAnswer(input, conversation));
    const { reply, lead } = await store.transaction(async (trx) => {
      if (answer.leadState !== undefined) await store.update(tenantId, conversation.id, { leadState: answer.leadState }, trx);
      const captured = answer.capture ? await this.deps.leads.capture(tenantId, answer.capture, trx) : undefined;
      const reply = await store.insertMessage(tenantId, { conversationId: conversation.id, channel: conversation.channel, role: 'assistant', text: answer.text }, trx);
      const recorded = [...(answer.events ?? [])];
      // A web reply is delivered in the response itself; on Meta and WhatsApp the channel's sender records
      // reply_sent when the provider has taken the message, so each reply is counted once.
      if (conversation.channel === 'web') recorded.push({ type: 'reply_sent', conversationId: conversation.id, data: { channel: conversation.channel, length: answer.text.length } });
      if (recorded.length > 0) await events.recordAll(tenantId, recorded, { trx });
      return { reply, lead: captured ? leadView(captured.lead) : answer.lead };
    });
    const leadState = answer.leadState === undefined ? conversation.leadState : answer.leadState;
    return {
      ...base,
      reply: answer.text,
      replyMessageId: reply.id,
      leadFlowActive: Boolean(leadState),
      ...(answer.checkoutUrl ? { checkoutUrl: answer.checkoutUrl } : {}),
      ...(lead ? { lead } : {}),
    };
  }

  private async resolveConversation(input: TurnInput, trx: Knex.Transaction): Promise<{ conversation: ConversationRow; created: boolean }> {
    const { store } = this.deps;
    const tenantId = input.tenant.id;
    if (input.conversationId) {
      const c = await store.findById(tenantId, input.conversationId, trx);
      // Another tenant's conversation, or another channel's, is as unknown as a made-up id.
      if (!c || c.channel !== input.channel) throw new NotFoundError('conversation not found');
      return { conversation: c, created: false };
    }
    return store.findOrCreate(tenantId, input.channel, input.externalUserId, input.userName ?? null, trx);
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

  private async providerAnswer(input: TurnInput, conversation: ConversationRow): Promise<Answer> {
    const { store, provider, prompts, events, catalog, checkout, leads } = this.deps;
    const tenant = input.tenant;
    let messages: ModelMessage[] = [{ role: 'user', content: input.text }];
    if (provider.usesHistory) {
      const limit = tenant.settings.memory_messages ?? DEFAULT_MEMORY_MESSAGES;
      const history = await store.recentMessages(tenant.id, conversation.id, limit);
      messages = history
        .filter((m) => m.role !== 'system')
        .map((m) => ({ role: m.role === 'user' ? 'user' : 'assistant', content: m.text }));
    }
    const tools = new TurnTools({ tenant, channel: conversation.channel, conversationId: conversation.id, leads, events, catalog, checkout });
    try {
      const result = await provider.generate({
        tenant,
        channel: conversation.channel,
        conversationId: conversation.id,
        system: prompts.build(tenant, conversation.channel, { hasCatalog: catalog?.configured(tenant) ?? false }),
        messages,
        tools,
        signal: input.signal,
        live: input.onToken !== undefined,
        onToken: (t) => input.onToken?.(t),
      });
      const text = result.text.trim() || "Sorry, I don't have an answer to that right now.";
      return { text, checkoutUrl: tools.checkoutUrl, lead: tools.lead };
    } catch (err) {
      if (!input.signal?.aborted) {
        const e = err as { code?: string; status?: number; message?: string };
        await events.record(tenant.id, 'ai_error', {
          conversationId: conversation.id,
          data: { provider: provider.name, code: e.code ?? 'error', status: e.status ?? null },
        });
        this.deps.logger.warn({ err, tenant: tenant.slug, conversation: conversation.id }, 'AI provider failed');
      }
      throw err;
    }
  }

  /** Canned replies stream like model output, so every client handles one kind of reply. */
  private relay(input: TurnInput, text: string): void {
    if (!input.onToken) return;
    for (const chunk of wordChunks(text)) input.onToken(chunk);
  }
}
