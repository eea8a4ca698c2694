import type { Config } from './config.js';
import { createDb, type Db, type DbOptions } from './db/create-db.js';
import type { Logger } from './logger.js';
import { createSecretBox } from './features/tenants/secret-box.js';
import { TenantService } from './features/tenants/tenant-service.js';
import { TenantStore } from './features/tenants/tenant-store.js';
import { EventService } from './features/events/event-service.js';
import { EventStore } from './features/events/event-store.js';
import type { CatalogLookup } from './features/catalog/catalog.types.js';
import type { ConversationService } from './features/chat/chat.types.js';
import { OrderStore } from './features/payments/order-store.js';
import { PaymentService, type WhatsAppLinkSender } from './features/payments/payment-service.js';
import { StripeDeliveryStore } from './features/payments/stripe-delivery-store.js';
import { StripeGateway } from './features/payments/stripe-gateway.js';
import { StripeWebhookService, type PaidOrderHook } from './features/payments/stripe-webhook-service.js';

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
  /** Stripe Connect onboarding, checkout links (the CheckoutCreator of the chat engine), QR codes. */
  payments: PaymentService;
  stripeWebhooks: StripeWebhookService;
  /** Aborted when the server shuts down: long-lived work (SSE streams, polling) ends on it. */
  shutdown: AbortController;
  /** Starts the background worker in this process; absent until a job kind exists. */
  startWorker?: () => Promise<{ stop(): Promise<void> }>;
  close(): Promise<void>;
}

export interface ServiceOptions {
  db?: Db;
  dbOptions?: DbOptions;
  /** The catalog (item names and prices for checkout); without it, checkout by item answers 503. */
  catalog?: CatalogLookup;
  /** Sends checkout links over WhatsApp; without it, send-wa answers 503. */
  whatsappLinks?: WhatsAppLinkSender;
  /** Where a paid order's thank-you is posted (the buyer's conversation). */
  conversations?: Pick<ConversationService, 'appendMessage'>;
  /** Extra work once an order is paid (e.g. delivering the thank-you on the buyer's channel). */
  onPaid?: PaidOrderHook;
}

export function createServices(config: Config, logger: Logger, options: ServiceOptions = {}): Services {
  const db = options.db ?? createDb(config, options.dbOptions);
  const box = createSecretBox(config.secretKeys);
  const tenants = new TenantService(new TenantStore(db), box);
  const events = new EventService(new EventStore(db), logger);
  const stripe = new StripeGateway(config);
  const orders = new OrderStore(db);
  const payments = new PaymentService({
    config,
    gateway: stripe,
    orders,
    tenants,
    events,
    logger,
    catalog: options.catalog,
    whatsapp: options.whatsappLinks,
  });
  const stripeWebhooks = new StripeWebhookService({
    gateway: stripe,
    orders,
    deliveries: new StripeDeliveryStore(db),
    tenants,
    events,
    logger,
    conversations: options.conversations,
    onPaid: options.onPaid,
  });
  const closers: Array<() => Promise<void>> = [];
  return {
    config,
    logger,
    db,
    tenants,
    events,
    payments,
    stripeWebhooks,
    shutdown: new AbortController(),
    async close() {
      for (const c of closers.reverse()) await c();
      if (!options.db) await db.close();
    },
  };
}
