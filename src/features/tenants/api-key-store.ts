import type { Db } from '../../db/create-db.js';
import { newId, nowIso, readTime } from '../../db/dialect.js';

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function fromRow(r: any): ApiKeyRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    prefix: r.prefix,
    createdAt: readTime(r.created_at)!,
    lastUsedAt: readTime(r.last_used_at),
    revokedAt: readTime(r.revoked_at),
  };
}

export class ApiKeyStore {
  constructor(private readonly db: Db) {}

  async insert(tenantId: string, key: { name: string; prefix: string; hash: string }): Promise<ApiKeyRecord> {
    const row = { id: newId(), tenant_id: tenantId, name: key.name, prefix: key.prefix, key_hash: key.hash, created_at: nowIso() };
    await this.db.knex('api_keys').insert(row);
    return fromRow(row);
  }

  async list(tenantId: string): Promise<ApiKeyRecord[]> {
    return (await this.db.knex('api_keys').where({ tenant_id: tenantId }).orderBy('created_at')).map(fromRow);
  }

  /** Active key by hash, for authentication; any tenant (the hash is the lookup). */
  async findActiveByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.db.knex('api_keys').where({ key_hash: hash }).whereNull('revoked_at').first();
    return r ? fromRow(r) : undefined;
  }

  async revoke(tenantId: string, idOrPrefix: string): Promise<boolean> {
    const n = await this.db
      .knex('api_keys')
      .where({ tenant_id: tenantId })
      .andWhere((q) => q.where({ id: idOrPrefix }).orWhere({ prefix: idOrPrefix }))
      .whereNull('revoked_at')
      .update({ revoked_at: nowIso() });
    return n > 0;
  }

  async touch(tenantId: string, id: string): Promise<void> {
    await this.db.knex('api_keys').where({ tenant_id: tenantId, id }).update({ last_used_at: nowIso() });
  }
}
