import type { Db } from './create-db.js';

/**
 * Full-text search over knowledge chunks, the one place the two engines differ for it: SQLite's FTS5
 * (bm25, heading weighted twice the body, the tenant's id matched inside the index) and PostgreSQL's
 * stored tsvector (ts_rank, headings weighted 'A', 2.5× the body; the question parsed in its own language
 * or in each of the tenant's). ts_rank does not weigh a word by its rarity as bm25 does: see
 * docs/performance.md (K1) for what that costs and what weighting it in SQL cost instead. Terms are
 * OR-ed: a customer's question rarely repeats a page's every word.
 */

export interface ChunkMatch {
  id: number;
  /** Higher is better, comparable only within one search. */
  rank: number;
}

export interface ChunkSearch {
  tenantId: string;
  /** Words only (letters and digits): queryTerms() makes them. */
  terms: readonly string[];
  /** PostgreSQL text search configurations to parse the terms with ('english', 'spanish', 'simple' …). */
  configs: readonly string[];
  limit: number;
  /** Chunks flagged as instructions to an AI are left out unless an operator asks to see them. */
  includeFlagged?: boolean;
}

const WORD = /^[\p{L}\p{N}]+$/u;
const CONFIG = /^[a-z_]+$/;

export async function searchChunks(db: Db, s: ChunkSearch): Promise<ChunkMatch[]> {
  const terms = s.terms.filter((t) => WORD.test(t));
  if (terms.length === 0) return [];
  const k = db.knex;
  const flagged = s.includeFlagged ? ' and not c.boilerplate' : ' and not c.boilerplate and not c.flagged';
  if (db.dialect === 'sqlite') {
    const match = `tenant_id : "${s.tenantId.replace(/"/g, '')}" AND {heading body} : (${terms.map((t) => `"${t}"`).join(' OR ')})`;
    const rows = await k.raw(
      `select c.id as id, bm25(knowledge_chunks_fts, 0.0, 2.0, 1.0) as score
         from knowledge_chunks_fts join knowledge_chunks c on c.id = knowledge_chunks_fts.rowid
        where knowledge_chunks_fts match ? and c.tenant_id = ?${flagged}
        order by score limit ?`,
      [match, s.tenantId, s.limit],
    );
    return (rows as Array<{ id: number; score: number }>).map((r) => ({ id: Number(r.id), rank: -r.score }));
  }
  const configs = [...new Set(s.configs.filter((c) => CONFIG.test(c)))];
  if (configs.length === 0) configs.push('simple');
  const text = terms.join(' | ');
  const query = configs.map(() => `to_tsquery(?::regconfig, ?)`).join(' || ');
  const res = await k.raw(
    `with q as (select (${query}) as query)
     select c.id as id, ts_rank('{0.4, 0.4, 0.4, 1.0}', c.search, q.query, 1) as rank from knowledge_chunks c, q
      where c.tenant_id = ? and c.search @@ q.query${flagged}
      order by rank desc, c.id limit ?`,
    [...configs.flatMap((c) => [c, text]), s.tenantId, s.limit],
  );
  return (res.rows as Array<{ id: string | number; rank: number }>).map((r) => ({ id: Number(r.id), rank: Number(r.rank) }));
}

/** What a chunk row needs beyond the common columns: PostgreSQL keeps the language its tsvector is built in. */
export function chunkSearchColumns(db: Db, config: string): Record<string, unknown> {
  return db.dialect === 'pg' ? { fts_config: CONFIG.test(config) ? config : 'simple' } : {};
}

/** float32 vectors as stored (a blob on SQLite, bytea on PostgreSQL). */
export function writeVector(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function readVector(value: unknown): Float32Array | undefined {
  if (!value) return undefined;
  const b = value as Buffer;
  // A copy: the driver's buffer may not start on a 4-byte boundary.
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}
