import type { sendView } from '../../features/channels/outbound-sends.js';
import { printTable, type CliIO } from '../io.js';

/** Sends in doubt as `zia webhooks log` and `zia conversations show` print them. */
export function printSendTable(io: CliIO, sends: Array<ReturnType<typeof sendView>>): void {
  const state = (s: ReturnType<typeof sendView>) => (s.status === 'sent' && s.resends > 0 ? `sent, re-sent ${s.resends}x (a duplicate is possible)` : s.status);
  printTable(io, ['SEND ID', 'UPDATED', 'CHANNEL', 'TO', 'STATUS', 'DELIVERY', 'CONVERSATION'], sends.map((s) => [s.id, s.updated_at, s.channel, s.to, state(s), s.delivery_id, s.conversation_id]));
}
