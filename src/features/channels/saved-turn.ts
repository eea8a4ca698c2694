import type { Logger } from '../../logger.js';
import type { TurnResult } from '../chat/chat.types.js';
import type { DeliveryRecord } from '../webhooks/webhook-store.js';
import type { WebhookService } from '../webhooks/webhook-service.js';

export interface SavedTurn {
  conversationId: string;
  reply: string | null;
  replyMessageId: string | null;
  /** The checkout link the turn created, so a retry still shows it as a button where the channel can. */
  checkoutUrl?: string;
}

/**
 * The engine's turn for an inbox delivery, run once: its reply is saved on the delivery before anything
 * is sent, so a retry (after a provider error or a crash) sends the same reply instead of asking the
 * engine again. Shared by every channel worker.
 */
export async function savedTurn(inbox: WebhookService, logger: Logger, delivery: DeliveryRecord, run: () => Promise<TurnResult>): Promise<SavedTurn | null> {
  const saved = delivery.result as (SavedTurn & { turn?: boolean }) | null;
  if (saved?.turn) return saved;
  const result = await run();
  // An engine that returns the earlier reply for a duplicate lets a retry still deliver it (sends are
  // keyed, so this never sends twice); one that returns null leaves nothing to send.
  if (result.duplicate && result.reply === null) {
    // The engine already answered this message id, but the reply was not saved here: the process
    // stopped between the two. Re-asking would answer twice, so the item ends without a send.
    logger.warn({ delivery: delivery.id, external_id: delivery.externalId }, 'turn already ran for this message before a crash; its reply was not saved, nothing sent');
    return null;
  }
  const turn: SavedTurn = { conversationId: result.conversationId, reply: result.reply, replyMessageId: result.replyMessageId, ...(result.checkoutUrl ? { checkoutUrl: result.checkoutUrl } : {}) };
  await inbox.saveResult(delivery.id, { ...turn, turn: true });
  return turn;
}
