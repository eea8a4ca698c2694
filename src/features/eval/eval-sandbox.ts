import type { Config } from '../../config.js';
import { fetchRulesOf, openAiEmbedder } from '../../container.js';
import { createDb, MEMORY, type Db } from '../../db/create-db.js';
import { nowIso } from '../../db/dialect.js';
import { migrateLatest } from '../../db/migrate.js';
import { NotFoundError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { safeFetchJson } from '../../net/safe-fetch.js';
import { parseInput } from '../../validation.js';
import { AiUsageStore } from '../ai/ai-usage-store.js';
import { OfflineProvider } from '../ai/offline-provider.js';
import { OpenAiProvider, openAiSettings } from '../ai/openai-provider.js';
import { PromptBuilder } from '../ai/prompt-builder.js';
import type { AiProvider, GenerateRequest, GenerateResult } from '../ai/provider.js';
import { CatalogService } from '../catalog/catalog-service.js';
import { CatalogStore } from '../catalog/catalog-store.js';
import type { CatalogItem } from '../catalog/catalog.types.js';
import { ChatEngine } from '../chat/chat-engine.js';
import { DefaultConversationService } from '../chat/conversation-service.js';
import { ConversationStore } from '../chat/conversation-store.js';
import { EventService } from '../events/event-service.js';
import { EventStore } from '../events/event-store.js';
import { KnowledgeSearch } from '../knowledge/knowledge-search.js';
import { KnowledgeStore } from '../knowledge/knowledge-store.js';
import { LeadService } from '../leads/lead-service.js';
import { LeadStore } from '../leads/lead-store.js';
import { OrderStore } from '../payments/order-store.js';
import { PaymentService, type PaymentGateway } from '../payments/payment-service.js';
import type { CheckoutCreator, CheckoutLink, CheckoutRequest } from '../payments/payments.types.js';
import { createSecretBox } from '../tenants/secret-box.js';
import { TenantService, type Tenant } from '../tenants/tenant-service.js';
import { TenantStore } from '../tenants/tenant-store.js';
import { modelUse, type ModelUse } from '../usage/usage-report.js';
import { UsageStore } from '../usage/usage-store.js';
import { tenantUpdateSchema } from '../tenants/tenant.schemas.js';

/**
 * A throwaway copy of one tenant for `zia eval`: an in-memory SQLite database holding the tenant's row,
 * its catalog copy and its knowledge base, and a chat engine over it with nothing that can reach a
 * customer or a provider other than the model. There is no job queue (so no channel send, outbound
 * webhook or re-sync ever runs) and Stripe is a recorder of the checkout sessions it would have made.
 * The real database is only read, once, before the run.
 */

/** The tables copied, in foreign-key order, with the rows of the tenant each holds. */
const COPIED: ReadonlyArray<{ table: string; tenantColumn: string }> = [
  { table: 'tenants', tenantColumn: 'id' },
  { table: 'catalog_snapshots', tenantColumn: 'tenant_id' },
  { table: 'knowledge_sources', tenantColumn: 'tenant_id' },
  { table: 'knowledge_documents', tenantColumn: 'tenant_id' },
  { table: 'knowledge_chunks', tenantColumn: 'tenant_id' },
];
const INSERT_BATCH = 200;

export interface ToolCallRecord {
  name: string;
  args: unknown;
  result: Record<string, unknown>;
}

export interface CheckoutRecord {
  request: CheckoutRequest;
  link: CheckoutLink;
}

export interface SandboxOptions {
  config: Config;
  logger: Logger;
  /** The tenant's real database: read, never written. */
  source: Db;
  slug: string;
  provider: 'openai' | 'offline';
  /** The OpenAI-compatible model to ask (default OPENAI_MODEL). */
  model?: string;
  /** A settings change to try (merged as `zia tenant update --settings` would). */
  settings?: Record<string, unknown>;
}

export class EvalSandbox {
  private constructor(
    private readonly db: Db,
    readonly tenant: Tenant,
    readonly chat: ChatEngine,
    readonly model: ObservedModel,
    readonly checkouts: RecordedCheckouts,
    private readonly conversations: DefaultConversationService,
    private readonly catalog: CatalogService,
    private readonly closeProvider: () => Promise<void>,
  ) {}

  static async open(o: SandboxOptions): Promise<EvalSandbox> {
    const db = createDb({ dbClient: 'sqlite', sqlitePath: MEMORY, DATABASE_URL: undefined }, { logger: o.logger });
    try {
      await migrateLatest(db);
      const tenantId = await copyTenant(o.source, db, o.slug);
      const fetchRules = fetchRulesOf(o.config);
      const tenants = new TenantService(new TenantStore(db), createSecretBox(o.config.secretKeys), undefined, fetchRules);
      // Validated as `zia tenant update --settings` validates it, so a change tried here can be saved as it is.
      if (o.settings) await tenants.update(o.slug, parseInput(tenantUpdateSchema, { settings: o.settings }));
      const tenant = await tenants.getById(tenantId);
      const events = new EventService(new EventStore(db), o.logger);
      const catalog = new CatalogService({ store: new CatalogStore(db), fetchJson: (url) => safeFetchJson(url, { ...fetchRules, label: 'catalog' }), logger: o.logger });
      const conversationStore = new ConversationStore(db);
      const conversations = new DefaultConversationService(conversationStore);
      const leads = new LeadService(new LeadStore(db), events);
      const gateway = new SessionRecorder(Boolean(o.config.STRIPE_SECRET_KEY));
      const payments = new PaymentService({ config: o.config, gateway, orders: new OrderStore(db), conversations, tenants, events, logger: o.logger, catalog });
      const checkouts = new RecordedCheckouts(payments);
      const embedder = o.config.OPENAI_EMBEDDINGS_MODEL ? openAiEmbedder(o.config, o.logger, o.config.OPENAI_EMBEDDINGS_MODEL) : undefined;
      const upstream =
        o.provider === 'openai'
          ? new OpenAiProvider({ ...openAiSettings(o.config), ...(o.model ? { model: o.model } : {}) }, new AiUsageStore(db, o.config.ZIA_MODEL_PRICES), o.logger)
          : new OfflineProvider();
      const model = new ObservedModel(upstream, o.provider === 'openai' ? (o.model ?? o.config.OPENAI_MODEL) : null);
      const chat = new ChatEngine({
        store: conversationStore,
        leads,
        events,
        provider: model,
        prompts: new PromptBuilder(),
        logger: o.logger,
        catalog,
        checkout: checkouts,
        knowledge: new KnowledgeSearch(new KnowledgeStore(db), embedder),
      });
      const closeProvider = upstream instanceof OpenAiProvider ? () => upstream.close() : async () => undefined;
      return new EvalSandbox(db, tenant, chat, model, checkouts, conversations, catalog, closeProvider);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** Whether the customer of this conversation waits for a person now. */
  async waitingForPerson(conversationId: string): Promise<boolean> {
    return (await this.conversations.get(this.tenant.id, conversationId)).handoffRequestedAt !== null;
  }

  /** What the run asked of each model, from the copy's usage counters (the metering every turn does). */
  async modelUsage(): Promise<ModelUse[]> {
    return modelUse(await new UsageStore(this.db).between(this.tenant.id, '0000-00-00', '9999-99-99'));
  }

  /** The catalog items the run answers from (the copy, or a fetch of a catalog_url the tried settings changed). */
  async catalogItems(): Promise<CatalogItem[]> {
    return this.catalog.configured(this.tenant) ? this.catalog.items(this.tenant) : [];
  }

  async close(): Promise<void> {
    await this.catalog.drain();
    await this.closeProvider();
    await this.db.close();
  }
}

/** The model, with each turn's tool calls kept by conversation. */
export class ObservedModel implements AiProvider {
  readonly name: AiProvider['name'];
  readonly usesHistory: boolean;
  private readonly calls = new Map<string, ToolCallRecord[]>();

  constructor(
    private readonly upstream: AiProvider,
    /** The model asked (null for the offline provider). */
    readonly model: string | null,
  ) {
    this.name = upstream.name;
    this.usesHistory = upstream.usesHistory;
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const calls = this.calls.get(request.conversationId) ?? [];
    this.calls.set(request.conversationId, calls);
    const tools = request.tools;
    return this.upstream.generate({
      ...request,
      tools: {
        specs: tools.specs,
        run: async (name, args) => {
          const out = await tools.run(name, args);
          calls.push({ name, args: asSent(args), result: out });
          return out;
        },
      },
    });
  }

  /** The tool calls of the conversation's last turn (and forgets them). */
  take(conversationId: string): ToolCallRecord[] {
    const calls = this.calls.get(conversationId) ?? [];
    this.calls.delete(conversationId);
    return calls;
  }
}

/** A model sends a tool's arguments as JSON text; the expectations compare the values in it. */
function asSent(args: unknown): unknown {
  if (typeof args !== 'string') return args;
  try {
    return JSON.parse(args) as unknown;
  } catch {
    return args;
  }
}

/** Checkout links as payments made them (server prices, orders in the copy), kept by conversation. */
export class RecordedCheckouts implements CheckoutCreator {
  private readonly made = new Map<string, CheckoutRecord[]>();

  constructor(private readonly payments: PaymentService) {}

  async createCheckout(tenant: Tenant, request: CheckoutRequest): Promise<CheckoutLink> {
    const link = await this.payments.createCheckout(tenant, request);
    const key = request.conversationId ?? '';
    this.made.set(key, [...(this.made.get(key) ?? []), { request, link }]);
    return link;
  }

  take(conversationId: string): CheckoutRecord[] {
    const made = this.made.get(conversationId) ?? [];
    this.made.delete(conversationId);
    return made;
  }
}

/**
 * Stripe as an eval sees it: configured when the deployment has a key (so checkout behaves as it would
 * for customers), a made-up session for every checkout, and nothing else reachable.
 */
class SessionRecorder implements PaymentGateway {
  private seq = 0;

  constructor(readonly configured: boolean) {}

  async createCheckoutSession(): Promise<{ id: string; url: string }> {
    const id = `cs_eval_${++this.seq}`;
    return { id, url: `https://checkout.stripe.com/c/pay/${id}` };
  }

  async retrievePrice(_accountId: string, priceId: string): Promise<never> {
    throw new Error(`plan price ${priceId} lives in Stripe, which an eval does not call: give the plan its amount and currency in settings`);
  }

  async createExpressAccount(): Promise<never> {
    throw new Error('Stripe onboarding is not part of an eval');
  }

  async createAccountLink(): Promise<never> {
    throw new Error('Stripe onboarding is not part of an eval');
  }
}

/** Copies the tenant's rows into the sandbox; returns its id. Unknown slug → the usual not-found error. */
async function copyTenant(from: Db, to: Db, slug: string): Promise<string> {
  const row = await from.knex('tenants').where({ slug }).first('id');
  if (!row) throw new NotFoundError(`tenant '${slug}' not found`);
  const tenantId = String(row.id);
  for (const { table, tenantColumn } of COPIED) {
    const columns = await sharedColumns(from, to, table);
    for await (const rows of from.iterate(from.knex(table).where(tenantColumn, tenantId).select(columns).orderBy(columns.includes('id') ? 'id' : columns[0]!))) {
      for (let i = 0; i < rows.length; i += INSERT_BATCH) {
        await to.knex(table).insert(rows.slice(i, i + INSERT_BATCH).map(sqliteRow));
      }
    }
  }
  // The copy counts as fetched now: a run answers from it rather than refreshing it mid-run.
  await to.knex('catalog_snapshots').update({ fetched_at: nowIso() });
  return tenantId;
}

/** The columns both databases have (PostgreSQL's full-text columns have no SQLite twin). */
async function sharedColumns(from: Db, to: Db, table: string): Promise<string[]> {
  const [source, target] = await Promise.all([from.knex(table).columnInfo(), to.knex(table).columnInfo()]);
  return Object.keys(target).filter((c) => c in source);
}

/** A row as SQLite stores it: times as ISO text, booleans as 0/1, JSON as text. */
function sqliteRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v instanceof Date) out[k] = v.toISOString();
    else if (typeof v === 'boolean') out[k] = v ? 1 : 0;
    else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) out[k] = JSON.stringify(v);
    else out[k] = v;
  }
  return out;
}
