import { createHash, randomBytes } from 'node:crypto';
import { NotFoundError } from '../../errors.js';
import type { Principal } from '../../http/api.js';
import type { Logger } from '../../logger.js';
import type { ApiKeyRecord, ApiKeyStore } from './api-key-store.js';
import type { Tenant } from './tenant-service.js';

const KEY_FORMAT = /^zk_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$/;

/**
 * Keys scoped to one tenant: they open that tenant's leads, conversations, analytics and export and
 * nothing else. Only a SHA-256 of the key is stored (the key is 256 random bits, so a slow hash adds
 * nothing); the key itself is shown once, at creation.
 */
export class ApiKeyService {
  constructor(
    private readonly store: ApiKeyStore,
    private readonly logger: Logger,
  ) {}

  async create(tenant: Tenant, name: string): Promise<{ key: string; record: ApiKeyRecord }> {
    const prefix = randomBytes(5).toString('hex').slice(0, 8);
    const key = `zk_${prefix}_${randomBytes(32).toString('base64url')}`;
    const record = await this.store.insert(tenant.id, { name, prefix, hash: hashKey(key) });
    return { key, record };
  }

  list(tenant: Tenant): Promise<ApiKeyRecord[]> {
    return this.store.list(tenant.id);
  }

  async revoke(tenant: Tenant, idOrPrefix: string): Promise<void> {
    if (!(await this.store.revoke(tenant.id, idOrPrefix))) throw new NotFoundError(`no active key '${idOrPrefix}' for tenant '${tenant.slug}'`);
  }

  /** The authenticator's resolver: a principal for a valid, unrevoked key; undefined otherwise. */
  async resolve(key: string): Promise<Principal | undefined> {
    if (!KEY_FORMAT.test(key)) return undefined;
    const record = await this.store.findActiveByHash(hashKey(key));
    if (!record) return undefined;
    this.store.touch(record.tenantId, record.id).catch((err) => this.logger.warn({ err }, 'could not record key use'));
    return { kind: 'tenant-key', tenantId: record.tenantId, keyId: record.id };
  }
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
