// K1: knowledge retrieval quality and speed on a generated shop site (DESIGN.md §7).
import { loadConfig } from '../../src/config.js';
import { createServices, type Services } from '../../src/container.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import type { Tenant } from '../../src/features/tenants/tenant-service.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { bulkChunksText, shopQuestions, shopSite } from '../fixtures/shop-site.js';
import { startShopSite, type SiteServer } from '../helpers/shop-site-server.js';
import { benchDb } from './db.js';
import { ADMIN_KEY, fmt, percentile, SECRET_KEY, type Row } from './lib.js';

const CHUNKS_PER_TENANT = 10_000;

interface Indexed {
  services: Services;
  tenant: Tenant;
  pagesPerSecond: number;
  close(): Promise<void>;
}

/** A zia on a fresh database with the shop site crawled into tenant `nordlys`. */
async function indexed(dialect: 'sqlite' | 'pg', site: SiteServer, extraEnv: Record<string, string>): Promise<Indexed> {
  const db = await benchDb(dialect);
  const config = loadConfig({ ADMIN_KEY, ZIA_SECRET_KEY: SECRET_KEY, LOG_LEVEL: 'warn', ZIA_CATALOG_ALLOW_PRIVATE: 'true', ...db.env, ...extraEnv }, '/nonexistent');
  const services = createServices(config, createLogger('warn'));
  await migrateLatest(services.db);
  const tenant = await services.tenants.create({ slug: 'nordlys', name: 'Nordlys', settings: { locale: 'en-GB' } });
  const source = await services.knowledge.addUrl(tenant, { url: site.url, mode: 'crawl', syncHours: 0 });
  const started = performance.now();
  const report = await services.knowledge.sync(tenant, source.id);
  const seconds = (performance.now() - started) / 1000;
  if (report.error || report.indexed === 0) throw new Error(`the crawl failed: ${report.error ?? 'nothing indexed'}`);
  return {
    services,
    tenant,
    pagesPerSecond: report.indexed / seconds,
    async close() {
      await services.close();
      await db.drop();
    },
  };
}

/** Share of questions whose answering page is among the top 3 passages. */
async function recallAt3(x: Indexed, site: SiteServer): Promise<{ recall: number; misses: string[] }> {
  const questions = shopQuestions();
  let hits = 0;
  const misses: string[] = [];
  for (const q of questions) {
    const passages = await x.services.knowledgeSearch.search(x.tenant, q.question, { limit: 3 });
    if (passages.some((p) => p.url && new URL(p.url).pathname === q.answerPath)) hits++;
    else misses.push(`${q.question} → ${passages.map((p) => (p.url ? new URL(p.url).pathname : p.location)).join(', ')} (want ${q.answerPath})`);
  }
  void site;
  return { recall: hits / questions.length, misses };
}

/** Fills the tenant (and a second one) to CHUNKS_PER_TENANT passages, then times every question's search. */
async function searchLatency(x: Indexed): Promise<{ p95: number; p50: number }> {
  const other = await x.services.tenants.create({ slug: 'other', name: 'Other' });
  for (const [tenant, seed] of [[x.tenant, 1], [other, 2]] as const) {
    const have = (await x.services.knowledge.list(tenant)).reduce((n, s) => n + s.chunkCount, 0);
    const filler = bulkChunksText(CHUNKS_PER_TENANT - have, seed);
    for (let i = 0; i < filler.length; i += 500) {
      const part = filler.slice(i, i + 500);
      const body = part.map((c) => `## ${c.heading}\n\n${c.text}\n`).join('\n');
      await x.services.knowledge.addFile(tenant, { name: `filler-${i}.md`, body: Buffer.from(`# ${part[0]!.title}\n\n${body}`) });
    }
  }
  const questions = shopQuestions();
  for (const q of questions.slice(0, 10)) await x.services.knowledgeSearch.search(x.tenant, q.question);
  const times: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (const q of questions) {
      const t0 = performance.now();
      await x.services.knowledgeSearch.search(x.tenant, q.question);
      times.push(performance.now() - t0);
    }
  }
  return { p95: percentile(times, 95), p50: percentile(times, 50) };
}

export async function k1(dialect: 'sqlite' | 'pg'): Promise<Row[]> {
  const site = await startShopSite({ pages: shopSite(), sitemap: true });
  const fake = await new FakeOpenAI({ apiKey: 'bench' }).start();
  const rows: Row[] = [];
  try {
    const plain = await indexed(dialect, site, {});
    try {
      const { recall, misses } = await recallAt3(plain, site);
      if (process.env.ZIA_BENCH_VERBOSE) for (const m of misses) process.stderr.write(`  miss: ${m}\n`);
      rows.push({ id: 'K1', what: `recall@3, full text (${shopQuestions().length} questions, ${shopSite().length} pages)`, dialect, figure: fmt(recall, 3), baseline: '-', ratio: null, target: '≥ 0.85', pass: recall >= 0.85 });
      rows.push({ id: 'K1', what: 'indexing (crawl, extract, store)', dialect, figure: `${fmt(plain.pagesPerSecond, 1)} pages/s`, baseline: '-', ratio: null, target: '-', pass: true });
      const { p95, p50 } = await searchLatency(plain);
      rows.push({ id: 'K1', what: `search p95 at ${fmt(CHUNKS_PER_TENANT)} passages per tenant (p50 ${fmt(p50, 1)} ms)`, dialect, figure: `${fmt(p95, 1)} ms`, baseline: '-', ratio: p95 / 50, target: '≤ 50 ms', pass: p95 <= 50 });
    } finally {
      await plain.close();
    }
    const hybrid = await indexed(dialect, site, { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'bench', OPENAI_EMBEDDINGS_MODEL: 'stub-embedding' });
    try {
      const { recall, misses } = await recallAt3(hybrid, site);
      if (process.env.ZIA_BENCH_VERBOSE) for (const m of misses) process.stderr.write(`  hybrid miss: ${m}\n`);
      rows.push({ id: 'K1', what: 'recall@3, hybrid (full text + a deterministic local embedding stub)', dialect, figure: fmt(recall, 3), baseline: '-', ratio: null, target: '-', pass: true });
    } finally {
      await hybrid.close();
    }
  } finally {
    await fake.close();
    await site.close();
  }
  return rows;
}
