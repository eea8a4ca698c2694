import type { Tenant } from '../tenants/tenant-service.js';
import { type Tx } from '../../db/unit-of-work.js';

/**
 * The contract every channel uses to run a turn of conversation. The web endpoints, the Meta and
 * WhatsApp workers and the operator tools all go through TurnRunner.runTurn (the ChatEngine); none of them talks to an
 * AI provider or the lead flow directly.
 */

export const CHANNELS = ['web', 'messenger', 'instagram', 'whatsapp', 'fb_comment', 'ig_comment'] as const;
export type Channel = (typeof CHANNELS)[number];

/** What a customer sent besides text: a link to it (Meta, Twilio) or the provider's media id (WhatsApp Cloud API). */
export interface MediaRef {
  url?: string;
  id?: string;
  contentType?: string;
  /** What it is, where there is nothing to fetch (a shared location). */
  description?: string;
}

export interface TurnInput {
  tenant: Tenant;
  channel: Channel;
  /** The user's id on the channel (PSID, IGSID, WhatsApp number, or a web visitor id). */
  externalUserId: string;
  text: string;
  userName?: string;
  /** The provider's id of the inbound message; a repeat of the same id is a duplicate and gets no reply. */
  providerMessageId?: string;
  media?: MediaRef[];
  /** Web only: continue this conversation (must belong to the tenant, else 404). */
  conversationId?: string;
  /** Web only: the visitor id was made up for this request, so there is no conversation to look for. */
  newVisitor?: boolean;
  /** Aborted when the client goes away: the upstream model request is aborted too. */
  signal?: AbortSignal;
  /** Called with each piece of the reply as it is produced (SSE relays these as `token` events). */
  onToken?: (text: string) => void;
  /** Called once the conversation is known, before any token (SSE sends it as the `meta` event). */
  onConversation?: (conversationId: string) => void;
}

export interface TurnResult {
  conversationId: string;
  /** True when the inbound providerMessageId had already been processed: nothing new happened. */
  duplicate: boolean;
  /** Null when nobody answers (bot paused by an operator, or a duplicate). */
  reply: string | null;
  replyMessageId: string | null;
  userMessageId: string | null;
  checkoutUrl?: string;
  /** Pages and documents of the tenant's knowledge base the reply drew on. */
  sources?: Array<{ title: string; url: string | null }>;
  /** What the visitor gave the lead flow or the model's tool, as normalised; never a stored lead. */
  lead?: { email: string; name: string | null; whatsapp: string | null };
  /** Whether the lead flow is in progress after this turn. */
  leadFlowActive: boolean;
}

export interface TurnRunner {
  runTurn(input: TurnInput): Promise<TurnResult>;
}

export type MessageRole = 'user' | 'assistant' | 'operator' | 'system';

export interface ConversationRecord {
  id: string;
  tenantId: string;
  channel: Channel;
  externalUserId: string;
  userName: string | null;
  botPaused: boolean;
  /** When the customer asked for a person, while they wait for one (null otherwise). */
  handoffRequestedAt: string | null;
  /** Start of the channel's 24 h reply window (Meta, WhatsApp); null for web. */
  lastInboundAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface DeliveryUpdate {
  status: string;
  providerMessageId?: string;
  errorCode?: string | null;
  /** Only when the message's current status is one of these (null: none yet); lets out-of-order status reports never move a status backwards. */
  replaces?: ReadonlyArray<string | null>;
}

/** Conversations and their messages, for everything outside the chat engine (workers, payments, operators). */
export interface ConversationService {
  /** 404 (NotFoundError) when the id is unknown or belongs to another tenant. */
  get(tenantId: string, conversationId: string, trx?: Tx): Promise<ConversationRecord>;
  find(tenantId: string, channel: Channel, externalUserId: string): Promise<ConversationRecord | undefined>;
  appendMessage(
    tenantId: string,
    conversationId: string,
    message: { role: MessageRole; text: string; providerMessageId?: string; deliveryStatus?: string },
    /** Store it as part of the caller's transaction (a paid order's thank-you commits with the payment). */
    trx?: Tx,
  ): Promise<{ id: string }>;
  /** Records a send's outcome on a message, found by its id or by the provider's message id. */
  updateDelivery(tenantId: string, ref: { messageId?: string; providerMessageId?: string }, update: DeliveryUpdate): Promise<void>;
  setPaused(tenantId: string, conversationId: string, paused: boolean): Promise<ConversationRecord>;
}
