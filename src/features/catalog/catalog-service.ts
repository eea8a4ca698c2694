import type { Logger } from '../../logger.js';
import type { Tenant } from '../tenants/tenant-service.js';
import type { CatalogItem, CatalogLookup, CatalogSearchHit } from './catalog.types.js';
import { fractionDigits, normaliseCatalog } from './catalog-normalise.js';
import { indexItems, rank } from './catalog-search.js';
import type { CatalogSnapshot, CatalogStore } from './catalog-store.js';
import { asCatalogError, CatalogFetchError } from './catalog-error.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { newId } from '../../db/dialect.js';
import { CATALOG_TIMEOUT_MS } from '../../net/safe-fetch.js';

/**
 * Each tenant's catalog, cached: fresh for settings.catalog_ttl_seconds, then served stale while one
 * background refresh runs; a failed refresh keeps the last good copy serving and is recorded for
 * diagnostics. The copy lives in catalog_snapshots so every process shares it; memory only saves the
 * database round trip and the search index. A fetch is shared too: within a process by promise, across
 * processes by a lease row (catalog_fetch_leases), so a fleet fetches each tenant's catalog once per TTL.
 */

export const DEFAULT_TTL_SECONDS = 600;
/** After a failure with no good copy, wait this long (at most the TTL) before trying again. */
const FAILURE_BACKOFF_MS = 30_000;
/** How long a claim to fetch holds: well past the fetch's own time limit, so only a dead holder's runs out. */
const FETCH_LEASE_MS = 6 * CATALOG_TIMEOUT_MS;
/** How often a process waiting on another's fetch looks at the stored row. */
const LEASE_POLL_MS = 200;

export interface CatalogServiceDeps {
  store: CatalogStore;
  /** Fetches and parses the catalog document (safeFetchJson in production). */
  fetchJson: (url: string) => Promise<unknown>;
  logger: Logger;
  now?: () => number;
}

export interface CatalogState {
  sourceUrl: string | null;
  snapshot: CatalogSnapshot | undefined;
  /** True when the copy is older than the tenant's TTL. */
  stale: boolean;
}

export interface CatalogPage {
  hits: Array<{ item: CatalogItem; score?: number; priceText: string }>;
  total: number;
  fetchedAt: string | null;
}

interface Cached {
  snapshot: CatalogSnapshot;
  index?: ReturnType<typeof indexItems>;
}

export class CatalogService implements CatalogLookup {
  private readonly memory = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<CatalogSnapshot>>();
  private readonly now: () => number;
  /** This service's name on the fetch leases it holds. */
  private readonly holder = newId();

  constructor(private readonly deps: CatalogServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Called when a tenant changes: a new catalog_url (or currency) must not be answered from memory. */
  invalidate(tenantId: string): void {
    this.memory.delete(tenantId);
  }

  /** The items to answer from; fetches when there is no copy of the current URL. */
  async items(tenant: Tenant): Promise<CatalogItem[]> {
    return (await this.current(tenant))?.snapshot.items ?? [];
  }

  /** The cached copy and its freshness, fetching first only when there is none. */
  async state(tenant: Tenant, opts: { revalidate?: boolean } = {}): Promise<CatalogState> {
    const url = tenant.settings.catalog_url ?? null;
    if (!url) return { sourceUrl: null, snapshot: undefined, stale: false };
    const cached = await this.current(tenant, opts.revalidate ?? true);
    return { sourceUrl: url, snapshot: cached?.snapshot, stale: cached ? !this.fresh(tenant, cached.snapshot) : false };
  }

  /** What is stored for the tenant, without fetching: for diagnostics after a failure. */
  stored(tenant: Tenant): Promise<CatalogSnapshot | undefined> {
    return this.deps.store.get(tenant.id);
  }

  /**
   * Fetches now, whatever the cache says. Concurrent callers for the same tenant and URL share one
   * fetch. Throws the fetch error after recording it (the previous copy stays in place).
   */
  refresh(tenant: Tenant): Promise<CatalogSnapshot> {
    const url = tenant.settings.catalog_url;
    if (!url) return Promise.reject(new CatalogFetchError('invalid_url', `tenant '${tenant.slug}' has no catalog_url`));
    const key = `${tenant.id} ${url}`;
    const running = this.inflight.get(key);
    if (running) return running;
    const job = this.fetchShared(tenant, url).finally(() => this.inflight.delete(key));
    this.inflight.set(key, job);
    return job;
  }

  configured(tenant: Tenant): boolean {
    return Boolean(tenant.settings.catalog_url);
  }

  async search(tenant: Tenant, query: string, limit = 5): Promise<CatalogSearchHit[]> {
    const cached = await this.currentOrNothing(tenant);
    if (!cached) return [];
    cached.index ??= indexItems(cached.snapshot.items);
    return rank(cached.index, query, Math.max(1, limit)).map(({ item, score }) => ({
      item,
      score,
      priceText: this.formatPrice(tenant, item.price, item.currency),
    }));
  }

  /**
   * One page of the catalog for GET /v1/catalog: all items in published order, or the matches for q
   * ranked best first. Throws when there is no copy at all and the fetch fails.
   */
  async page(tenant: Tenant, opts: { q?: string; offset: number; limit: number }): Promise<CatalogPage> {
    const cached = await this.current(tenant);
    if (!cached) return { hits: [], total: 0, fetchedAt: null };
    let all: Array<{ item: CatalogItem; score?: number }>;
    if (opts.q && opts.q.trim()) {
      cached.index ??= indexItems(cached.snapshot.items);
      all = rank(cached.index, opts.q, cached.snapshot.items.length);
    } else {
      all = cached.snapshot.items.map((item) => ({ item }));
    }
    const hits = all.slice(opts.offset, opts.offset + opts.limit).map((h) => ({ ...h, priceText: this.formatPrice(tenant, h.item.price, h.item.currency) }));
    return { hits, total: all.length, fetchedAt: cached.snapshot.fetchedAt };
  }

  async find(tenant: Tenant, itemId: string): Promise<CatalogItem | undefined> {
    const items = (await this.currentOrNothing(tenant))?.snapshot.items ?? [];
    const wanted = itemId.trim();
    return items.find((i) => i.id === wanted) ?? items.find((i) => i.id.toLowerCase() === wanted.toLowerCase());
  }

  formatPrice(tenant: Tenant, amountMinor: number, currency: string): string {
    const code = (currency || tenant.settings.currency || 'usd').toLowerCase();
    const digits = fractionDigits(code) ?? 2;
    const major = amountMinor / 10 ** digits;
    try {
      return new Intl.NumberFormat(tenant.settings.locale ?? 'en', { style: 'currency', currency: code }).format(major);
    } catch {
      // An unusable locale tag in settings must not break an answer.
      return new Intl.NumberFormat('en', { style: 'currency', currency: code }).format(major);
    }
  }

  /** For chat answers: a broken catalog means "no matches", not a failed reply. */
  private async currentOrNothing(tenant: Tenant): Promise<Cached | undefined> {
    try {
      return await this.current(tenant);
    } catch (err) {
      this.deps.logger.warn({ tenant: tenant.slug, reason: (err as CatalogFetchError).reason, err: (err as Error).message }, 'catalog unavailable');
      return undefined;
    }
  }

  /** Resolves when no fetch is running: shutdown waits on it so no write lands on a closed database. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()]);
  }

  private async current(tenant: Tenant, revalidate = true): Promise<Cached | undefined> {
    const url = tenant.settings.catalog_url;
    if (!url) return undefined;
    let cached = this.memory.get(tenant.id);
    if (!cached || cached.snapshot.sourceUrl !== url || !this.fresh(tenant, cached.snapshot)) {
      // Another process may have refreshed it since.
      const stored = await this.deps.store.get(tenant.id);
      // ...and a caller in this process may have finished a fetch while that read was waiting: its copy
      // is newer than what the read saw, so keep it rather than fetch a second time.
      const meanwhile = this.memory.get(tenant.id);
      if (meanwhile && meanwhile !== cached && meanwhile.snapshot.sourceUrl === url && meanwhile.snapshot.report) cached = meanwhile;
      else if (stored) cached = this.remember(stored);
    }
    const snapshot = cached?.snapshot;
    if (cached && snapshot && snapshot.sourceUrl === url && snapshot.report) {
      // A shop that is down is not asked again on every request: failures back off too.
      if (revalidate && !this.fresh(tenant, snapshot) && !this.failedRecently(tenant, snapshot)) this.refreshInBackground(tenant);
      return cached;
    }
    // No good copy of this URL: wait for a fetch, unless one failed moments ago.
    if (snapshot && snapshot.sourceUrl === url && this.failedRecently(tenant, snapshot)) {
      throw new CatalogFetchError('recent_failure', snapshot.lastError ?? 'catalog fetch failed recently');
    }
    const fetched = await this.refresh(tenant);
    return this.memory.get(tenant.id) ?? { snapshot: fetched };
  }

  private failedRecently(tenant: Tenant, snapshot: CatalogSnapshot): boolean {
    return snapshot.lastErrorAt !== null && this.now() - Date.parse(snapshot.lastErrorAt) < this.backoffMs(tenant);
  }

  private refreshInBackground(tenant: Tenant): void {
    // Recorded in the snapshot row by fetchAndStore; the stale copy keeps serving. Callers of refresh()
    // get the error itself, so only this unattended path logs it.
    this.refresh(tenant).catch((err: CatalogFetchError) => {
      this.deps.logger.warn({ tenant: tenant.slug, reason: err.reason, err: err.message }, 'catalog refresh failed; serving the previous copy');
    });
  }

  /**
   * Fetches unless another process is fetching the same tenant's catalog: the process whose claim on
   * the lease row succeeds fetches; the others watch the stored row until that fetch leaves its copy or
   * its failure there. A claim whose holder died runs out after FETCH_LEASE_MS and a waiter takes it.
   */
  private async fetchShared(tenant: Tenant, url: string): Promise<CatalogSnapshot> {
    const store = this.deps.store;
    const before = await store.get(tenant.id);
    for (;;) {
      if (await store.claimFetch(tenant.id, this.holder, FETCH_LEASE_MS)) {
        try {
          // A fetch that finished between the read above and the claim counts: no second one.
          const landed = this.settledSince(before, await store.get(tenant.id), url);
          return landed ?? (await this.fetchAndStore(tenant, url));
        } finally {
          await store.releaseFetch(tenant.id, this.holder).catch((err) => this.deps.logger.warn({ err, tenant: tenant.slug }, 'could not release the catalog fetch lease'));
        }
      }
      await sleep(LEASE_POLL_MS);
      const landed = this.settledSince(before, await store.get(tenant.id), url);
      if (landed) return landed;
    }
  }

  /**
   * What another process's fetch of `url` left in the row since `before` was read: its copy (kept in
   * memory as this process's too), or its failure thrown. Undefined while nothing has landed.
   */
  private settledSince(before: CatalogSnapshot | undefined, now: CatalogSnapshot | undefined, url: string): CatalogSnapshot | undefined {
    if (!now || now.sourceUrl !== url) return undefined;
    const changed = !before || before.sourceUrl !== url || now.fetchedAt !== before.fetchedAt || now.lastErrorAt !== before.lastErrorAt;
    if (!changed) return undefined;
    this.remember(now);
    // A successful save clears the recorded failure, so a failure in the changed row is the latest news.
    if (now.lastErrorAt !== null) throw new CatalogFetchError('recent_failure', now.lastError ?? 'catalog fetch failed');
    return now;
  }

  private async fetchAndStore(tenant: Tenant, url: string): Promise<CatalogSnapshot> {
    try {
      const doc = await this.deps.fetchJson(url);
      const { items, report } = normaliseCatalog(doc, tenant.settings.currency ?? 'usd');
      const snapshot: CatalogSnapshot = {
        tenantId: tenant.id,
        sourceUrl: url,
        items,
        report,
        fetchedAt: new Date(this.now()).toISOString(),
        lastError: null,
        lastErrorAt: null,
      };
      await this.deps.store.save(tenant.id, { sourceUrl: url, items, report, fetchedAt: snapshot.fetchedAt });
      this.remember(snapshot);
      if (report.skipped > 0) this.deps.logger.info({ tenant: tenant.slug, skipped: report.skipped, reasons: report.skipped_reasons }, 'catalog items skipped');
      return snapshot;
    } catch (err) {
      const failure = asCatalogError(err);
      const at = new Date(this.now()).toISOString();
      try {
        await this.deps.store.recordFailure(tenant.id, url, failure.message, at);
        const held = this.memory.get(tenant.id);
        if (held && held.snapshot.sourceUrl === url) held.snapshot = { ...held.snapshot, lastError: failure.message, lastErrorAt: at };
        else this.memory.delete(tenant.id);
      } catch (storeErr) {
        this.deps.logger.error({ err: storeErr, tenant: tenant.slug }, 'could not record catalog failure');
      }
      throw failure;
    }
  }

  private remember(snapshot: CatalogSnapshot): Cached {
    const held = this.memory.get(snapshot.tenantId);
    // Keep the search index when the items did not change (same fetch).
    if (held && held.snapshot.fetchedAt === snapshot.fetchedAt && held.snapshot.sourceUrl === snapshot.sourceUrl) {
      held.snapshot = snapshot;
      return held;
    }
    const cached: Cached = { snapshot };
    this.memory.set(snapshot.tenantId, cached);
    return cached;
  }

  private ttlMs(tenant: Tenant): number {
    return (tenant.settings.catalog_ttl_seconds ?? DEFAULT_TTL_SECONDS) * 1000;
  }

  private fresh(tenant: Tenant, snapshot: CatalogSnapshot): boolean {
    return this.now() - Date.parse(snapshot.fetchedAt) < this.ttlMs(tenant);
  }

  private backoffMs(tenant: Tenant): number {
    return Math.min(FAILURE_BACKOFF_MS, this.ttlMs(tenant));
  }
}
