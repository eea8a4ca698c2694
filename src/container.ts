import type { Config } from './config.js';
import { createDb, type Db, type DbOptions } from './db/create-db.js';
import type { Logger } from './logger.js';
import { createSecretBox } from './features/tenants/secret-box.js';
import { TenantService } from './features/tenants/tenant-service.js';
import { TenantStore } from './features/tenants/tenant-store.js';
import { EventService } from './features/events/event-service.js';
import { EventStore } from './features/events/event-store.js';
import type { ChatEngine, ConversationService } from './features/chat/chat.types.js';
import type { ChannelSenders } from './features/channels/channel.types.js';
import { OutboundStore } from './features/channels/outbound-store.js';
import { GraphClient } from './features/channels/meta/graph-client.js';
import { MetaDmSender, MetaSends } from './features/channels/meta/meta-sender.js';
import { MetaWorker } from './features/channels/meta/meta-worker.js';
import { createJobQueue } from './features/jobs/create-job-queue.js';
import type { ManagedJobQueue } from './features/jobs/job-queue.js';
import { WebhookService } from './features/webhooks/webhook-service.js';
import { WebhookStore } from './features/webhooks/webhook-store.js';
import { AnalyticsReport } from './features/reports/analytics-report.js';
import { LeadReport } from './features/reports/lead-report.js';
import { ApiKeyService } from './features/tenants/api-key-service.js';
import { ApiKeyStore } from './features/tenants/api-key-store.js';

/**
 * The one composition root: every store, service and provider client is made here, from config, and
 * handed to whatever needs it. `zia serve`, `zia worker` and every CLI command use it.
 */
export interface Services {
  config: Config;
  logger: Logger;
  db: Db;
  tenants: TenantService;
  events: EventService;
  /** Background jobs: graphile-worker on PostgreSQL, the built-in worker on SQLite. */
  jobs: ManagedJobQueue;
  /** The durable webhook inbox (webhook_deliveries), shared by every provider. */
  webhooks: WebhookService;
  /** Sends into a conversation on its own channel (Messenger and Instagram here). */
  senders: ChannelSenders;
  /** The chat engine and conversations the workers run turns through (absent: webhook items wait queued). */
  chat?: ChatEngine;
  conversations?: ConversationService;
  apiKeys: ApiKeyService;
  leadReport: LeadReport;
  analytics: AnalyticsReport;
  /** Aborted when the server shuts down: long-lived work (SSE streams, polling) ends on it. */
  shutdown: AbortController;
  /** Starts the background worker in this process; absent until a job kind exists. */
  startWorker?: () => Promise<{ stop(): Promise<void> }>;
  close(): Promise<void>;
}

export interface ServiceOptions {
  db?: Db;
  dbOptions?: DbOptions;
  /** The chat engine the channel workers use (tests pass a double; the app passes its engine). */
  chat?: ChatEngine;
  conversations?: ConversationService;
}

export function createServices(config: Config, logger: Logger, options: ServiceOptions = {}): Services {
  const db = options.db ?? createDb(config, options.dbOptions);
  const box = createSecretBox(config.secretKeys);
  const tenants = new TenantService(new TenantStore(db), box);
  const events = new EventService(new EventStore(db), logger);
  const apiKeys = new ApiKeyService(new ApiKeyStore(db), logger);
  const closers: Array<() => Promise<void>> = [];
  const jobs = createJobQueue(config, db, logger);
  const webhooks = new WebhookService(db, new WebhookStore(db), jobs, logger);
  const graph = new GraphClient({ baseUrl: config.META_GRAPH_URL, version: config.META_GRAPH_VERSION });
  const metaSends = new MetaSends(tenants, graph, new OutboundStore(db), events, logger);
  const conversations = () => services.conversations;
  const senders: ChannelSenders = {
    messenger: new MetaDmSender('messenger', metaSends, conversations),
    instagram: new MetaDmSender('instagram', metaSends, conversations),
  };
  let registered = false;
  const services: Services = {
    config,
    logger,
    db,
    tenants,
    events,
    jobs,
    webhooks,
    senders,
    chat: options.chat,
    conversations: options.conversations,
    apiKeys,
    leadReport: new LeadReport(db),
    analytics: new AnalyticsReport(db),
    shutdown: new AbortController(),
    async startWorker() {
      if (!registered) {
        registered = true;
        if (services.chat) {
          new MetaWorker({
            tenants,
            inbox: webhooks,
            chat: services.chat,
            conversations: services.conversations,
            sends: metaSends,
            senders: { messenger: senders.messenger as MetaDmSender, instagram: senders.instagram as MetaDmSender },
            logger,
          }).register();
        } else {
          logger.warn('no chat engine: Meta webhook items are stored and wait in the queue');
        }
      }
      const worker = await jobs.start();
      closers.push(() => worker.stop());
      return worker;
    },
    async close() {
      for (const c of closers.reverse()) await c();
      if (!options.db) await db.close();
    },
  };
  return services;
}
