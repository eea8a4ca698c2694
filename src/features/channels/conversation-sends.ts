import type { Logger } from '../../logger.js';
import type { ChannelSenders } from './channel.types.js';
import type { Channel, ConversationService, MessageRole } from '../chat/chat.types.js';
import { errorText } from '../jobs/job-queue.js';
import { PermanentJobError, type JobContext, type JobQueue } from '../jobs/jobs.types.js';
import type { Tenant, TenantService } from '../tenants/tenant-service.js';
import type { ConversationReadModel } from '../chat/conversation-read-model.js';
import { type Tx } from '../../db/unit-of-work.js';

export const SEND_JOB = 'conversation.send';

export interface ConversationSendsDeps {
  tenants: TenantService;
  conversations: ConversationService;
  store: ConversationReadModel;
  jobs: JobQueue;
  senders: ChannelSenders;
  logger: Logger;
}

/**
 * The one way a message that is not a bot reply (an operator's reply, a payment's thank-you) reaches
 * a conversation's channel: the message is stored first, then a `conversation.send` job delivers that
 * stored message through the channel's sender. The send is keyed on the message id (outbound_sends),
 * so a retried job never sends it twice; transient failures retry through the queue, a provider's
 * refusal parks the job as dead. A channel without a sender (web) has nothing more to do: the stored
 * message is the delivery.
 */
export class ConversationSends {
  constructor(private readonly deps: ConversationSendsDeps) {}


  /** Whether the channel has a sender (web has none: a stored message is delivered). */
  delivers(channel: Channel): boolean {
    return this.deps.senders[channel] !== undefined;
  }

  /**
   * Stores the message and queues its delivery; same shape as ConversationService.appendMessage. In the
   * caller's transaction both commit with the caller's own writes; without one, the message is stored
   * before the job exists: a crash in between leaves it stored and 'queued', visible to an operator,
   * rather than a job for a message that was never written.
   */
  async appendMessage(tenantId: string, conversationId: string, message: { role: MessageRole; text: string }, trx?: Tx): Promise<{ id: string }> {
    const conversation = await this.deps.conversations.get(tenantId, conversationId, trx);
    const sends = this.delivers(conversation.channel);
    const { id } = await this.deps.conversations.appendMessage(tenantId, conversationId, { ...message, ...(sends ? { deliveryStatus: 'queued' } : {}) }, trx);
    if (sends) await this.deps.jobs.enqueue(SEND_JOB, { tenantId, messageId: id }, { jobKey: `send:${id}`, trx, tenant: tenantId });
    return { id };
  }

  async run(payload: { tenantId: string; messageId: string }, ctx: JobContext): Promise<void> {
    const tenant: Tenant | undefined = await this.deps.tenants.getById(payload.tenantId).catch(() => undefined);
    if (!tenant) throw new PermanentJobError('the tenant of this message no longer exists');
    const message = await this.deps.store.message(tenant.id, payload.messageId);
    if (!message) throw new PermanentJobError(`message ${payload.messageId} no longer exists`);
    const conversation = await this.deps.conversations.get(tenant.id, message.conversationId);
    const sender = this.deps.senders[conversation.channel];
    if (!sender) return;
    try {
      const result = await sender.send({
        tenant,
        channel: conversation.channel,
        conversationId: conversation.id,
        externalUserId: conversation.externalUserId,
        text: message.text,
        lastInboundAt: conversation.lastInboundAt,
        messageId: message.id,
        idempotencyKey: `msg:${message.id}`,
      });
      if (!result.sent) this.deps.logger.info({ tenant: tenant.slug, message: message.id, reason: result.reason }, 'message stored but not sent on its channel');
    } catch (err) {
      // A provider's refusal (transient === false) will not change on retry: park it now.
      const refused = (err as { transient?: unknown })?.transient === false;
      const permanent = refused || err instanceof PermanentJobError;
      if (permanent || ctx.lastAttempt) {
        // A sender that got a refusal has already recorded it on the message, with the provider's code.
        if (!refused)
        await this.deps.conversations.updateDelivery(tenant.id, { messageId: message.id }, { status: 'failed', errorCode: 'send_failed' }).catch(() => undefined);
        this.deps.logger.error({ tenant: tenant.slug, message: message.id, channel: conversation.channel, reason: errorText(err) }, 'message could not be sent on its channel; parked');
      }
      if (permanent && !(err instanceof PermanentJobError)) throw new PermanentJobError(errorText(err));
      throw err;
    }
  }
}
