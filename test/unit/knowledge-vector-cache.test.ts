import test from 'ava';
import { KnowledgeSearch } from '../../src/features/knowledge/knowledge-search.js';
import type { KnowledgeStore } from '../../src/features/knowledge/knowledge-store.js';
import type { Tenant } from '../../src/features/tenants/tenant-service.js';

/** A store with 10 passages of 4 floats per tenant, counting how often each tenant's vectors are read. */
function fakeStore() {
  const reads: string[] = [];
  const store = {
    hasChunks: async () => true,
    languages: async () => ['en'],
    search: async () => [],
    chunks: async () => [],
    vectorsVersion: async (tenantId: string) => `${tenantId}:10`,
    vectors: async (tenantId: string) => {
      reads.push(tenantId);
      return { ids: [...Array(10).keys()], vectors: [...Array(10)].map(() => Float32Array.from([1, 0, 0, 0])) };
    },
  };
  return { store: store as unknown as KnowledgeStore, reads };
}

const embedder = { model: 'm', embed: async (texts: readonly string[]) => texts.map(() => Float32Array.from([1, 0, 0, 0])) };
const tenant = (id: string) => ({ id, slug: id, settings: {} }) as unknown as Tenant;

test('tenant vectors stay in memory until a change, and only as many as the cap holds, least recently searched out first', async (t) => {
  const { store, reads } = fakeStore();
  // Room for two tenants' 40 floats each.
  const search = new KnowledgeSearch(store, embedder, 80);
  await search.search(tenant('A'), 'tents');
  await search.search(tenant('A'), 'tents');
  t.deepEqual(reads, ['A'], 'read once while unchanged');
  await search.search(tenant('B'), 'tents');
  await search.search(tenant('A'), 'tents');
  t.deepEqual(reads, ['A', 'B'], 'two tenants fit');
  await search.search(tenant('C'), 'tents');
  t.deepEqual(reads, ['A', 'B', 'C']);
  await search.search(tenant('A'), 'tents');
  t.deepEqual(reads, ['A', 'B', 'C'], 'A was searched more recently than B, so B left');
  await search.search(tenant('B'), 'tents');
  t.deepEqual(reads, ['A', 'B', 'C', 'B'], 'B is read again');
});
