import type { Logger } from '../../logger.js';
import { errorText } from '../jobs/job-queue.js';
import { PermanentJobError } from '../jobs/jobs.types.js';
import type { EventRecord } from '../events/event-store.js';
import type { EventService } from '../events/event-service.js';
import { FetchRefusedError, safeFetch, type SafeFetchOptions } from '../../net/safe-fetch.js';
import type { LeadService } from '../leads/lead-service.js';
import type { TenantService, Tenant } from '../tenants/tenant-service.js';
import type { DeliveryRecord } from '../webhooks/webhook-store.js';
import type { WebhookService } from '../webhooks/webhook-service.js';
import { SIGNATURE_HEADER, signPayload } from './outbound-signature.js';

export const OUTBOUND_PROVIDER = 'outbound';
export const OUTBOUND_JOB = 'outbound.deliver';

/** zia's analytics events → the names a tenant's system subscribes to. */
export const OUTBOUND_EVENTS = {
  lead_captured: 'lead.created',
  payment_completed: 'payment.completed',
  handoff_paused: 'conversation.handoff',
  handoff_requested: 'conversation.handoff_requested',
  usage_cap_warning: 'usage.cap_warning',
  usage_cap_reached: 'usage.cap_reached',
} as const satisfies Record<string, string>;

// Refusals that no retry can fix: the URL itself is not allowed.
const PERMANENT_REASONS = new Set(['invalid_url', 'scheme_forbidden', 'credentials_forbidden', 'address_forbidden']);

export interface OutboundDeps {
  tenants: TenantService;
  events: EventService;
  inbox: WebhookService;
  leads: LeadService;
  /** SSRF rules for the tenant-controlled URL (the same ones as catalogs). */
  fetchRules: SafeFetchOptions;
  logger: Logger;
}

/**
 * Webhooks to a tenant's own systems. An event that maps to an outbound type is written to the
 * delivery log (provider 'outbound', one row per event) together with its job; the job POSTs the JSON
 * body to the tenant's outbound_webhook_url, signed with outbound_webhook_secret, under the SSRF rules.
 * A non-2xx answer or a network error retries through the queue; after the last attempt the row is
 * dead and can be replayed like any inbound delivery.
 */
export class OutboundWebhooks {
  constructor(private readonly deps: OutboundDeps) {}

  /** Subscribes to the events a tenant's webhook receives; each becomes an OUTBOUND_JOB delivery. */
  listen(): void {
    this.deps.events.onEvent((event) => {
      if (!(event.type in OUTBOUND_EVENTS)) return;
      this.enqueue(event).catch((err) => this.deps.logger.error({ err: errorText(err), event: event.id, type: event.type }, 'outbound webhook could not be queued'));
    });
  }

  /** Records the delivery (with its body, so every attempt sends the same bytes' content) and its job. */
  async enqueue(event: EventRecord): Promise<void> {
    const type = OUTBOUND_EVENTS[event.type as keyof typeof OUTBOUND_EVENTS];
    const tenant = await this.deps.tenants.getById(event.tenantId);
    if (typeof tenant.settings.outbound_webhook_url !== 'string') return;
    const body = {
      id: event.id,
      type,
      created_at: event.createdAt,
      tenant: tenant.slug,
      conversation_id: event.conversationId,
      data: await this.data(tenant, event),
    };
    await this.deps.inbox.accept(OUTBOUND_PROVIDER, [{ externalId: event.id, tenantId: tenant.id, kind: OUTBOUND_JOB, payload: body }]);
  }

  private async data(tenant: Tenant, event: EventRecord): Promise<Record<string, unknown>> {
    if (event.type === 'lead_captured' && typeof event.data.lead_id === 'string') {
      const lead = await this.deps.leads.findById(tenant.id, event.data.lead_id);
      if (lead) return { lead: { id: lead.id, name: lead.name, email: lead.email, whatsapp: lead.whatsapp, source_channel: lead.sourceChannel, created_at: lead.createdAt } };
    }
    return event.data;
  }

  /** Posts one queued event to the tenant's URL, signed. */
  async deliver(delivery: DeliveryRecord): Promise<void> {
    const tenant = delivery.tenantId ? await this.deps.tenants.getById(delivery.tenantId).catch(() => undefined) : undefined;
    if (!tenant) throw new PermanentJobError('the tenant of this delivery no longer exists');
    const url = tenant.settings.outbound_webhook_url;
    if (typeof url !== 'string') throw new PermanentJobError(`tenant '${tenant.slug}' has no outbound_webhook_url any more`);
    const secret = this.deps.tenants.secrets(tenant).outbound_webhook_secret;
    if (!secret) throw new PermanentJobError(`tenant '${tenant.slug}' has no outbound_webhook_secret: set it with zia tenant update`);
    const body = JSON.stringify(delivery.payload);
    const t = Math.floor(Date.now() / 1000);
    try {
      await safeFetch(url, {
        ...this.deps.fetchRules,
        label: 'outbound webhook',
        method: 'POST',
        body: Buffer.from(body, 'utf8'),
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signPayload(secret, body, t),
          'zia-delivery-id': delivery.id,
          'zia-event': String((delivery.payload as { type?: unknown }).type ?? ''),
        },
        timeoutMs: 10_000,
        maxBytes: 64 * 1024,
      });
    } catch (err) {
      if (err instanceof FetchRefusedError && PERMANENT_REASONS.has(err.reason)) throw new PermanentJobError(err.message);
      throw err;
    }
  }
}
