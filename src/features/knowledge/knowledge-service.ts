import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { checkUrlWithoutDns, FetchRefusedError, type SafeFetchOptions } from '../../net/safe-fetch.js';
import type { JobQueue } from '../jobs/jobs.types.js';
import type { Tenant } from '../tenants/tenant-service.js';
import { chunkSections, type Chunk } from './chunk-text.js';
import { EMBED_BATCH, type Embedder } from './embedder.js';
import { extractDocument, UnsupportedDocumentError, type ExtractedDocument } from './extract-document.js';
import { looksLikeInstructions } from './instruction-text.js';
import type { KnowledgeSearch } from './knowledge-search.js';
import { searchConfig } from './knowledge-search.js';
import type { KnowledgeSource, KnowledgeStore, SourceKind } from './knowledge-store.js';
import { bodyHash, crawl, CrawlError, type KnownPage, type PageFetcher } from './site-crawler.js';

/**
 * What operators do with a tenant's knowledge base (add a page, a sitemap, a site or a file; sync;
 * remove) and the scheduled re-sync that keeps it current through the job queue.
 */

export const KNOWLEDGE_SYNC_JOB = 'knowledge.sync';
/** Defaults an operator can change per tenant under settings.knowledge. */
export const KNOWLEDGE_DEFAULTS = { maxPages: 200, maxPageKb: 2048, syncHours: 24 } as const;
/** A passage found word for word on this many pages of one source is boilerplate, not an answer. */
const BOILERPLATE_PAGES = 3;
/** Largest uploaded file. */
export const MAX_FILE_BYTES = 20 * 1024 * 1024;

export interface SyncProgress {
  done: number;
  /** Pages this sync may fetch at most. */
  limit: number;
  url: string;
  outcome: string;
}

export interface SyncReport {
  source: KnowledgeSource;
  indexed: number;
  unchanged: number;
  removed: number;
  skipped: Array<{ url: string; reason: string }>;
  failed: Array<{ url: string; reason: string }>;
  /** Why the sync could not run at all (robots.txt unreadable, invalid sitemap); nothing changed then. */
  error?: string;
  /** Another sync of this source was running: this one did nothing. */
  busy?: boolean;
}

export interface AddSourceInput {
  url: string;
  /** page: this page; sitemap: the pages it lists; crawl: the site from this page. Default: sitemap for *.xml, else page. */
  mode?: 'page' | 'sitemap' | 'crawl';
  maxPages?: number;
  /** Hours between scheduled re-syncs; 0: never. */
  syncHours?: number;
}

export interface KnowledgeServiceDeps {
  store: KnowledgeStore;
  search: KnowledgeSearch;
  fetchPage: PageFetcher;
  fetchRules: SafeFetchOptions;
  jobs: JobQueue;
  logger: Logger;
  embedder?: Embedder;
}

export class KnowledgeService {
  constructor(private readonly deps: KnowledgeServiceDeps) {}

  list(tenant: Tenant): Promise<KnowledgeSource[]> {
    return this.deps.store.listSources(tenant.id);
  }

  async get(tenant: Tenant, id: string): Promise<KnowledgeSource> {
    const source = await this.deps.store.getSource(tenant.id, id);
    if (!source) throw new NotFoundError('knowledge source not found');
    return source;
  }

  documents(tenant: Tenant, id: string) {
    return this.deps.store.documents(tenant.id, id);
  }

  /** Adds a URL source; it is synced by the caller (CLI) or by a job queued now (API). */
  async addUrl(tenant: Tenant, input: AddSourceInput): Promise<KnowledgeSource> {
    let url: string;
    try {
      url = checkUrlWithoutDns(input.url, { ...this.deps.fetchRules, label: 'knowledge page' }).url.toString();
    } catch (err) {
      if (err instanceof FetchRefusedError) throw new ValidationError(err.message, [{ path: 'url', message: err.message }]);
      throw err;
    }
    if (await this.deps.store.findSource(tenant.id, url)) throw new ConflictError(`${url} is already a knowledge source of ${tenant.slug}; sync it instead`);
    const kind: SourceKind = input.mode ?? (/\.xml(\.gz)?$/i.test(new URL(url).pathname) ? 'sitemap' : 'page');
    const limits = limitsOf(tenant);
    const hours = input.syncHours ?? limits.syncHours;
    return this.deps.store.addSource(tenant.id, {
      kind,
      location: url,
      maxPages: kind === 'page' ? 1 : Math.min(input.maxPages ?? limits.maxPages, limits.maxPages),
      syncIntervalS: hours > 0 ? Math.round(hours * 3600) : null,
    });
  }

  /** Indexes an uploaded file at once; a file of the same name replaces the earlier one. */
  async addFile(tenant: Tenant, file: { name: string; body: Buffer; contentType?: string }): Promise<SyncReport> {
    const name = file.name.split(/[\\/]/).pop()!.trim();
    if (!name) throw new ValidationError('the file needs a name', [{ path: 'name', message: 'required' }]);
    if (file.body.length > MAX_FILE_BYTES) throw new ValidationError(`${name} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MB`, [{ path: 'file', message: 'too large' }]);
    let extracted: ExtractedDocument;
    try {
      extracted = await extractDocument({ body: file.body, contentType: file.contentType, fileName: name });
    } catch (err) {
      if (err instanceof UnsupportedDocumentError) throw new ValidationError(err.message, [{ path: 'file', message: err.message }]);
      throw err;
    }
    const chunks = chunkSections(extracted.sections);
    if (chunks.length === 0) throw new ValidationError(`no text found in ${name} (a scanned document needs OCR first)`, [{ path: 'file', message: 'no text' }]);
    const source =
      (await this.deps.store.findSource(tenant.id, name)) ?? (await this.deps.store.addSource(tenant.id, { kind: 'file', location: name, maxPages: 1, syncIntervalS: null }));
    await this.save(tenant, source.id, name, extracted, chunks, { etag: null, lastModified: null, contentHash: bodyHash(file.body), bytes: file.body.length });
    await this.embedMissing(tenant);
    const done = (await this.deps.store.finishSync(tenant.id, source.id, { status: 'ready', lastError: null, nextSyncAt: null }))!;
    this.deps.search.changed(tenant.id);
    return { source: done, indexed: 1, unchanged: 0, removed: 0, skipped: [], failed: [] };
  }

  async remove(tenant: Tenant, id: string): Promise<void> {
    if (!(await this.deps.store.removeSource(tenant.id, id))) throw new NotFoundError('knowledge source not found');
    this.deps.search.changed(tenant.id);
  }

  /** Queues a sync of the source now (the API's "sync"; the job runs on a worker). */
  async requestSync(tenant: Tenant, source: KnowledgeSource): Promise<void> {
    if (source.kind === 'file') throw new ConflictError('an uploaded file is indexed when it is added; upload it again to replace it');
    await this.deps.jobs.enqueue(KNOWLEDGE_SYNC_JOB, { tenantId: tenant.id, sourceId: source.id, now: true }, { jobKey: `knowledge-sync-now:${source.id}`, tenant: tenant.id });
  }

  /**
   * Fetches what the source names and brings the index in step: changed pages re-indexed, unchanged
   * ones left (a 304 or the same bytes), pages gone from the site or the source removed, pages that
   * could not be read this time kept as they were. Then schedules the next sync.
   */
  async sync(tenant: Tenant, id: string, onProgress?: (p: SyncProgress) => void): Promise<SyncReport> {
    const { store } = this.deps;
    const source = await this.get(tenant, id);
    if (source.kind === 'file') throw new ConflictError('an uploaded file is indexed when it is added; upload it again to replace it');
    const report: SyncReport = { source, indexed: 0, unchanged: 0, removed: 0, skipped: [], failed: [] };
    if (!(await store.claimSync(tenant.id, id))) return { ...report, busy: true };
    const docs = await store.documents(tenant.id, id);
    const known = new Map<string, KnownPage>(docs.map((d) => [d.url, d]));
    const limits = limitsOf(tenant);
    const otherPages = (await store.listSources(tenant.id)).filter((s) => s.id !== id).reduce((n, s) => n + s.pageCount, 0);
    const budget = Math.max(0, Math.min(source.maxPages, limits.maxPages - otherPages));
    const seen = new Set<string>();
    const gone: string[] = [];
    let done = 0;
    if (budget === 0) {
      // Nothing is fetched, so nothing may be taken for gone: the pages indexed before stay.
      report.error = `the tenant's page limit (settings.knowledge.max_pages = ${limits.maxPages}) is used by its other sources`;
      report.source = (await store.finishSync(tenant.id, id, { status: 'failed', lastError: report.error, nextSyncAt: nextSync(source) }))!;
      await this.schedule(tenant, report.source);
      return report;
    }
    try {
      const pages = crawl({ kind: source.kind as 'page' | 'sitemap' | 'crawl', start: source.location, maxPages: budget, maxPageBytes: limits.maxPageKb * 1024, known }, this.deps.fetchPage);
      for await (const page of pages) {
        seen.add(page.url);
        if (page.kind === 'indexed') {
          await this.save(tenant, id, page.url, page.extracted, page.chunks, page);
          report.indexed++;
        } else if (page.kind === 'unchanged') {
          await store.touchDocument(tenant.id, page.known.id, page);
          report.unchanged++;
        } else if (page.kind === 'gone') {
          const doc = known.get(page.url);
          if (doc) gone.push(doc.id);
        } else if (page.kind === 'skipped') {
          report.skipped.push({ url: page.url, reason: page.reason });
          const doc = known.get(page.url);
          if (doc) gone.push(doc.id);
        } else {
          report.failed.push({ url: page.url, reason: page.reason });
        }
        if (page.kind !== 'skipped' || !page.reason.startsWith('disallowed')) done++;
        onProgress?.({ done, limit: budget, url: page.url, outcome: page.kind });
      }
      // A page the source no longer leads to (not in the sitemap, no longer linked) leaves the index too.
      for (const d of docs) if (!seen.has(d.url)) gone.push(d.id);
      await store.removeDocuments(tenant.id, [...new Set(gone)]);
      report.removed = new Set(gone).size;
      await store.markBoilerplate(tenant.id, id, BOILERPLATE_PAGES);
      const embedError = await this.embedMissing(tenant).then(
        () => null,
        (err: unknown) => `embeddings failed (full-text search still works): ${(err as Error).message}`,
      );
      const lastError = report.indexed + report.unchanged === 0 && report.failed.length > 0 ? `no page could be read: ${report.failed[0]!.reason}` : embedError;
      report.source = (await store.finishSync(tenant.id, id, { status: lastError && !embedError ? 'failed' : 'ready', lastError, nextSyncAt: nextSync(source) }))!;
    } catch (err) {
      if (!(err instanceof CrawlError)) {
        await store.finishSync(tenant.id, id, { status: 'failed', lastError: (err as Error).message, nextSyncAt: nextSync(source) });
        throw err;
      }
      report.error = err.message;
      report.source = (await store.finishSync(tenant.id, id, { status: 'failed', lastError: err.message, nextSyncAt: nextSync(source) }))!;
    } finally {
      this.deps.search.changed(tenant.id);
    }
    await this.schedule(tenant, report.source);
    return report;
  }

  /** The job: a scheduled or requested sync; a scheduled one that finds the source synced since waits for its new time. */
  async runJob(tenant: Tenant, payload: { sourceId: string; now?: boolean }): Promise<void> {
    const source = await this.deps.store.getSource(tenant.id, payload.sourceId);
    if (!source) return;
    if (!payload.now && source.nextSyncAt && Date.parse(source.nextSyncAt) > Date.now() + 5_000) {
      await this.schedule(tenant, source);
      return;
    }
    const report = await this.sync(tenant, source.id);
    const log = this.deps.logger;
    if (report.busy) log.debug({ tenant: tenant.slug, source: source.location }, 'knowledge sync skipped: another one is running');
    else if (report.error) log.warn({ tenant: tenant.slug, source: source.location, error: report.error }, 'knowledge sync failed');
    else log.info({ tenant: tenant.slug, source: source.location, indexed: report.indexed, unchanged: report.unchanged, removed: report.removed, skipped: report.skipped.length }, 'knowledge synced');
  }

  private async schedule(tenant: Tenant, source: KnowledgeSource): Promise<void> {
    if (!source.nextSyncAt) return;
    await this.deps.jobs.enqueue(KNOWLEDGE_SYNC_JOB, { tenantId: tenant.id, sourceId: source.id }, { runAt: new Date(source.nextSyncAt), jobKey: `knowledge-sync:${source.id}`, tenant: tenant.id });
  }

  private async save(
    tenant: Tenant,
    sourceId: string,
    url: string,
    extracted: ExtractedDocument,
    chunks: Chunk[],
    meta: { etag: string | null; lastModified: string | null; contentHash: string; bytes: number },
  ): Promise<void> {
    const language = extracted.language ?? null;
    const titled = quarantined(chunks).map((c, position) => ({
      position,
      // The page's title leads every chunk's heading: "Returns policy › Refunds" finds the page by either.
      heading: !c.heading || c.heading === extracted.title || c.heading.startsWith(`${extracted.title} › `) ? c.heading || extracted.title : `${extracted.title} › ${c.heading}`,
      body: c.text,
      flagged: c.flagged,
    }));
    await this.deps.store.saveDocument(
      tenant.id,
      sourceId,
      { url, title: extracted.title, language, etag: meta.etag, lastModified: meta.lastModified, contentHash: meta.contentHash, bytes: meta.bytes, status: 'indexed', skipReason: null, links: extracted.links },
      titled,
      searchConfig(language ?? tenant.settings.locale),
    );
  }

  /** Vectors for chunks that have none from the configured model, when one is configured. */
  private async embedMissing(tenant: Tenant): Promise<void> {
    const { embedder, store } = this.deps;
    if (!embedder) return;
    for (;;) {
      const todo = await store.chunksToEmbed(tenant.id, embedder.model, EMBED_BATCH * 4);
      if (todo.length === 0) return;
      const vectors = await embedder.embed(todo.map((c) => `${c.heading}\n${c.body}`));
      await store.setEmbeddings(tenant.id, embedder.model, todo.map((c, i) => ({ id: c.id, vector: vectors[i]! })));
    }
  }
}

/**
 * Sentences that read as orders to an AI (a page planted with "ignore your instructions …") are moved
 * out of their chunk into a flagged one of their own, so the rest of the passage still answers.
 */
function quarantined(chunks: Chunk[]): Array<Chunk & { flagged: boolean }> {
  const out: Array<Chunk & { flagged: boolean }> = [];
  for (const c of chunks) {
    if (!looksLikeInstructions(c.text)) {
      out.push({ ...c, flagged: false });
      continue;
    }
    const sentences = c.text.split(/\n+|(?<=[.!?])\s+/);
    const planted = sentences.filter((x) => looksLikeInstructions(x));
    const clean = sentences.filter((x) => x.trim() && !looksLikeInstructions(x));
    if (clean.length > 0) out.push({ ...c, text: clean.join(' '), flagged: false });
    out.push({ ...c, text: (planted.length > 0 ? planted : [c.text]).join(' '), flagged: true });
  }
  return out;
}

function limitsOf(tenant: Tenant): { maxPages: number; maxPageKb: number; syncHours: number } {
  const k = tenant.settings.knowledge ?? {};
  return { maxPages: k.max_pages ?? KNOWLEDGE_DEFAULTS.maxPages, maxPageKb: k.max_page_kb ?? KNOWLEDGE_DEFAULTS.maxPageKb, syncHours: k.sync_hours ?? KNOWLEDGE_DEFAULTS.syncHours };
}

function nextSync(source: KnowledgeSource): string | null {
  return source.syncIntervalS ? new Date(Date.now() + source.syncIntervalS * 1000).toISOString() : null;
}
