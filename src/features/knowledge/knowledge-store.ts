import type { Db } from '../../db/create-db.js';
import { newId, nowIso, readBool, readJson, readTime, writeJson } from '../../db/dialect.js';
import { knexOf } from '../../db/unit-of-work.js';
import { ChunkSearch, chunkSearchColumns, readVector, writeVector, type ChunkMatch } from '../../db/full-text.js';

/** Sources, documents and chunks of tenants' knowledge bases; every method is scoped to one tenant. */

export type SourceKind = 'page' | 'sitemap' | 'crawl' | 'file';
export type SourceStatus = 'pending' | 'syncing' | 'ready' | 'failed';

export interface KnowledgeSource {
  id: string;
  tenantId: string;
  kind: SourceKind;
  location: string;
  maxPages: number;
  syncIntervalS: number | null;
  status: SourceStatus;
  lastError: string | null;
  pageCount: number;
  chunkCount: number;
  syncedAt: string | null;
  nextSyncAt: string | null;
  createdAt: string;
}

export interface StoredDocument {
  id: string;
  url: string;
  title: string;
  etag: string | null;
  lastModified: string | null;
  contentHash: string | null;
  status: 'indexed' | 'skipped';
  skipReason: string | null;
  chunkCount: number;
  links: string[];
}

export interface DocumentInput {
  url: string;
  title: string;
  language: string | null;
  etag: string | null;
  lastModified: string | null;
  contentHash: string | null;
  bytes: number;
  status: 'indexed' | 'skipped';
  skipReason: string | null;
  links: string[];
}

export interface ChunkInput {
  position: number;
  heading: string;
  body: string;
  flagged: boolean;
}

export interface ChunkRow {
  id: number;
  documentId: string;
  sourceId: string;
  heading: string;
  body: string;
  flagged: boolean;
  title: string;
  url: string;
  sourceKind: SourceKind;
}

function sourceFrom(r: any): KnowledgeSource {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    kind: r.kind,
    location: r.location,
    maxPages: Number(r.max_pages),
    syncIntervalS: r.sync_interval_s === null || r.sync_interval_s === undefined ? null : Number(r.sync_interval_s),
    status: r.status,
    lastError: r.last_error ?? null,
    pageCount: Number(r.page_count),
    chunkCount: Number(r.chunk_count),
    syncedAt: readTime(r.synced_at),
    nextSyncAt: readTime(r.next_sync_at),
    createdAt: readTime(r.created_at)!,
  };
}

function documentFrom(r: any): StoredDocument {
  return {
    id: r.id,
    url: r.url,
    title: r.title,
    etag: r.etag ?? null,
    lastModified: r.last_modified ?? null,
    contentHash: r.content_hash ?? null,
    status: r.status,
    skipReason: r.skip_reason ?? null,
    chunkCount: Number(r.chunk_count),
    links: readJson<string[]>(r.links, []),
  };
}

/** Syncs that stopped without saying so (a killed process) hold a source no longer than this. */
const SYNC_LEASE_MS = 10 * 60_000;

export class KnowledgeStore {
  private readonly fullText: ChunkSearch;

  constructor(private readonly db: Db) {
    this.fullText = new ChunkSearch(db);
  }

  async addSource(tenantId: string, s: { kind: SourceKind; location: string; maxPages: number; syncIntervalS: number | null }): Promise<KnowledgeSource> {
    const now = nowIso();
    const row = {
      id: newId(),
      tenant_id: tenantId,
      kind: s.kind,
      location: s.location,
      max_pages: s.maxPages,
      sync_interval_s: s.syncIntervalS,
      status: 'pending',
      created_at: now,
      updated_at: now,
    };
    await this.db.knex('knowledge_sources').insert(row);
    return sourceFrom({ ...row, page_count: 0, chunk_count: 0 });
  }

  async listSources(tenantId: string): Promise<KnowledgeSource[]> {
    const rows = await this.db.knex('knowledge_sources').where({ tenant_id: tenantId }).orderBy('created_at');
    return rows.map(sourceFrom);
  }

  async getSource(tenantId: string, id: string): Promise<KnowledgeSource | undefined> {
    const row = await this.db.knex('knowledge_sources').where({ tenant_id: tenantId, id }).first();
    return row ? sourceFrom(row) : undefined;
  }

  async findSource(tenantId: string, location: string): Promise<KnowledgeSource | undefined> {
    const row = await this.db.knex('knowledge_sources').where({ tenant_id: tenantId, location }).first();
    return row ? sourceFrom(row) : undefined;
  }

  /** Removes a source with its documents and chunks (the foreign keys cascade; on SQLite the FTS triggers follow). */
  async removeSource(tenantId: string, id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const k = knexOf(tx);
      const docs = k('knowledge_documents').select('id').where({ tenant_id: tenantId, source_id: id });
      await k('knowledge_chunks').where({ tenant_id: tenantId }).whereIn('document_id', docs).delete();
      await k('knowledge_documents').where({ tenant_id: tenantId, source_id: id }).delete();
      return (await k('knowledge_sources').where({ tenant_id: tenantId, id }).delete()) > 0;
    });
  }

  /**
   * Marks a source as being synced, unless another sync holds it (a second `zia knowledge sync` while a
   * scheduled one runs, or two workers): only one sync of a source runs at a time.
   */
  async claimSync(tenantId: string, id: string): Promise<boolean> {
    const staleBefore = new Date(Date.now() - SYNC_LEASE_MS).toISOString();
    const n = await this.db
      .knex('knowledge_sources')
      .where({ tenant_id: tenantId, id })
      .andWhere((q) => q.whereNot({ status: 'syncing' }).orWhere('updated_at', '<', staleBefore))
      .update({ status: 'syncing', updated_at: nowIso() });
    return n > 0;
  }

  async finishSync(
    tenantId: string,
    id: string,
    r: { status: 'ready' | 'failed'; lastError: string | null; nextSyncAt: string | null },
  ): Promise<KnowledgeSource | undefined> {
    const k = this.db.knex;
    const docs = await k('knowledge_documents')
      .where({ tenant_id: tenantId, source_id: id, status: 'indexed' })
      .select(k.raw('count(*) as n'), k.raw('coalesce(sum(chunk_count), 0) as c'))
      .first() as { n: number | string; c: number | string } | undefined;
    const now = nowIso();
    await k('knowledge_sources')
      .where({ tenant_id: tenantId, id })
      .update({
        status: r.status,
        last_error: r.lastError,
        page_count: Number(docs?.n ?? 0),
        chunk_count: Number(docs?.c ?? 0),
        synced_at: now,
        next_sync_at: r.nextSyncAt,
        updated_at: now,
      });
    return this.getSource(tenantId, id);
  }

  async documents(tenantId: string, sourceId: string): Promise<StoredDocument[]> {
    const rows = await this.db.knex('knowledge_documents').where({ tenant_id: tenantId, source_id: sourceId }).orderBy('url');
    return rows.map(documentFrom);
  }

  /** A document and its chunks replace what was stored for its URL, in one transaction. */
  async saveDocument(tenantId: string, sourceId: string, doc: DocumentInput, chunks: ChunkInput[], searchConfig: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const k = knexOf(tx);
      const existing = await k('knowledge_documents').select('id').where({ tenant_id: tenantId, source_id: sourceId, url: doc.url }).first();
      const id: string = existing?.id ?? newId();
      const row = {
        tenant_id: tenantId,
        source_id: sourceId,
        url: doc.url,
        title: doc.title,
        language: doc.language,
        etag: doc.etag,
        last_modified: doc.lastModified,
        content_hash: doc.contentHash,
        bytes: doc.bytes,
        status: doc.status,
        skip_reason: doc.skipReason,
        chunk_count: chunks.length,
        links: doc.links.length > 0 ? writeJson(doc.links) : null,
        fetched_at: nowIso(),
      };
      if (existing) {
        await k('knowledge_chunks').where({ tenant_id: tenantId, document_id: id }).delete();
        await k('knowledge_documents').where({ tenant_id: tenantId, id }).update(row);
      } else {
        await k('knowledge_documents').insert({ id, ...row });
      }
      const extra = chunkSearchColumns(this.db, searchConfig);
      const rows = chunks.map((c) => ({ tenant_id: tenantId, document_id: id, position: c.position, heading: c.heading, body: c.body, flagged: c.flagged, ...extra }));
      for (let i = 0; i < rows.length; i += 200) await k('knowledge_chunks').insert(rows.slice(i, i + 200));
    });
  }

  /**
   * Marks the passages that repeat word for word on `minPages` or more pages of a source (a shipping
   * box on every product page, a footer Readability kept) as boilerplate, and clears the mark from
   * those that no longer do. Boilerplate outranks the page that really answers, by sheer repetition.
   */
  async markBoilerplate(tenantId: string, sourceId: string, minPages: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      const k = knexOf(tx);
      const ofSource = k('knowledge_chunks as c')
        .join('knowledge_documents as d', 'd.id', 'c.document_id')
        .where({ 'c.tenant_id': tenantId, 'd.source_id': sourceId });
      const repeated = ofSource.clone().select('c.body').groupBy('c.body').havingRaw('count(distinct c.document_id) >= ?', [minPages]);
      const docs = k('knowledge_documents').select('id').where({ tenant_id: tenantId, source_id: sourceId });
      await k('knowledge_chunks').where({ tenant_id: tenantId }).whereIn('document_id', docs).update({ boilerplate: false });
      return k('knowledge_chunks').where({ tenant_id: tenantId }).whereIn('document_id', docs).whereIn('body', repeated).update({ boilerplate: true });
    });
  }

  /** An unchanged page (304, or the same bytes): only when it was checked changes. */
  async touchDocument(tenantId: string, documentId: string, validators: { etag: string | null; lastModified: string | null }): Promise<void> {
    await this.db
      .knex('knowledge_documents')
      .where({ tenant_id: tenantId, id: documentId })
      .update({ fetched_at: nowIso(), ...(validators.etag ? { etag: validators.etag } : {}), ...(validators.lastModified ? { last_modified: validators.lastModified } : {}) });
  }

  /** Documents that left the source (gone from the site or the sitemap) leave the index. */
  async removeDocuments(tenantId: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.transaction(async (tx) => {
      for (let i = 0; i < ids.length; i += 200) {
        const part = ids.slice(i, i + 200);
        await knexOf(tx)('knowledge_chunks').where({ tenant_id: tenantId }).whereIn('document_id', part).delete();
        await knexOf(tx)('knowledge_documents').where({ tenant_id: tenantId }).whereIn('id', part).delete();
      }
    });
  }

  /** Whether the tenant has anything to search (the model is offered search_knowledge only then). */
  async hasChunks(tenantId: string): Promise<boolean> {
    return Boolean(await this.db.knex('knowledge_chunks').select('id').where({ tenant_id: tenantId }).first());
  }

  /** The languages the tenant's documents are in (PostgreSQL parses a question in each). */
  async languages(tenantId: string): Promise<Array<string | null>> {
    const rows = await this.db.knex('knowledge_documents').distinct('language').where({ tenant_id: tenantId, status: 'indexed' });
    return rows.map((r: any) => r.language ?? null);
  }

  search(tenantId: string, s: { terms: readonly string[]; configs: readonly string[]; limit: number; includeFlagged?: boolean }): Promise<ChunkMatch[]> {
    return this.fullText.search({ tenantId, ...s });
  }

  /** Chunks by id with their document's title and URL, in the order of the ids given. */
  async chunks(tenantId: string, ids: readonly number[]): Promise<ChunkRow[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .knex('knowledge_chunks as c')
      .join('knowledge_documents as d', 'd.id', 'c.document_id')
      .join('knowledge_sources as s', 's.id', 'd.source_id')
      .select('c.id', 'c.document_id', 'd.source_id', 'c.heading', 'c.body', 'c.flagged', 'd.title', 'd.url', 's.kind')
      .where('c.tenant_id', tenantId)
      .whereIn('c.id', ids as number[]);
    const byId = new Map<number, ChunkRow>(
      rows.map((r: any) => [
        Number(r.id),
        { id: Number(r.id), documentId: r.document_id, sourceId: r.source_id, heading: r.heading, body: r.body, flagged: readBool(r.flagged), title: r.title, url: r.url, sourceKind: r.kind },
      ]),
    );
    return ids.map((id) => byId.get(id)).filter((r): r is ChunkRow => r !== undefined);
  }

  /** Chunks with no vector from this model yet (new, or made by another model). */
  async chunksToEmbed(tenantId: string, model: string, limit: number): Promise<Array<{ id: number; heading: string; body: string }>> {
    const rows = await this.db
      .knex('knowledge_chunks')
      .select('id', 'heading', 'body')
      .where({ tenant_id: tenantId })
      .andWhere((q) => q.whereNull('embedding_model').orWhereNot({ embedding_model: model }))
      .orderBy('id')
      .limit(limit);
    return rows.map((r: any) => ({ id: Number(r.id), heading: r.heading, body: r.body }));
  }

  async setEmbeddings(tenantId: string, model: string, vectors: ReadonlyArray<{ id: number; vector: Float32Array }>): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const v of vectors) {
        await knexOf(tx)('knowledge_chunks').where({ tenant_id: tenantId, id: v.id }).update({ embedding_model: model, embedding: writeVector(v.vector) });
      }
    });
  }

  /** What a cache of the tenant's vectors is valid for: any chunk added or removed changes it. */
  async vectorsVersion(tenantId: string, model: string): Promise<string> {
    const r = await this.db
      .knex('knowledge_chunks')
      .where({ tenant_id: tenantId, embedding_model: model })
      .select(this.db.knex.raw('count(*) as n'), this.db.knex.raw('max(id) as m'))
      .first() as { n: number | string; m: number | string | null } | undefined;
    return `${r?.n ?? 0}:${r?.m ?? 0}`;
  }

  /** Every vector of the tenant made by this model (flagged chunks left out). */
  async vectors(tenantId: string, model: string): Promise<{ ids: number[]; vectors: Float32Array[] }> {
    const ids: number[] = [];
    const vectors: Float32Array[] = [];
    const q = this.db.knex('knowledge_chunks').select('id', 'embedding').where({ tenant_id: tenantId, embedding_model: model }).whereRaw('not flagged and not boilerplate').orderBy('id');
    for await (const batch of this.db.iterate(q)) {
      for (const r of batch) {
        const v = readVector(r.embedding);
        if (!v) continue;
        ids.push(Number(r.id));
        vectors.push(v);
      }
    }
    return { ids, vectors };
  }
}
