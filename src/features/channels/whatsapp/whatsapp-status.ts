import type { ConversationService } from '../../chat/chat.types.js';

/**
 * Twilio's message statuses in the order a message moves through them. Status callbacks can arrive out
 * of order, so a report only replaces a status that comes before it; failed, undelivered and canceled
 * are terminal.
 */
const RANK: Record<string, number> = {
  accepted: 0,
  scheduled: 0,
  queued: 0,
  sending: 1,
  sent: 2,
  delivered: 3,
  read: 4,
  failed: 5,
  undelivered: 5,
  canceled: 5,
};

export const TERMINAL_FAILURES = new Set(['failed', 'undelivered', 'canceled']);

/** The statuses a report of `status` may replace (null: none recorded yet); undefined for a status zia does not track. */
export function replaceableBy(status: string): Array<string | null> | undefined {
  const rank = RANK[status];
  if (rank === undefined) return undefined;
  return [null, ...Object.keys(RANK).filter((s) => RANK[s]! < rank)];
}

/**
 * A provider's status report (Twilio's callback, a Cloud API status) applied to the message it names:
 * forward only, a failure with its code. Says whether zia tracks the status and whether it is a failure.
 */
export async function applyStatus(
  conversations: Pick<ConversationService, 'updateDelivery'>,
  tenantId: string,
  report: { providerMessageId: string; status: string; errorCode: string | null },
): Promise<{ tracked: boolean; failed: boolean }> {
  const replaces = replaceableBy(report.status);
  if (!replaces) return { tracked: false, failed: false };
  const failed = TERMINAL_FAILURES.has(report.status);
  await conversations.updateDelivery(tenantId, { providerMessageId: report.providerMessageId }, { status: report.status, replaces, ...(failed ? { errorCode: report.errorCode } : {}) });
  return { tracked: true, failed };
}
