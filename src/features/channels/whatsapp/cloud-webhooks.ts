import type { Logger } from '../../../logger.js';
import type { ConversationService } from '../../chat/chat.types.js';
import type { Tenant, TenantService } from '../../tenants/tenant-service.js';
import type { AcceptSummary, InboxItem, WebhookService } from '../../webhooks/webhook-service.js';
import { parseCloudPayload } from './cloud-parser.js';
import type { CloudStore } from './cloud-store.js';
import type { OutboundStore } from '../outbound-store.js';
import { usesCloud } from './cloud-transport.js';
import { CLOUD_KIND } from './whatsapp-worker.js';
import { applyStatus } from './whatsapp-status.js';

export interface CloudWebhooksDeps {
  tenants: TenantService;
  inbox: WebhookService;
  conversations: ConversationService;
  store: CloudStore;
  sends: Pick<OutboundStore, 'failedLater'>;
  logger: Logger;
}

/**
 * A whatsapp_business_account webhook, already signature-checked on /v1/meta/webhook: messages go into
 * the durable inbox (deduplicated on the wamid, answered in order per customer), a customer's changed
 * user id is linked to their conversation, statuses move the sent
 * message's delivery state forward (a failure marks its send failed), and template changes update the stored copy — all before Meta gets
 * its 200, so an acknowledged webhook is a processed one.
 */
export class CloudWebhooks {
  constructor(private readonly deps: CloudWebhooksDeps) {}

  async accept(entries: Array<{ id: string; changes?: unknown[] }>): Promise<{ received: number } & AcceptSummary> {
    const { deps } = this;
    const parsed = parseCloudPayload(entries);
    if (parsed.dropped.length > 0) deps.logger.debug({ dropped: parsed.dropped }, 'WhatsApp Cloud updates dropped');
    const tenants = new Map<string, Tenant | undefined>();
    const tenantOf = async (phoneNumberId: string) => {
      if (!tenants.has(phoneNumberId)) tenants.set(phoneNumberId, await deps.tenants.findByRouting('wa_phone_number_id', phoneNumberId));
      return tenants.get(phoneNumberId);
    };

    const inbox: InboxItem[] = [];
    for (const m of parsed.messages) {
      const tenant = await tenantOf(m.phoneNumberId);
      const ignoredReason = !tenant ? `no tenant has whatsapp.phone_number_id ${m.phoneNumberId}` : !usesCloud(tenant) ? `tenant ${tenant.slug} has whatsapp.phone_number_id ${m.phoneNumberId} but whatsapp.provider is not cloud` : undefined;
      inbox.push({
        externalId: `wamid:${m.messageId}`,
        tenantId: tenant?.id ?? null,
        kind: CLOUD_KIND,
        payload: m,
        // One customer's messages are answered one at a time, in order.
        orderKey: `whatsapp:${tenant?.id ?? m.phoneNumberId}:${m.userId ?? m.phone}`,
        ...(ignoredReason ? { ignoredReason } : {}),
      });
    }
    const summary = await deps.inbox.accept('meta', inbox);
    if (summary.ignored > 0) deps.logger.warn({ numbers: [...tenants].filter(([, t]) => !t || !usesCloud(t)).map(([n]) => n) }, 'WhatsApp Cloud messages for a number no cloud tenant has recorded as ignored');

    for (const change of parsed.identities) {
      const tenant = await tenantOf(change.phoneNumberId);
      if (tenant && (await deps.store.linkUserId(tenant.id, change.previousUserId, change.userId, change.phone))) deps.logger.info({ tenant: tenant.slug }, "a WhatsApp customer's user id changed; their conversation follows");
    }

    for (const s of parsed.statuses) {
      const tenant = await tenantOf(s.phoneNumberId);
      if (!tenant) continue;
      const { failed } = await applyStatus(deps.conversations, tenant.id, { providerMessageId: s.messageId, status: s.status, errorCode: s.errorCode ?? 'failed' });
      if (failed) {
        // The send's record says so too, with Meta's reason: zia conversations resend can try it again.
        await deps.sends.failedLater(tenant.id, s.messageId, `failed after Meta accepted it: ${s.errorCode ?? '?'} ${s.errorTitle ?? ''}`.trim());
        deps.logger.info({ tenant: tenant.slug, message: s.messageId, code: s.errorCode, title: s.errorTitle }, 'WhatsApp message failed after Meta accepted it');
      }
    }

    if (parsed.templates.length > 0) {
      const all = await deps.tenants.list();
      for (const change of parsed.templates) {
        for (const t of all.filter((x) => x.settings.whatsapp?.waba_id === change.wabaId)) {
          if (await deps.store.updateTemplate(t.id, change.templateId, change)) deps.logger.info({ tenant: t.slug, template: change.templateId, ...change }, 'WhatsApp template changed by Meta');
        }
      }
    }
    return { received: parsed.messages.length, ...summary };
  }
}
