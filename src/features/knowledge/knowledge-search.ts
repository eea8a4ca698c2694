import type { Tenant } from '../tenants/tenant-service.js';
import type { Embedder } from './embedder.js';
import type { ChunkRow, KnowledgeStore } from './knowledge-store.js';
import { clearlyMatches, coverage, queryTerms, questionLanguage } from './query-terms.js';

/** A passage of a tenant's knowledge base as the bot and operators see it. */
export interface Passage {
  chunkId: number;
  title: string;
  /** The page's URL; null for an uploaded file (it has a name, not a link). */
  url: string | null;
  /** The file name or URL, for operators. */
  location: string;
  heading: string;
  text: string;
  /** The fused rank score (higher is better; comparable within one search). */
  score: number;
  /** Share of the question's terms the passage holds (0..1). */
  coverage: number;
  /** Whether it clearly answers the question (see clearlyMatches). */
  clear: boolean;
  /** Reads as orders to an AI: shown to operators, never given to the model. */
  flagged: boolean;
}

export interface KnowledgeLookup {
  /** Whether the tenant has a knowledge base to search. */
  has(tenant: Tenant): Promise<boolean>;
  search(tenant: Tenant, question: string, options?: { limit?: number; includeFlagged?: boolean }): Promise<Passage[]>;
}

/** Text search configurations PostgreSQL ships, by language subtag. */
const SEARCH_CONFIGS: Record<string, string> = {
  en: 'english', es: 'spanish', pt: 'portuguese', fr: 'french', de: 'german', it: 'italian', nb: 'norwegian', nn: 'norwegian',
  no: 'norwegian', da: 'danish', sv: 'swedish', nl: 'dutch', fi: 'finnish', ru: 'russian', tr: 'turkish', hu: 'hungarian', ro: 'romanian',
};

/** The configuration a text in this language is indexed and searched with ('simple' when zia has none). */
export function searchConfig(language: string | null | undefined): string {
  return SEARCH_CONFIGS[(language ?? '').toLowerCase().split(/[-_]/)[0] ?? ''] ?? 'simple';
}

/** How many candidates each ranking contributes before fusion. */
const CANDIDATES = 24;
/** Reciprocal rank fusion's constant (the usual 60): ranks matter, raw scores of different kinds do not. */
const RRF_K = 60;
/** How long what a tenant's knowledge base is in (whether it has one, its languages) is believed before asking again. */
const OUTLINE_TTL_MS = 30_000;

/** What every search of a tenant needs before it starts, read once per OUTLINE_TTL_MS rather than per turn. */
interface Outline {
  has: boolean;
  /** The languages its documents are in (null: not stated). */
  languages: Array<string | null>;
  until: number;
}
/**
 * Vector floats one process keeps (64 MB): 10,000 passages of a 1,536-dimension model are 61 MB, so
 * with many tenants only the most recently searched keep theirs in memory; the others read them again.
 */
const MAX_CACHED_FLOATS = 16 * 1024 * 1024;

interface VectorCache {
  version: string;
  ids: number[];
  vectors: Float32Array[];
  floats: number;
}

/**
 * Full-text retrieval inside the database for everyone; with an embeddings model, hybrid: the
 * question's vector against the tenant's chunk vectors (cosine, held in memory per tenant until a
 * chunk changes), fused with the full-text ranking by reciprocal rank.
 */
export class KnowledgeSearch implements KnowledgeLookup {
  private readonly outlines = new Map<string, Outline>();
  private readonly vectorCache = new Map<string, VectorCache>();

  constructor(
    private readonly store: KnowledgeStore,
    private readonly embedder?: Embedder,
    private readonly maxCachedFloats = MAX_CACHED_FLOATS,
  ) {}

  /** Called after this process changed a tenant's knowledge base. */
  changed(tenantId: string): void {
    this.outlines.delete(tenantId);
  }

  async has(tenant: Tenant): Promise<boolean> {
    return (await this.outline(tenant.id)).has;
  }

  private async outline(tenantId: string): Promise<Outline> {
    const cached = this.outlines.get(tenantId);
    if (cached && cached.until > Date.now()) return cached;
    const [has, languages] = await Promise.all([this.store.hasChunks(tenantId), this.store.languages(tenantId)]);
    const outline = { has, languages, until: Date.now() + OUTLINE_TTL_MS };
    this.outlines.set(tenantId, outline);
    return outline;
  }

  async search(tenant: Tenant, question: string, options: { limit?: number; includeFlagged?: boolean } = {}): Promise<Passage[]> {
    const limit = options.limit ?? 3;
    const terms = queryTerms(question);
    const { languages } = await this.outline(tenant.id);
    const configs = [...new Set(languages.map((l) => searchConfig(l ?? tenant.settings.locale)))];
    // A question in one of the tenant's languages is parsed (stemmed) in that language only.
    const asked = searchConfig(questionLanguage(question));
    if (configs.includes(asked)) configs.splice(0, configs.length, asked);
    const [textHits, vectorHits] = await Promise.all([
      this.store.search(tenant.id, { terms, configs, limit: CANDIDATES, includeFlagged: options.includeFlagged }),
      this.embedder ? this.nearest(tenant.id, question, this.embedder) : Promise.resolve([]),
    ]);
    const fused = new Map<number, number>();
    textHits.forEach((h, i) => fused.set(h.id, (fused.get(h.id) ?? 0) + 1 / (RRF_K + i + 1)));
    vectorHits.forEach((id, i) => fused.set(id, (fused.get(id) ?? 0) + 1 / (RRF_K + i + 1)));
    const ranked = [...fused.entries()].sort((a, b) => b[1] - a[1]);
    const rows = await this.store.chunks(tenant.id, ranked.map(([id]) => id));
    const score = new Map(ranked);
    // One passage per page, pages in the order of their best rank: three passages of one page would
    // crowd out the page that answers. Of a page's passages, the one holding most of the question.
    const byPage = new Map<string, Passage[]>();
    for (const r of rows) {
      if (!options.includeFlagged && r.flagged) continue;
      const list = byPage.get(r.documentId) ?? [];
      if (list.length === 0) byPage.set(r.documentId, list);
      list.push(toPassage(r, score.get(r.id) ?? 0, terms));
    }
    const passages = [...byPage.values()].slice(0, limit).map((list) => list.reduce((best, p) => (p.coverage > best.coverage ? p : best)));
    return passages;
  }

  /** The tenant's chunks nearest the question, best first. */
  private async nearest(tenantId: string, question: string, embedder: Embedder): Promise<number[]> {
    const [cache, [q]] = await Promise.all([this.vectors(tenantId, embedder.model), embedder.embed([question])]);
    if (!q || cache.ids.length === 0) return [];
    const best: Array<[number, number]> = [];
    for (let i = 0; i < cache.vectors.length; i++) {
      const v = cache.vectors[i]!;
      if (v.length !== q.length) continue;
      let dot = 0;
      for (let j = 0; j < q.length; j++) dot += q[j]! * v[j]!;
      if (best.length < CANDIDATES || dot > best[best.length - 1]![1]) {
        best.push([cache.ids[i]!, dot]);
        best.sort((a, b) => b[1] - a[1]);
        if (best.length > CANDIDATES) best.pop();
      }
    }
    return best.map(([id]) => id);
  }

  private async vectors(tenantId: string, model: string): Promise<VectorCache> {
    const version = await this.store.vectorsVersion(tenantId, model);
    const cached = this.vectorCache.get(tenantId);
    // Re-inserted on every use, so the map's order is least recently searched first.
    this.vectorCache.delete(tenantId);
    const current = cached && cached.version === version ? cached : await this.load(tenantId, model, version);
    this.vectorCache.set(tenantId, current);
    let floats = 0;
    for (const c of this.vectorCache.values()) floats += c.floats;
    for (const [id, c] of this.vectorCache) {
      if (floats <= this.maxCachedFloats || id === tenantId) break;
      floats -= c.floats;
      this.vectorCache.delete(id);
    }
    return current;
  }

  private async load(tenantId: string, model: string, version: string): Promise<VectorCache> {
    const { ids, vectors } = await this.store.vectors(tenantId, model);
    return { version, ids, vectors, floats: vectors.reduce((n, v) => n + v.length, 0) };
  }
}

function toPassage(r: ChunkRow, score: number, terms: readonly string[]): Passage {
  const matchable = `${r.title} ${r.heading} ${r.body}`;
  return {
    chunkId: r.id,
    title: r.title,
    url: r.sourceKind === 'file' ? null : r.url,
    location: r.url,
    heading: r.heading,
    text: r.body,
    score,
    coverage: coverage(terms, matchable).share,
    clear: clearlyMatches(terms, matchable),
    flagged: r.flagged,
  };
}
