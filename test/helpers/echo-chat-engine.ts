import { newId } from '../../src/db/dialect.js';
import type { TurnRunner, TurnInput, TurnResult } from '../../src/features/chat/chat.types.js';

/**
 * A deterministic stand-in for the chat engine (a dependency of the channel workers, built elsewhere):
 * answers "Reply to: <text>" and, like the real engine, treats a repeated providerMessageId as a
 * duplicate that gets no reply. One instance may be shared by several app instances (one "database").
 */
export class EchoChatEngine implements TurnRunner {
  readonly calls: TurnInput[] = [];
  private readonly seen = new Set<string>();
  private readonly conversations = new Map<string, string>();

  async runTurn(input: TurnInput): Promise<TurnResult> {
    this.calls.push(input);
    const who = `${input.tenant.id}:${input.channel}:${input.externalUserId}`;
    if (!this.conversations.has(who)) this.conversations.set(who, newId());
    const conversationId = this.conversations.get(who)!;
    const key = `${input.tenant.id}:${input.channel}:${input.providerMessageId ?? Math.random()}`;
    if (this.seen.has(key)) {
      return { conversationId, duplicate: true, reply: null, replyMessageId: null, userMessageId: null, leadFlowActive: false };
    }
    this.seen.add(key);
    return { conversationId, duplicate: false, reply: `Reply to: ${input.text}`, replyMessageId: null, userMessageId: null, leadFlowActive: false };
  }
}
