import type { Knex } from 'knex';
import type { Db } from '../../db/create-db.js';
import { readTime } from '../../db/dialect.js';
import { BadRequestError } from '../../errors.js';
import { ulidSchema } from '../../validation.js';
import { csvRow } from './csv.js';

/** Lead rows as operators see them (list, export). */
export interface LeadRow {
  id: string;
  tenant: string;
  name: string | null;
  email: string;
  whatsapp: string | null;
  source_channel: string;
  conversation_id: string | null;
  created_at: string;
}

export const LEAD_COLUMNS = ['id', 'tenant', 'name', 'email', 'whatsapp', 'source_channel', 'conversation_id', 'created_at'] as const;

export interface LeadFilter {
  /** undefined = every tenant (ADMIN_KEY only). */
  tenantId?: string;
  since?: string;
  until?: string;
}

/** Keyset cursor over (created_at, id): stable while new leads arrive, no OFFSET scans. */
export function encodeCursor(row: { created_at: string; id: string }): string {
  return Buffer.from(`${row.created_at}|${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  // Only what encodeCursor writes: a forged one would otherwise put any text or year into the query.
  const valid = createdAt !== undefined && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(createdAt) && createdAt >= '1970' && !Number.isNaN(Date.parse(createdAt));
  if (!valid || !ulidSchema.safeParse(id).success) throw new BadRequestError('invalid cursor');
  return { createdAt, id: id! };
}

/**
 * The read model for leads: report queries live here, apart from the write store, and only read.
 */
export class LeadReport {
  constructor(private readonly db: Db) {}

  private base(filter: LeadFilter): Knex.QueryBuilder {
    const q = this.db
      .knex('leads as l')
      .join('tenants as t', 't.id', 'l.tenant_id')
      .select('l.id', 't.slug as tenant', 'l.name', 'l.email', 'l.whatsapp', 'l.source_channel', 'l.conversation_id', 'l.created_at');
    if (filter.tenantId) q.where('l.tenant_id', filter.tenantId);
    if (filter.since) q.andWhere('l.created_at', '>=', filter.since);
    if (filter.until) q.andWhere('l.created_at', '<', filter.until);
    return q;
  }

  async page(filter: LeadFilter, limit: number, cursor?: string): Promise<{ leads: LeadRow[]; next_cursor: string | null }> {
    const q = this.base(filter);
    if (cursor) {
      const c = decodeCursor(cursor);
      q.andWhere((w) => w.where('l.created_at', '>', c.createdAt).orWhere((x) => x.where('l.created_at', c.createdAt).andWhere('l.id', '>', c.id)));
    }
    const rows = (await q.orderBy([{ column: 'l.created_at' }, { column: 'l.id' }]).limit(limit + 1)).map(toLead);
    const more = rows.length > limit;
    const leads = more ? rows.slice(0, limit) : rows;
    return { leads, next_cursor: more ? encodeCursor(leads[leads.length - 1]!) : null };
  }

  async count(filter: LeadFilter): Promise<number> {
    const q = this.db.knex('leads as l');
    if (filter.tenantId) q.where('l.tenant_id', filter.tenantId);
    if (filter.since) q.andWhere('l.created_at', '>=', filter.since);
    if (filter.until) q.andWhere('l.created_at', '<', filter.until);
    const r = await q.count({ n: '*' }).first();
    return Number((r as { n: unknown } | undefined)?.n ?? 0);
  }

  /** Every matching lead, oldest first, in batches, in constant memory. */
  async *batches(filter: LeadFilter): AsyncGenerator<LeadRow[]> {
    const q = this.base(filter).orderBy([{ column: 'l.created_at' }, { column: 'l.id' }]);
    for await (const rows of this.db.iterate(q)) yield rows.map(toLead);
  }

  /**
   * The export as text chunks (CSV with a header, or JSON lines). Lines are batched into ~64 KB chunks:
   * one write per row would make the export syscall-bound long before it is database-bound.
   */
  async *export(filter: LeadFilter, format: 'csv' | 'jsonl', onRow?: (n: number) => void): AsyncGenerator<string> {
    let buf = format === 'csv' ? csvRow([...LEAD_COLUMNS]) : '';
    let n = 0;
    for await (const leads of this.batches(filter)) {
      for (const lead of leads) buf += format === 'csv' ? csvRow(LEAD_COLUMNS.map((c) => lead[c])) : `${JSON.stringify(lead)}\n`;
      const before = n;
      n += leads.length;
      // Progress every thousand rows, as before batches.
      if (Math.floor(n / 1000) > Math.floor(before / 1000)) onRow?.(n);
      if (buf.length >= 65_536) {
        yield buf;
        buf = '';
      }
    }
    onRow?.(n);
    if (buf) yield buf;
  }
}

function toLead(r: Record<string, unknown>): LeadRow {
  return {
    id: r.id as string,
    tenant: r.tenant as string,
    name: (r.name as string | null) ?? null,
    email: r.email as string,
    whatsapp: (r.whatsapp as string | null) ?? null,
    source_channel: r.source_channel as string,
    conversation_id: (r.conversation_id as string | null) ?? null,
    created_at: readTime(r.created_at)!,
  };
}
