import type { Config } from './config.js';
import { createDb, type Db, type DbOptions } from './db/create-db.js';
import type { Logger } from './logger.js';
import { createSecretBox } from './features/tenants/secret-box.js';
import { TenantService } from './features/tenants/tenant-service.js';
import { TenantStore } from './features/tenants/tenant-store.js';
import { EventService } from './features/events/event-service.js';
import { EventStore } from './features/events/event-store.js';
import type { ChannelSender, ChannelSenders } from './features/channels/channel.types.js';
import { CloudClient } from './features/channels/whatsapp/cloud-client.js';
import { CloudStore } from './features/channels/whatsapp/cloud-store.js';
import { CloudTransport, CloudWhatsApp, usesCloud } from './features/channels/whatsapp/cloud-transport.js';
import { CloudWebhooks } from './features/channels/whatsapp/cloud-webhooks.js';
import { ThroughputLimit } from './features/channels/whatsapp/throughput.js';
import { rateLimiters } from './db/rate-limit-store.js';
import { OutboundStore } from './features/channels/outbound-store.js';
import { OutboundSends } from './features/channels/outbound-sends.js';
import { GraphClient } from './features/channels/meta/graph-client.js';
import { GraphSends, MetaDmTransport } from './features/channels/meta/meta-sender.js';
import { MetaWorker } from './features/channels/meta/meta-worker.js';
import { TwilioClient } from './features/channels/whatsapp/twilio-client.js';
import { WhatsAppCheckoutLinks, WhatsAppTransport } from './features/channels/whatsapp/whatsapp-sender.js';
import { ReplySender } from './features/channels/channel-sender.js';
import { WhatsAppWorker } from './features/channels/whatsapp/whatsapp-worker.js';
import { createJobQueue } from './features/jobs/create-job-queue.js';
import type { ManagedJobQueue } from './features/jobs/job-queue.js';
import { WebhookService } from './features/webhooks/webhook-service.js';
import { WebhookStore } from './features/webhooks/webhook-store.js';
import { AnalyticsReport } from './features/reports/analytics-read-model.js';
import { LeadReport } from './features/reports/lead-read-model.js';
import { ApiKeyService } from './features/tenants/api-key-service.js';
import { ApiKeyStore } from './features/tenants/api-key-store.js';
import { CatalogService } from './features/catalog/catalog-service.js';
import { CatalogStore } from './features/catalog/catalog-store.js';
import { safeFetch, safeFetchJson, type SafeFetchOptions } from './net/safe-fetch.js';
import { KnowledgeStore } from './features/knowledge/knowledge-store.js';
import { KnowledgeSearch } from './features/knowledge/knowledge-search.js';
import { KnowledgeService } from './features/knowledge/knowledge-service.js';
import { OpenAiEmbedder, type Embedder } from './features/knowledge/embedder.js';
import { USER_AGENT as KNOWLEDGE_AGENT, type PageFetcher } from './features/knowledge/site-crawler.js';
import { AiUsageStore } from './features/ai/ai-usage-store.js';
import { OfflineProvider } from './features/ai/offline-provider.js';
import { createOpenAiClient, OpenAiProvider, openAiSettings } from './features/ai/openai-provider.js';
import { PromptBuilder } from './features/ai/prompt-builder.js';
import type { AiProvider } from './features/ai/provider.js';
import { ChatEngine } from './features/chat/chat-engine.js';
import { registerJobs } from './jobs.js';
import type { TurnRunner, ConversationService } from './features/chat/chat.types.js';
import { DefaultConversationService } from './features/chat/conversation-service.js';
import { ConversationStore } from './features/chat/conversation-store.js';
import { LeadService } from './features/leads/lead-service.js';
import { LeadStore } from './features/leads/lead-store.js';
import type { CatalogLookup } from './features/catalog/catalog.types.js';
import { OrderStore } from './features/payments/order-store.js';
import { PaymentService, type WhatsAppLinkSender } from './features/payments/payment-service.js';
import { StripeGateway } from './features/payments/stripe-gateway.js';
import { StripeWebhookService, type PaidOrderHook } from './features/payments/stripe-webhook-service.js';
import { ConversationSends } from './features/channels/conversation-sends.js';
import { HandoffService } from './features/handoff/handoff-service.js';
import { ConversationFeed } from './features/handoff/conversation-feed.js';
import { ConversationReadModel } from './features/chat/conversation-read-model.js';
import { OutboundWebhooks } from './features/outbound/outbound-webhooks.js';
import { InstrumentedProvider } from './features/ai/instrumented-provider.js';
import { UsageStore } from './features/usage/usage-store.js';
import { CappedProvider, UsageCaps } from './features/usage/usage-caps.js';
import { UsageReport } from './features/usage/usage-report.js';
import { jobGauges } from './features/jobs/job-gauges.js';
import { AuditLog } from './features/audit/audit-log.js';
import { AuditStore } from './features/audit/audit-store.js';
import { createMetrics, type Metrics } from './metrics.js';
import { ContactStore } from './features/contacts/contact-store.js';
import { ContactService } from './features/contacts/contact-service.js';
import { RetentionService } from './features/contacts/retention-service.js';

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
  apiKeys: ApiKeyService;
  leadReport: LeadReport;
  analytics: AnalyticsReport;
  /** Usage per tenant and month (metering for billing), with each tenant's caps. */
  usage: UsageReport;
  /** Tenants' product catalogs (the chat engine's CatalogLookup), fetched under the SSRF rules. */
  catalog: CatalogService;
  /** Tenants' knowledge bases: sources, syncs (fetched under the SSRF rules) and search. */
  knowledge: KnowledgeService;
  knowledgeSearch: KnowledgeSearch;
  /** A person's data in one tenant: find, export, erase. */
  contacts: ContactService;
  /** Tenants' retention_days: the hourly job that deletes expired conversations. */
  retention: RetentionService;
  /** The AI provider answering for every tenant: `openai` with a key, else `offline`. */
  ai: AiProvider;
  /** Runs a turn of conversation for any channel. */
  chat: TurnRunner;
  conversations: ConversationService;
  leads: LeadService;
  /** Stripe Connect onboarding, checkout links (the CheckoutCreator of the chat engine), QR codes. */
  payments: PaymentService;
  stripeWebhooks: StripeWebhookService;
  /** Background jobs: graphile-worker on PostgreSQL, the built-in worker on SQLite. */
  jobs: ManagedJobQueue;
  /** The durable webhook inbox (webhook_deliveries), shared by every provider. */
  webhooks: WebhookService;
  /** Sends into a conversation on its own channel. */
  senders: ChannelSenders;
  /** Stores a message and delivers it on the conversation's channel through a job (operator replies, thank-yous). */
  conversationSends: ConversationSends;
  /** Operators: list and read conversations, pause/resume the bot, reply. */
  handoff: HandoffService;
  /** Operators' live feed of every conversation (messages, handoff requests, delivery status). */
  feed: ConversationFeed;
  conversationReads: ConversationReadModel;
  /** Signed webhooks to each tenant's own systems (lead.created, payment.completed, conversation.handoff). */
  outbound: OutboundWebhooks;
  /** Twilio WhatsApp: credentials, numbers and signature checks per tenant. */
  whatsapp: WhatsAppTransport;
  /** WhatsApp through Meta's Cloud API: tokens, numbers, templates, inbound webhooks per tenant. */
  whatsappCloud: CloudWhatsApp;
  cloudWebhooks: CloudWebhooks;
  /** Prometheus metrics of this process (served at /metrics or on ZIA_METRICS_PORT). */
  metrics: Metrics;
  /** Every provider send: once-only, with sends in doubt re-sent once or held (ZIA_UNCERTAIN_SENDS). */
  sends: OutboundSends;
  /** Aborted when the server shuts down: long-lived work (SSE streams, polling) ends on it. */
  shutdown: AbortController;
  /** Who changed what, when and from where: every write through the admin API and the CLI. */
  audit: AuditLog;
  /** Starts the background worker in this process (`zia serve` unless --no-worker, `zia worker`). */
  startWorker(): Promise<{ stop(): Promise<void> }>;
  close(): Promise<void>;
}

/** Dependencies a test may supply in place of the real ones (doubles of the outside world). */
export interface ServiceOptions {
  db?: Db;
  dbOptions?: DbOptions;
  /** The catalog (item names and prices for checkout). */
  catalog?: CatalogLookup;
  /** Sends checkout links over WhatsApp; without it, send-wa answers 503. */
  whatsappLinks?: WhatsAppLinkSender;
  /** Where a paid order's thank-you is posted (default: stored in the buyer's conversation and sent on its channel). */
  thankYouTo?: Pick<ConversationService, 'appendMessage'>;
  /** Extra work once an order is paid. */
  onPaid?: PaidOrderHook;
  /** The chat engine and conversations the channel workers run turns through. */
  chat?: TurnRunner;
  conversations?: ConversationService;
}

export function createServices(config: Config, logger: Logger, options: ServiceOptions = {}): Services {
  const db = options.db ?? createDb(config, { logger, ...options.dbOptions });
  const metrics = createMetrics();
  const box = createSecretBox(config.secretKeys);
  const fetchRules = fetchRulesOf(config);
  const tenants = new TenantService(new TenantStore(db), box, undefined, fetchRules);
  const events = new EventService(new EventStore(db), logger);
  const apiKeys = new ApiKeyService(new ApiKeyStore(db), logger);
  const catalog = new CatalogService({ store: new CatalogStore(db), fetchJson: (url) => safeFetchJson(url, { ...fetchRules, label: 'catalog' }), logger });
  tenants.onChange((t) => catalog.invalidate(t.id));
  const closers: Array<() => Promise<void>> = [() => catalog.drain()];

  const offline = new OfflineProvider({ tokenDelayMs: 20 });
  const upstream: AiProvider = config.aiProvider === 'openai' ? new OpenAiProvider(openAiSettings(config), new AiUsageStore(db, config.ZIA_MODEL_PRICES), logger) : offline;
  if (upstream instanceof OpenAiProvider) closers.push(() => upstream.close());
  const usageStore = new UsageStore(db);
  const ai: AiProvider = new InstrumentedProvider(new CappedProvider(upstream, offline, new UsageCaps({ store: usageStore, events, logger })), metrics);
  const conversationStore = new ConversationStore(db);
  const conversations = options.conversations ?? new DefaultConversationService(conversationStore);
  const leads = new LeadService(new LeadStore(db), events);
  // The inbox is made below (it needs the job queue); a resend by hand reaches it through the getter.
  let inboxRef: WebhookService | undefined;
  const outboundStore = new OutboundStore(db);
  const outbound = new OutboundSends({ store: outboundStore, policy: config.ZIA_UNCERTAIN_SENDS, tenants, events, logger, conversations, inbox: () => inboxRef });
  const whatsappTransport = new WhatsAppTransport({ config, tenants, twilio: new TwilioClient({ apiUrl: config.TWILIO_API_URL }), outbound });
  const replyDeps = { conversations, events, logger };
  const graph = new GraphClient({ baseUrl: config.META_GRAPH_URL, version: config.META_GRAPH_VERSION });
  const cloudStore = new CloudStore(db);
  const whatsappCloud = new CloudWhatsApp({ tenants, client: new CloudClient(graph), store: cloudStore, outbound, throughput: new ThroughputLimit(rateLimiters(db)), logger });
  // Each tenant's WhatsApp goes through its own transport: Twilio, or Meta's Cloud API.
  const twilioReplies = new ReplySender(whatsappTransport, replyDeps);
  const cloudReplies = new ReplySender(new CloudTransport(whatsappCloud), replyDeps);
  const whatsapp: ChannelSender = { send: (msg) => (usesCloud(msg.tenant) ? cloudReplies : twilioReplies).send(msg) };
  const stripe = new StripeGateway(config);
  const orders = new OrderStore(db);
  const payments = new PaymentService({
    config,
    gateway: stripe,
    orders,
    conversations,
    tenants,
    events,
    logger,
    catalog: options.catalog ?? catalog,
    whatsapp: options.whatsappLinks ?? new WhatsAppCheckoutLinks(whatsappTransport, whatsappCloud, whatsapp, conversations),
  });
  const knowledgeStore = new KnowledgeStore(db);
  const embedder = config.OPENAI_EMBEDDINGS_MODEL ? openAiEmbedder(config, logger, config.OPENAI_EMBEDDINGS_MODEL) : undefined;
  const knowledgeSearch = new KnowledgeSearch(knowledgeStore, embedder);
  const chat =
    options.chat ??
    new ChatEngine({
      store: conversationStore,
      leads,
      events,
      provider: ai,
      prompts: new PromptBuilder(),
      logger,
      catalog,
      checkout: payments,
      knowledge: knowledgeSearch,
    });

  const jobs = createJobQueue(config, db, logger, {
    observe: (kind, seconds, ok) => metrics.jobDuration.observe({ kind, outcome: ok ? 'ok' : 'error' }, seconds),
    // A tenant deleted while its jobs wait gets the default; its jobs then find nothing to do.
    tenantShare: (tenantId) =>
      tenants.getById(tenantId).then(
        (t) => t.settings.job_concurrency,
        () => undefined,
      ),
  });
  jobGauges(metrics.registry, jobs, logger);
  closers.push(() => jobs.close());
  const webhookStore = new WebhookStore(db);
  const webhooks = new WebhookService(db, webhookStore, jobs, logger, metrics.inboxInFlight);
  inboxRef = webhooks;
  const graphSends = new GraphSends(tenants, graph, outbound, events, logger);
  const messenger = new ReplySender(new MetaDmTransport('messenger', graphSends), replyDeps);
  const instagram = new ReplySender(new MetaDmTransport('instagram', graphSends), replyDeps);
  const senders: ChannelSenders = { messenger, instagram, whatsapp };
  const metaWorker = new MetaWorker({ tenants, inbox: webhooks, chat, conversations, sends: graphSends, senders: { messenger, instagram }, logger });
  const whatsappWorker = new WhatsAppWorker({ tenants, inbox: webhooks, chat, conversations, sender: whatsapp, cloudStore, logger });

  const conversationReads = new ConversationReadModel(db);
  const conversationSends = new ConversationSends({ tenants, conversations, store: conversationReads, jobs, senders, logger });
  const handoff = new HandoffService({ store: conversationReads, conversations, sends: conversationSends, events });
  const stripeWebhooks = new StripeWebhookService({
    gateway: stripe,
    orders,
    inbox: webhookStore,
    tenants,
    events,
    logger,
    conversations: options.thankYouTo ?? conversationSends,
    onPaid: options.onPaid,
  });
  // The same SSRF rules as catalogs: ZIA_CATALOG_ALLOW_PRIVATE also lets outbound webhooks reach local addresses.
  const outboundWebhooks = new OutboundWebhooks({ tenants, events, inbox: webhooks, leads, fetchRules, logger });
  outboundWebhooks.listen();
  // Knowledge pages are fetched under the same SSRF rules as catalogs.
  const fetchPage: PageFetcher = (url, o) =>
    safeFetch(url, {
      ...fetchRules,
      label: 'knowledge page',
      timeoutMs: 15_000,
      maxRedirects: 5,
      maxBytes: o.maxBytes,
      passStatuses: o.passStatuses,
      headers: { ...o.headers, accept: o.accept, 'user-agent': `${KNOWLEDGE_AGENT}/1` },
    });
  const knowledge = new KnowledgeService({ store: knowledgeStore, search: knowledgeSearch, fetchPage, fetchRules, jobs, logger, embedder });
  const contactStore = new ContactStore(db);
  const retention = new RetentionService({ store: contactStore, tenants, jobs, logger });
  tenants.onChange((t) => retention.tenantChanged(t));
  closers.push(() => retention.drain());
  registerJobs({ jobs, inbox: webhooks, meta: metaWorker, whatsapp: whatsappWorker, outbound: outboundWebhooks, sends: conversationSends, knowledge, tenants, retention });

  return {
    config,
    logger,
    db,
    tenants,
    events,
    apiKeys,
    leadReport: new LeadReport(db),
    analytics: new AnalyticsReport(db),
    usage: new UsageReport(usageStore, tenants),
    catalog,
    knowledge,
    knowledgeSearch,
    contacts: new ContactService(contactStore),
    retention,
    ai,
    chat,
    conversations,
    leads,
    payments,
    stripeWebhooks,
    jobs,
    webhooks,
    senders,
    conversationSends,
    handoff,
    feed: new ConversationFeed({ events, messages: conversationReads, logger }),
    conversationReads,
    outbound: outboundWebhooks,
    whatsapp: whatsappTransport,
    whatsappCloud,
    cloudWebhooks: new CloudWebhooks({ tenants, inbox: webhooks, conversations, store: cloudStore, sends: outboundStore, logger }),
    metrics,
    sends: outbound,
    shutdown: new AbortController(),
    audit: new AuditLog({ store: new AuditStore(db), tenants }),
    async startWorker() {
      const worker = await jobs.start();
      closers.push(() => worker.stop());
      await retention.scheduleIfUsed();
      return worker;
    },
    async close() {
      for (const c of closers.reverse()) await c();
      if (!options.db) await db.close();
    },
  };
}

/** The rules every fetch of a tenant's URL follows (catalogs, knowledge pages, outbound webhooks). */
export function fetchRulesOf(config: Config): SafeFetchOptions {
  // ZIA_CATALOG_ALLOW_PRIVATE (local development only) lifts both the https rule and the address check.
  return config.ZIA_CATALOG_ALLOW_PRIVATE ? { allowHttp: true, addressAllowed: () => true } : { allowHttp: false };
}

/** Embeddings from the configured OpenAI-compatible server; its client is made on first use. */
export function openAiEmbedder(config: Config, logger: Logger, model: string): Embedder {
  let client: ReturnType<typeof createOpenAiClient> | undefined;
  return new OpenAiEmbedder(model, async () => (await (client ??= createOpenAiClient(openAiSettings(config), logger))).client);
}
