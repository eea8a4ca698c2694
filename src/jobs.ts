import type { ConversationSends } from './features/channels/conversation-sends.js';
import { SEND_JOB } from './features/channels/conversation-sends.js';
import type { MetaWorker } from './features/channels/meta/meta-worker.js';
import type { WhatsAppWorker } from './features/channels/whatsapp/whatsapp-worker.js';
import { CLOUD_KIND, WHATSAPP_KIND } from './features/channels/whatsapp/whatsapp-worker.js';
import type { JobQueue } from './features/jobs/jobs.types.js';
import type { OutboundWebhooks } from './features/outbound/outbound-webhooks.js';
import { OUTBOUND_JOB } from './features/outbound/outbound-webhooks.js';
import type { WebhookService } from './features/webhooks/webhook-service.js';
import { KNOWLEDGE_SYNC_JOB, type KnowledgeService } from './features/knowledge/knowledge-service.js';
import type { TenantService } from './features/tenants/tenant-service.js';
import { RETENTION_JOB, type RetentionService } from './features/contacts/retention-service.js';

/**
 * Every kind of background job and what runs it, in one place, as create-app.ts lists the routes.
 * Inbox kinds run through the webhook inbox (a delivery row whose status follows the job); the others
 * are plain jobs.
 */
export function registerJobs(deps: {
  jobs: JobQueue;
  inbox: WebhookService;
  meta: MetaWorker;
  whatsapp: WhatsAppWorker;
  outbound: OutboundWebhooks;
  sends: ConversationSends;
  knowledge: KnowledgeService;
  tenants: TenantService;
  retention: RetentionService;
}): void {
  deps.inbox.register('meta.message', (delivery) => deps.meta.handleMessage(delivery));
  deps.inbox.register('meta.comment', (delivery) => deps.meta.handleComment(delivery));
  deps.inbox.register(WHATSAPP_KIND, (delivery) => deps.whatsapp.handleMessage(delivery));
  deps.inbox.register(CLOUD_KIND, (delivery) => deps.whatsapp.handleCloudMessage(delivery));
  deps.inbox.register(OUTBOUND_JOB, (delivery) => deps.outbound.deliver(delivery));
  deps.jobs.register(SEND_JOB, (payload, ctx) => deps.sends.run(payload as { tenantId: string; messageId: string }, ctx));
  deps.jobs.register(KNOWLEDGE_SYNC_JOB, async (payload: { tenantId: string; sourceId: string; now?: boolean }) => {
    // A tenant deleted since the job was queued has nothing left to sync.
    const tenant = await deps.tenants.getById(payload.tenantId).catch(() => undefined);
    if (tenant) await deps.knowledge.runJob(tenant, payload);
  });
  deps.jobs.register(RETENTION_JOB, () => deps.retention.runJob());
}
