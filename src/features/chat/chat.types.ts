import type { Tenant } from '../tenants/tenant-service.js';

/**
 * The contract every channel uses to run a turn of conversation. The web endpoints, the Meta and
 * WhatsApp workers and the operator tools all go through ChatEngine.runTurn; none of them talks to an
 * AI provider or the lead flow directly.
 */

export const CHANNELS = ['web', 'messenger', 'instagram', 'whatsapp', 'fb_comment', 'ig_comment'] as const;
export type Channel = (typeof CHANNELS)[number];

export interface MediaRef {
  url: string;
  contentType?: string;
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
  lead?: { id: string; email: string; name: string | null; whatsapp: string | null };
  /** Whether the lead flow is in progress after this turn. */
  leadFlowActive: boolean;
}

export interface ChatEngine {
  runTurn(input: TurnInput): Promise<TurnResult>;
}
