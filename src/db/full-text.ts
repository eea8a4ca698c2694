import type { Db } from './create-db.js';

/**
 * Full-text search over knowledge chunks, the one place the two engines differ for it: SQLite's FTS5
 * (bm25, heading weighted twice the body, the tenant's id matched inside the index) and PostgreSQL's
 * stored tsvector (candidates by ts_rank, ordered by bm25; the question parsed in its own language or in
 * each of the tenant's). Terms are OR-ed: a customer's question rarely repeats a page's every word.
 */

export interface ChunkMatch {
  id: number;
  /** Higher is better, comparable only within one search. */
  rank: number;
}

export interface ChunkQuery {
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

/** What bm25 needs to know of one tenant's passages on PostgreSQL, and the state of them it was read from. */
interface TermStats {
  version: string;
  passages: number;
  avgLength: number;
  /** Passages holding each lexeme. */
  df: Map<string, number>;
}

/** Candidates PostgreSQL ranks by ts_rank before bm25 orders them. */
const PG_CANDIDATES = 100;
/** bm25's usual constants; a heading counts twice, as in the SQLite index. */
const K1 = 1.2;
const B = 0.75;
const HEADING_WEIGHT = 2;
/** Tenants whose word statistics one process keeps (a shop's vocabulary is some 10-20k words, 1-2 MB). */
const STATS_KEPT = 64;

export class ChunkSearch {
  private readonly stats = new Map<string, TermStats>();

  constructor(private readonly db: Db) {}

  async search(s: ChunkQuery): Promise<ChunkMatch[]> {
    const terms = s.terms.filter((t) => WORD.test(t));
    if (terms.length === 0) return [];
    const skip = s.includeFlagged ? ' and not c.boilerplate' : ' and not c.boilerplate and not c.flagged';
    if (this.db.dialect === 'sqlite') {
      const match = `tenant_id : "${s.tenantId.replace(/"/g, '')}" AND {heading body} : (${terms.map((t) => `"${t}"`).join(' OR ')})`;
      const rows = await this.db.knex.raw(
        `select c.id as id, bm25(knowledge_chunks_fts, 0.0, 2.0, 1.0) as score
           from knowledge_chunks_fts join knowledge_chunks c on c.id = knowledge_chunks_fts.rowid
          where knowledge_chunks_fts match ? and c.tenant_id = ?${skip}
          order by score limit ?`,
        [match, s.tenantId, s.limit],
      );
      return (rows as Array<{ id: number; score: number }>).map((r) => ({ id: Number(r.id), rank: -r.score }));
    }
    return this.pgSearch(s, terms, skip);
  }

  /**
   * PostgreSQL's ts_rank knows nothing of how rare a word is ("candle" on every page of a candle shop
   * weighs as much as "klarna"), so it only picks the candidates; bm25 orders them, with each word's
   * passage count from ts_stat (read once per change of the tenant's passages) and each candidate's
   * term frequencies read from its stored tsvector.
   */
  private async pgSearch(s: ChunkQuery, terms: string[], skip: string): Promise<ChunkMatch[]> {
    const k = this.db.knex;
    const configs = [...new Set(s.configs.filter((c) => CONFIG.test(c)))];
    if (configs.length === 0) configs.push('simple');
    const text = terms.join(' | ');
    const query = configs.map(() => `to_tsquery(?::regconfig, ?)`).join(' || ');
    const candidates = (
      await k.raw(
        `with q as (select (${query}) as query)
         select c.id as id, length(c.search) as len from knowledge_chunks c, q
          where c.tenant_id = ? and c.search @@ q.query${skip}
          order by ts_rank('{0.4, 0.4, 0.4, 1.0}', c.search, q.query, 1) desc, c.id limit ?`,
        [...configs.flatMap((c) => [c, text]), s.tenantId, PG_CANDIDATES],
      )
    ).rows as Array<{ id: string | number; len: number }>;
    if (candidates.length === 0) return [];
    const [stats, frequencies] = await Promise.all([
      this.termStats(s.tenantId),
      k.raw(
        `with q as (select array(select distinct u.lexeme from unnest(${configs.map(() => 'to_tsvector(?::regconfig, ?)').join(' || ')}) u) as lexemes)
         select c.id as id, u.lexeme as lexeme, u.weights as weights from knowledge_chunks c, q, unnest(c.search) u
          where c.id = any(?::bigint[]) and u.lexeme = any(q.lexemes)`,
        [...configs.flatMap((c) => [c, terms.join(' ')]), candidates.map((c) => Number(c.id))],
      ),
    ]);
    const score = new Map<number, number>();
    const length = new Map(candidates.map((c) => [Number(c.id), Number(c.len)]));
    for (const r of frequencies.rows as Array<{ id: string | number; lexeme: string; weights: string[] | string }>) {
      const id = Number(r.id);
      const weights = Array.isArray(r.weights) ? r.weights : String(r.weights).replace(/[{}]/g, '').split(',');
      const tf = weights.reduce((n, w) => n + (w === 'A' ? HEADING_WEIGHT : 1), 0);
      const df = stats.df.get(r.lexeme) ?? 1;
      const idf = Math.log(1 + (stats.passages - df + 0.5) / (df + 0.5));
      const norm = K1 * (1 - B + (B * (length.get(id) ?? stats.avgLength)) / stats.avgLength);
      score.set(id, (score.get(id) ?? 0) + (idf * tf * (K1 + 1)) / (tf + norm));
    }
    return candidates
      .map((c) => ({ id: Number(c.id), rank: score.get(Number(c.id)) ?? 0 }))
      .sort((a, b) => b.rank - a.rank || a.id - b.id)
      .slice(0, s.limit);
  }

  private async termStats(tenantId: string): Promise<TermStats> {
    const k = this.db.knex;
    const now = (await k.raw(`select count(*) as n, max(id) as m, avg(length(search)) as a from knowledge_chunks where tenant_id = ? and not boilerplate`, [tenantId])).rows[0] as {
      n: string | number;
      m: string | number | null;
      a: string | number | null;
    };
    const version = `${now.n}:${now.m}`;
    const kept = this.stats.get(tenantId);
    if (kept && kept.version === version) return kept;
    // ts_stat takes the text of a query; the id is a ULID, checked before it goes in.
    if (!/^[0-9A-Za-z]{26}$/.test(tenantId)) throw new Error('not a tenant id');
    const words = (await k.raw(`select word, ndoc from ts_stat('select search from knowledge_chunks where tenant_id = ''${tenantId}'' and not boilerplate')`)).rows as Array<{
      word: string;
      ndoc: number;
    }>;
    const stats: TermStats = { version, passages: Number(now.n), avgLength: Number(now.a ?? 1) || 1, df: new Map(words.map((w) => [w.word, Number(w.ndoc)])) };
    if (this.stats.size >= STATS_KEPT) this.stats.clear();
    this.stats.set(tenantId, stats);
    return stats;
  }
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
