import { ConflictError, NotFoundError, UpstreamError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { ConversationService } from '../chat/chat.types.js';
import type { EventService } from '../events/event-service.js';
import type { Tenant, TenantService } from '../tenants/tenant-service.js';
import type { WebhookService } from '../webhooks/webhook-service.js';
import type { OutboundStore, SendContext, SendRecord, SendRequest, SendStatus } from './outbound-store.js';

/** What happens to a send whose fate is unknown (in flight at a crash, or no answer before the timeout). */
export type UncertainSendPolicy = 'resend' | 'hold';

/** One provider's way of sending a stored request (Graph, Twilio); the request never holds credentials. */
export interface SendTransport {
  send(tenant: Tenant, request: SendRequest): Promise<string | null>;
  /** The provider may have accepted it without answering (a timeout): sending it again may duplicate it. */
  ambiguous(err: unknown): boolean;
  /** The stored message's delivery status once the provider accepted the send. */
  acceptedStatus: string;
}

export type SendOutcome =
  | { done: true; providerMessageId: string | null; resent: boolean }
  | { done: false; skipped: 'already_sent'; providerMessageId: string | null }
  | { done: false; skipped: 'held'; sendId: string };

export interface OutboundSendsDeps {
  store: OutboundStore;
  policy: UncertainSendPolicy;
  tenants: TenantService;
  events: EventService;
  logger: Logger;
  conversations: ConversationService;
  inbox: () => WebhookService | undefined;
}

const errorLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0]!;

/**
 * The one routine every provider send goes through. Each send is recorded as `pending` under a
 * deterministic key before the provider is called, so a retried job never repeats one that went out.
 * Meta and Twilio take no idempotency key, so a send found still `pending` (the process died during
 * the call) or `uncertain` (no answer) may or may not have reached the customer. ZIA_UNCERTAIN_SENDS
 * decides: `resend` sends it once more (a rare duplicate is better than an unanswered customer), `hold`
 * keeps it for an operator. Either way it stays listed, and `resend()` sends it by hand.
 */
export class OutboundSends {
  private readonly transports = new Map<string, SendTransport>();

  constructor(private readonly deps: OutboundSendsDeps) {}

  get policy(): UncertainSendPolicy {
    return this.deps.policy;
  }

  register(provider: string, transport: SendTransport): void {
    this.transports.set(provider, transport);
  }

  private transport(provider: string): SendTransport {
    const t = this.transports.get(provider);
    if (!t) throw new Error(`no transport for provider '${provider}'`);
    return t;
  }

  /**
   * Sends `request` once under `key`. `resendable: false` (a public comment reply: a duplicate would be
   * public) never re-sends automatically; it is held instead.
   */
  async once(tenant: Tenant, key: string, channel: string, request: SendRequest, ctx: SendContext, opts: { resendable?: boolean } = {}): Promise<SendOutcome> {
    const { store } = this.deps;
    const { row, fresh } = await store.begin(tenant.id, key, channel, request, ctx);
    let resent = false;
    if (!fresh) {
      if (row.status === 'sent') return { done: false, skipped: 'already_sent', providerMessageId: row.providerMessageId };
      if (row.status === 'held') return { done: false, skipped: 'held', sendId: row.id };
      const retaken = row.status === 'failed' && (await store.transition(tenant.id, row.id, ['failed'], 'pending'));
      if (!retaken) {
        const doubt: SendStatus[] = ['pending', 'uncertain'];
        resent = this.deps.policy === 'resend' && opts.resendable !== false && row.resends === 0 && (await store.transition(tenant.id, row.id, doubt, 'pending', { resend: true }));
        if (resent) {
          this.deps.logger.warn({ tenant: tenant.slug, key, send: row.id, channel }, 'send was in flight when a worker stopped (or got no answer); it may have reached the customer, and is sent once more (ZIA_UNCERTAIN_SENDS=resend)');
        } else {
          await store.transition(tenant.id, row.id, doubt, 'held');
          await this.held({ ...row, status: 'held' }, tenant);
          return { done: false, skipped: 'held', sendId: row.id };
        }
      }
    }
    return { ...(await this.call(tenant, row, request)), resent };
  }

  /** The provider call for a row this attempt owns (status pending). */
  private async call(tenant: Tenant, row: SendRecord, request: SendRequest): Promise<{ done: true; providerMessageId: string | null }> {
    const transport = this.transport(request.provider);
    try {
      const providerMessageId = await transport.send(tenant, request);
      await this.deps.store.transition(tenant.id, row.id, ['pending'], 'sent', { providerMessageId, lastError: null });
      return { done: true, providerMessageId };
    } catch (err) {
      await this.deps.store.transition(tenant.id, row.id, ['pending'], transport.ambiguous(err) ? 'uncertain' : 'failed', { lastError: errorLine(err) });
      throw err;
    }
  }

  private async held(row: SendRecord, tenant: Tenant): Promise<void> {
    this.deps.logger.warn(
      { tenant: tenant.slug, key: row.key, send: row.id, channel: row.channel },
      `send was in flight when a worker stopped (or got no answer); it may not have reached the customer and is held for an operator: zia conversations resend ${row.id}`,
    );
    await this.deps.events.record(tenant.id, 'send_held', { conversationId: row.conversationId, data: { send_id: row.id, channel: row.channel, key: row.key } });
    if (row.messageId) await this.deps.conversations.updateDelivery(tenant.id, { messageId: row.messageId }, { status: 'held', errorCode: 'uncertain_send' });
  }

  /**
   * An operator sends a send in doubt (held, uncertain) or a failed one again by hand. A send that was
   * delivered, or is in flight, is refused. When nothing else of its message or inbox delivery is in
   * doubt any more, both are marked done.
   */
  async resend(sendId: string, by: string, scope?: { tenantId: string }): Promise<{ send: SendRecord; providerMessageId: string | null }> {
    const { store } = this.deps;
    const tenantId = scope?.tenantId ?? (await store.tenantIdOf(sendId));
    const row = tenantId ? await store.get(tenantId, sendId) : undefined;
    if (!row) throw new NotFoundError(`send '${sendId}' not found`);
    if (row.status === 'sent') throw new ConflictError(`send ${row.id} was delivered (provider message ${row.providerMessageId ?? 'unknown'}); nothing to resend`);
    if (row.status === 'pending') throw new ConflictError(`send ${row.id} is in flight (or its worker stopped; a restarted worker decides it); try again later`);
    if (!row.request) throw new ConflictError(`send ${row.id} was recorded before zia kept send requests; it cannot be sent again`);
    const tenant = await this.deps.tenants.getById(row.tenantId);
    if (!(await store.transition(tenant.id, row.id, [row.status], 'pending', { resend: true }))) throw new ConflictError(`send ${row.id} changed meanwhile; look again`);
    let providerMessageId: string | null;
    try {
      ({ providerMessageId } = await this.call(tenant, row, row.request));
    } catch (err) {
      throw new UpstreamError(`send ${row.id} was not accepted: ${errorLine(err)}`);
    }
    const transport = this.transport(row.request.provider);
    if (row.messageId && (await store.openDoubts(tenant.id, { messageId: row.messageId }, row.id)) === 0) {
      await this.deps.conversations.updateDelivery(tenant.id, { messageId: row.messageId }, { status: transport.acceptedStatus, ...(providerMessageId ? { providerMessageId } : {}) });
    }
    if (row.deliveryId && (await store.openDoubts(tenant.id, { deliveryId: row.deliveryId }, row.id)) === 0) await this.deps.inbox()?.settleHeld(row.deliveryId);
    await this.deps.events.record(tenant.id, 'send_resent', { conversationId: row.conversationId, data: { send_id: row.id, channel: row.channel, by } });
    this.deps.logger.info({ tenant: tenant.slug, send: row.id, key: row.key, by }, 'send in doubt sent again by an operator');
    return { send: (await store.get(tenant.id, row.id))!, providerMessageId };
  }

  inDoubt(tenantId: string | undefined, filter: { conversationId?: string; limit?: number } = {}): Promise<SendRecord[]> {
    return this.deps.store.inDoubt(tenantId, { conversationId: filter.conversationId, limit: filter.limit ?? 100 });
  }
}

/** How a send appears to an operator (CLI --json and the admin API). */
export function sendView(s: SendRecord) {
  // Who it was for: a PSID or comment id (Graph), a phone number (Twilio), a number or user id (WhatsApp Cloud API).
  const r: Record<string, any> = s.request ?? {};
  const cloudTo = r.provider === 'cloud' ? (r.body?.to ? `+${r.body.to}` : r.body?.recipient) : undefined;
  const to: string | undefined = cloudTo ?? r.params?.to ?? r.body?.recipient?.id ?? r.body?.recipient?.comment_id ?? r.commentId;
  return {
    id: s.id,
    tenant_id: s.tenantId,
    channel: s.channel,
    key: s.key,
    status: s.status,
    resends: s.resends,
    to: to?.replace(/^whatsapp:/, '') ?? null,
    conversation_id: s.conversationId,
    message_id: s.messageId,
    delivery_id: s.deliveryId,
    provider_message_id: s.providerMessageId,
    last_error: s.lastError,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
  };
}
