import type { Tenant } from '../tenants/tenant-service.js';
import type { ActorKind, AuditFilter, AuditRecord, AuditStore } from './audit-store.js';

/** Who acted: the admin key, a key scoped to one tenant (an API Principal), or an operator at the CLI. */
export type AuditActor = { kind: 'admin' } | { kind: 'tenant-key'; tenantId: string; keyId: string } | { kind: 'cli'; user: string };

export interface AuditEntryInput {
  actor: AuditActor;
  /** What was done, as `<thing>.<past tense>`: tenant.updated, key.revoked, leads.exported … */
  action: string;
  /** The tenant acted on, as far as the caller knows it: the other half is looked up. */
  tenant?: { id?: string; slug?: string };
  /** The id or slug acted on. */
  target?: string;
  /** Names, ids and counts, never a setting's value or a secret. */
  details?: Record<string, unknown>;
  ip?: string;
  requestId?: string;
}

export interface AuditPage {
  entries: AuditRecord[];
  nextCursor: string | null;
}

type TenantLookup = { getById(id: string): Promise<Tenant>; find(slug: string): Promise<Tenant | undefined> };

/**
 * The audit log: who changed what, when and from where, for every write through the admin API and the
 * CLI and every export of personal data. Entries are only added; nothing here (or anywhere) changes one.
 */
export class AuditLog {
  constructor(private readonly deps: { store: AuditStore; tenants: TenantLookup }) {}

  async record(entry: AuditEntryInput): Promise<AuditRecord> {
    const tenant = await this.tenantOf(entry);
    const { kind, name } = actorName(entry.actor);
    return this.deps.store.insert(tenant.id, {
      tenantSlug: tenant.slug,
      actorKind: kind,
      actor: name,
      ip: entry.ip ?? null,
      requestId: entry.requestId ?? null,
      action: entry.action,
      target: entry.target ?? null,
      details: entry.details ?? {},
    });
  }

  /** Newest first, keyset-paged: `nextCursor` is the `before` of the next page. */
  async list(tenantId: string | undefined, filter: AuditFilter): Promise<AuditPage> {
    const rows = await this.deps.store.list(tenantId, { ...filter, limit: filter.limit + 1 });
    const page = rows.slice(0, filter.limit);
    return { entries: page, nextCursor: rows.length > filter.limit ? page[page.length - 1]!.id : null };
  }

  /** Both the id and the slug, so an entry still names its tenant after the tenant is deleted. */
  private async tenantOf(entry: AuditEntryInput): Promise<{ id: string | null; slug: string | null }> {
    const id = entry.tenant?.id ?? (entry.actor.kind === 'tenant-key' ? entry.actor.tenantId : undefined);
    const slug = entry.tenant?.slug;
    if (id !== undefined && slug !== undefined) return { id, slug };
    // A tenant gone already (or never there) is recorded with what the caller gave.
    if (id !== undefined) return { id, slug: await this.deps.tenants.getById(id).then((t) => t.slug, () => null) };
    if (slug !== undefined) return { id: (await this.deps.tenants.find(slug))?.id ?? null, slug };
    return { id: null, slug: null };
  }
}

function actorName(actor: AuditActor): { kind: ActorKind; name: string } {
  if (actor.kind === 'admin') return { kind: 'admin', name: 'admin' };
  if (actor.kind === 'tenant-key') return { kind: 'tenant-key', name: actor.keyId };
  return { kind: 'cli', name: `cli:${actor.user}` };
}

/** An entry as the API and `zia audit --json` show it. */
export function auditView(e: AuditRecord) {
  return {
    id: e.id,
    at: e.at,
    tenant_id: e.tenantId,
    tenant_slug: e.tenantSlug,
    actor_kind: e.actorKind,
    actor: e.actor,
    ip: e.ip,
    request_id: e.requestId,
    action: e.action,
    target: e.target,
    details: e.details,
  };
}
