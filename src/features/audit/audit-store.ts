import type { Db } from '../../db/create-db.js';
import { newId, nowIso, readJson, readTime, writeJson } from '../../db/dialect.js';

export type ActorKind = 'admin' | 'tenant-key' | 'cli';

export interface AuditRecord {
  id: string;
  at: string;
  tenantId: string | null;
  tenantSlug: string | null;
  actorKind: ActorKind;
  actor: string;
  ip: string | null;
  requestId: string | null;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

export type AuditRow = Omit<AuditRecord, 'id' | 'at' | 'tenantId'>;

/** Which entries a list shows: one tenant (by id, or by slug for a tenant since deleted) or all. */
export interface AuditFilter {
  tenantSlug?: string;
  since?: string;
  /** Entries older than this one (the previous page's next_cursor). */
  before?: string;
  limit: number;
}

function fromRow(r: any): AuditRecord {
  return {
    id: r.id,
    at: readTime(r.at)!,
    tenantId: r.tenant_id ?? null,
    tenantSlug: r.tenant_slug ?? null,
    actorKind: r.actor_kind,
    actor: r.actor,
    ip: r.ip ?? null,
    requestId: r.request_id ?? null,
    action: r.action,
    target: r.target ?? null,
    details: readJson(r.details, {}),
  };
}

/** The audit_log table: rows are only ever added (the database refuses changes, see the migration). */
export class AuditStore {
  constructor(private readonly db: Db) {}

  async insert(tenantId: string | null, row: AuditRow): Promise<AuditRecord> {
    const record: AuditRecord = { id: newId(), at: nowIso(), tenantId, ...row };
    await this.db.knex('audit_log').insert({
      id: record.id,
      at: record.at,
      tenant_id: tenantId,
      tenant_slug: row.tenantSlug,
      actor_kind: row.actorKind,
      actor: row.actor,
      ip: row.ip,
      request_id: row.requestId,
      action: row.action,
      target: row.target,
      details: writeJson(row.details),
    });
    return record;
  }

  /** Newest first; `tenantId` undefined lists every tenant's entries (and those of no tenant). */
  async list(tenantId: string | undefined, filter: AuditFilter): Promise<AuditRecord[]> {
    const q = this.db.knex('audit_log').orderBy('id', 'desc').limit(filter.limit);
    if (tenantId !== undefined) q.where('tenant_id', tenantId);
    if (filter.tenantSlug !== undefined) q.where('tenant_slug', filter.tenantSlug);
    if (filter.since !== undefined) q.where('at', '>=', filter.since);
    if (filter.before !== undefined) q.where('id', '<', filter.before.toUpperCase());
    return (await q).map(fromRow);
  }
}
