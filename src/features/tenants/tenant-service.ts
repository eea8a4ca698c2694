import { newId } from '../../db/dialect.js';
import { handoffEnabled, operatorLabel } from '../handoff/handoff-policy.js';
import { NotFoundError, ValidationError, type FieldProblem } from '../../errors.js';
import { describeProblems, parseInput } from '../../validation.js';
import { checkUrlWithoutDns, FetchRefusedError, type SafeFetchOptions } from '../../net/safe-fetch.js';
import { redact, type SecretBox } from './secret-box.js';
import { mergeSettings } from './settings-merge.js';
import {
  SECRET_KEYS,
  settingsSchema,
  type SecretKey,
  type TenantCreateInput,
  type TenantSecrets,
  type TenantSettings,
  type TenantUpdateInput,
} from './tenant.schemas.js';
import type { RoutingColumn, TenantRecord, TenantStore } from './tenant-store.js';
import { type Tx } from '../../db/unit-of-work.js';

export type Tenant = TenantRecord;

/** The shape every API and CLI output uses: secrets appear only redacted. */
export interface TenantView {
  id: string;
  slug: string;
  name: string;
  whatsapp: string | null;
  settings: Record<string, unknown>;
  stripe: { account_id: string | null; charges_enabled: boolean; details_submitted: boolean };
  created_at: string;
  updated_at: string;
}

export interface BootstrapView {
  tenant: string;
  name: string;
  greeting: string;
  branding: { color: string; title: string; avatar_url: string | null; position: string; launcher_text: string };
  lead: { form_enabled: boolean; fields: Array<{ name: string; label: string; required: boolean; type: string }> };
  has_catalog: boolean;
  has_plans: boolean;
  /** Whether the widget offers "Talk to a person", and how operators' messages are labelled. */
  handoff: { enabled: boolean; operator_label: string };
}

export type TenantChangeListener = (tenant: Tenant) => void;

/**
 * How long a tenant read by slug is reused. Every public request (chat, widget, bootstrap) starts with
 * that lookup; the cache saves a query per request. A change made through this process clears it at
 * once; a change made by another process (the CLI, another server) is seen within this time.
 */
export const TENANT_CACHE_TTL_MS = 5_000;

export class TenantService {
  private readonly listeners: TenantChangeListener[] = [];
  /** Tenants read by slug, id or routing value (`slug:…`, `id:…`, `route:column:value`), each for the cache TTL. */
  private readonly cache = new Map<string, { tenant: Tenant; until: number }>();
  /** Decrypted secrets of the tenant objects in use (a changed tenant is a new object). */
  private readonly opened = new WeakMap<Tenant, TenantSecrets>();

  constructor(
    private readonly store: TenantStore,
    private readonly box: SecretBox,
    private readonly cacheTtlMs = TENANT_CACHE_TTL_MS,
    /** The rules catalog_url and outbound_webhook_url are fetched under (ZIA_CATALOG_ALLOW_PRIVATE). */
    private readonly fetchRules: SafeFetchOptions = { allowHttp: false },
  ) {}

  /** Features that cache per tenant (catalog, rate limits) subscribe to hear about changes. */
  onChange(listener: TenantChangeListener): void {
    this.listeners.push(listener);
  }

  async get(slug: string): Promise<Tenant> {
    const t = await this.find(slug);
    if (!t) throw new NotFoundError(`tenant '${slug}' not found`);
    return t;
  }

  /** A tenant by slug, possibly as read up to the cache TTL ago (unknown slugs are never cached). */
  find(slug: string): Promise<Tenant | undefined> {
    return this.cached(`slug:${slug}`, () => this.store.findBySlug(slug));
  }

  /**
   * Every webhook, job and turn looks its tenant up (by routing value, then by id): each look-up is
   * reused for the cache TTL, like the slug's. A change made through this process clears them all.
   */
  private async cached(key: string, read: () => Promise<Tenant | undefined>): Promise<Tenant | undefined> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.tenant;
    const t = await read();
    if (!t) {
      this.cache.delete(key);
      return undefined;
    }
    if (this.cacheTtlMs > 0) {
      // Expired entries of keys nobody asks for again would otherwise stay forever.
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(key, { tenant: t, until: now + this.cacheTtlMs });
    }
    return t;
  }

  /** Read-modify-write starts from the stored row, never from the cache. */
  private async current(slug: string): Promise<Tenant> {
    const t = await this.store.findBySlug(slug);
    if (!t) throw new NotFoundError(`tenant '${slug}' not found`);
    return t;
  }

  /** The row as stored now, never the cache: what a change is compared with (the audit log names what changed). */
  findStored(slug: string): Promise<Tenant | undefined> {
    return this.store.findBySlug(slug);
  }

  async getById(id: string): Promise<Tenant> {
    const t = await this.cached(`id:${id}`, () => this.store.findById(id));
    if (!t) throw new NotFoundError('tenant not found');
    return t;
  }

  findByRouting(column: RoutingColumn, value: string): Promise<Tenant | undefined> {
    return this.cached(`route:${column}:${value}`, () => this.store.findByRouting(column, value));
  }

  list(): Promise<Tenant[]> {
    return this.store.list();
  }

  async create(input: TenantCreateInput): Promise<Tenant> {
    const { settings, secrets } = this.merge({}, {}, input.settings);
    const id = newId();
    await this.store.insert(id, {
      slug: input.slug,
      name: input.name,
      whatsapp: input.whatsapp ?? null,
      ...this.persistable(settings, secrets),
    });
    return this.changed(await this.stored(id));
  }

  /** POST /v1/tenants semantics (kept from the seed): create, or update the tenant with that slug. */
  async upsert(input: TenantCreateInput): Promise<{ tenant: Tenant; created: boolean }> {
    const existing = await this.store.findBySlug(input.slug);
    if (!existing) return { tenant: await this.create(input), created: true };
    return { tenant: await this.update(input.slug, input), created: false };
  }

  async update(slug: string, input: TenantUpdateInput): Promise<Tenant> {
    const current = await this.current(slug);
    const { settings, secrets } = this.merge(current.settings, this.secrets(current), input.settings);
    await this.store.update(current.id, {
      slug: current.slug,
      name: input.name ?? current.name,
      whatsapp: input.whatsapp === undefined ? current.whatsapp : input.whatsapp,
      ...this.persistable(settings, secrets),
    });
    return this.changed(await this.stored(current.id));
  }

  /** The row as it is now, never from the cache (after a write). */
  private async stored(id: string): Promise<Tenant> {
    const t = await this.store.findById(id);
    if (!t) throw new NotFoundError('tenant not found');
    return t;
  }

  async delete(slug: string): Promise<void> {
    const t = await this.current(slug);
    await this.store.delete(t.id);
    this.changed(t);
  }

  async setStripe(
    tenant: Tenant,
    patch: { stripeAccountId?: string; chargesEnabled?: boolean; detailsSubmitted?: boolean },
    opts: { trx?: Tx } = {},
  ): Promise<Tenant> {
    // Inside a webhook's transaction the update commits (or not) with the inbox row that caused it.
    await this.store.setStripe(tenant.id, patch, opts.trx);
    const updated = await this.store.findById(tenant.id, opts.trx);
    if (!updated) throw new NotFoundError('tenant not found');
    return this.changed(updated);
  }

  /** Decrypted secrets, for the channel clients that need them. Never for output. */
  secrets(tenant: Tenant): TenantSecrets {
    if (!tenant.sealedSecrets) return {};
    let open = this.opened.get(tenant);
    if (!open) this.opened.set(tenant, (open = JSON.parse(this.box.open(tenant.sealedSecrets)) as TenantSecrets));
    return { ...open };
  }

  view(tenant: Tenant): TenantView {
    const secrets = this.secrets(tenant);
    const shown: Record<string, unknown> = { ...tenant.settings };
    for (const key of SECRET_KEYS) if (secrets[key]) shown[key] = redact(secrets[key]);
    return {
      id: tenant.id,
      slug: tenant.slug,
      name: tenant.name,
      whatsapp: tenant.whatsapp,
      settings: shown,
      stripe: {
        account_id: tenant.stripeAccountId,
        charges_enabled: tenant.chargesEnabled,
        details_submitted: tenant.detailsSubmitted,
      },
      created_at: tenant.createdAt,
      updated_at: tenant.updatedAt,
    };
  }

  bootstrap(tenant: Tenant): BootstrapView {
    const s = tenant.settings;
    const b = s.branding ?? {};
    const leadFormEnabled = s.lead?.form_enabled ?? false;
    const fields = [
      { name: 'name', label: 'Name', required: true, type: 'text' },
      { name: 'email', label: 'Email', required: true, type: 'email' },
    ];
    if (s.lead?.ask_whatsapp !== false) fields.push({ name: 'whatsapp', label: 'WhatsApp', required: false, type: 'tel' });
    return {
      tenant: tenant.slug,
      name: tenant.name,
      greeting: s.greeting ?? `Hi! I'm the ${tenant.name} assistant. How can I help?`,
      branding: {
        color: b.color ?? '#1a73e8',
        title: b.title ?? tenant.name,
        avatar_url: b.avatar_url ?? null,
        position: b.position ?? 'bottom-right',
        launcher_text: b.launcher_text ?? 'Chat',
      },
      lead: { form_enabled: leadFormEnabled, fields },
      has_catalog: Boolean(s.catalog_url),
      has_plans: (s.plans?.length ?? 0) > 0,
      handoff: { enabled: handoffEnabled(tenant), operator_label: operatorLabel(tenant) },
    };
  }

  private merge(
    settings: TenantSettings,
    secrets: TenantSecrets,
    patch: Record<string, unknown> | undefined,
  ): { settings: TenantSettings; secrets: TenantSecrets } {
    const merged = mergeSettings({ ...settings, ...secrets }, patch);
    const valid = parseInput(settingsSchema, merged, 'settings');
    this.checkFetchedUrls(valid);
    const outSecrets: TenantSecrets = {};
    const outSettings: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(valid)) {
      if (value === undefined) continue;
      if ((SECRET_KEYS as readonly string[]).includes(key)) outSecrets[key as SecretKey] = value as string;
      else outSettings[key] = value;
    }
    return { settings: outSettings as TenantSettings, secrets: outSecrets };
  }

  /**
   * zia fetches these URLs under the SSRF rules; what those refuse without a DNS lookup (the scheme, a
   * user name, a literal private or loopback address, a localhost name) is refused when saved, not later.
   */
  private checkFetchedUrls(settings: Record<string, unknown>): void {
    const problems: FieldProblem[] = [];
    for (const [key, label] of [
      ['catalog_url', 'catalog'],
      ['outbound_webhook_url', 'outbound webhook'],
    ] as const) {
      const url = settings[key];
      if (typeof url !== 'string') continue;
      try {
        checkUrlWithoutDns(url, { ...this.fetchRules, label });
      } catch (err) {
        if (!(err instanceof FetchRefusedError)) throw err;
        problems.push({ path: `settings.${key}`, message: err.message });
      }
    }
    if (problems.length > 0) throw new ValidationError(`invalid settings: ${describeProblems(problems)}`, problems);
  }

  private persistable(settings: TenantSettings, secrets: TenantSecrets) {
    const hasSecrets = Object.keys(secrets).length > 0;
    return {
      settings,
      sealedSecrets: hasSecrets ? this.box.seal(JSON.stringify(secrets)) : null,
      fbPageId: settings.fb_page_id ?? null,
      igUserId: settings.ig_user_id ?? null,
      whatsappFrom: settings.twilio_whatsapp_from ?? null,
      waPhoneNumberId: settings.whatsapp?.phone_number_id ?? null,
    };
  }

  private changed(tenant: Tenant): Tenant {
    // All of it: a changed row may be cached under its old slug or routing values as well.
    this.cache.clear();
    for (const l of this.listeners) l(tenant);
    return tenant;
  }
}
