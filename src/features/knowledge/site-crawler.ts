import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FetchRefusedError, type SafeResponse } from '../../net/safe-fetch.js';
import { chunkSections, type Chunk } from './chunk-text.js';
import { extractDocument, UnsupportedDocumentError, type ExtractedDocument } from './extract-document.js';
import type { SiteRules } from './site-rules.js';

/** robots.txt and sitemap parsing, loaded when a sync first runs rather than at every start. */
const siteRules = () => import('./site-rules.js');

/**
 * Walks what a source names — one page, the pages a sitemap lists, or a site from a start page — one
 * request at a time, within the source's page budget, as robots.txt allows, and says what became of
 * each page. Pages it has seen before are asked for conditionally (ETag, Last-Modified), so an
 * unchanged page costs a 304.
 */

export const USER_AGENT = 'zia-knowledge';

export interface KnownPage {
  id: string;
  url: string;
  etag: string | null;
  lastModified: string | null;
  contentHash: string | null;
  /** Where the page linked to when it was last read. */
  links: string[];
}

export type PageOutcome =
  | { kind: 'indexed'; url: string; extracted: ExtractedDocument; chunks: Chunk[]; etag: string | null; lastModified: string | null; contentHash: string; bytes: number }
  | { kind: 'unchanged'; url: string; known: KnownPage; etag: string | null; lastModified: string | null }
  | { kind: 'skipped'; url: string; reason: string }
  /** Gone from the site (404, 410): its copy leaves the index. */
  | { kind: 'gone'; url: string }
  /** Could not be read this time (5xx, network): the copy from the last sync stays. */
  | { kind: 'failed'; url: string; reason: string };

export interface CrawlPlan {
  kind: 'page' | 'sitemap' | 'crawl';
  start: string;
  /** Page requests this sync may make. */
  maxPages: number;
  maxPageBytes: number;
  known: ReadonlyMap<string, KnownPage>;
}

/** Fetches one URL under the SSRF rules (safeFetch with the deployment's rules). */
export type PageFetcher = (url: string, options: { headers: Record<string, string>; maxBytes: number; passStatuses: readonly number[]; accept: string }) => Promise<SafeResponse>;

/** A sync that cannot start (robots.txt unreadable, sitemap invalid): nothing changes in the index. */
export class CrawlError extends Error {}

const MAX_SITEMAPS = 50;
const MAX_CRAWL_DELAY_S = 10;
const HTML_ACCEPT = 'text/html,application/xhtml+xml,text/markdown;q=0.9,text/plain;q=0.8,application/pdf;q=0.8';

export async function* crawl(plan: CrawlPlan, fetch: PageFetcher): AsyncGenerator<PageOutcome> {
  const { canonicalUrl, sameSite } = await siteRules();
  const start = canonicalUrl(plan.start);
  if (!start) throw new CrawlError(`${plan.start} is not an http(s) URL`);
  const rules = await robots(start, fetch);
  const delayMs = Math.min(rules.crawlDelayS ?? 0, MAX_CRAWL_DELAY_S) * 1000;
  const queue = plan.kind === 'sitemap' ? await sitemapUrls(start, fetch, plan.maxPages * 4) : [start];
  const seen = new Set(queue);
  let requests = 0;
  while (queue.length > 0 && requests < plan.maxPages) {
    const url = queue.shift()!;
    if (!sameSite(url, start)) {
      yield { kind: 'skipped', url, reason: 'on another site' };
      continue;
    }
    if (!rules.allowed(url)) {
      yield { kind: 'skipped', url, reason: 'disallowed by robots.txt' };
      continue;
    }
    if (requests > 0 && delayMs > 0) await sleep(delayMs);
    requests++;
    const outcome = await fetchPage(url, plan, fetch, sameSite);
    const links = outcome.kind === 'indexed' ? outcome.extracted.links : outcome.kind === 'unchanged' ? outcome.known.links : [];
    if (plan.kind === 'crawl') {
      for (const link of links) {
        const next = canonicalUrl(link);
        if (next && !seen.has(next) && sameSite(next, start)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    yield outcome;
  }
}

async function fetchPage(url: string, plan: CrawlPlan, fetch: PageFetcher, sameSite: (a: string, b: string) => boolean): Promise<PageOutcome> {
  const known = plan.known.get(url);
  const headers: Record<string, string> = {};
  if (known?.etag) headers['if-none-match'] = known.etag;
  if (known?.lastModified) headers['if-modified-since'] = known.lastModified;
  let res: SafeResponse;
  try {
    res = await fetch(url, { headers, maxBytes: plan.maxPageBytes, passStatuses: [304, 404, 410], accept: HTML_ACCEPT });
  } catch (err) {
    if (err instanceof FetchRefusedError) {
      // Refused by policy or too big: the page is not taken (and an old copy goes). Unreachable: kept.
      if (['too_large', 'address_forbidden', 'scheme_forbidden', 'credentials_forbidden', 'too_many_redirects', 'invalid_url'].includes(err.reason)) {
        return { kind: 'skipped', url, reason: err.message };
      }
      return { kind: 'failed', url, reason: err.message };
    }
    throw err;
  }
  const etag = header(res, 'etag');
  const lastModified = header(res, 'last-modified');
  if (res.status === 304 && known) return { kind: 'unchanged', url, known, etag: etag ?? known.etag, lastModified: lastModified ?? known.lastModified };
  if (res.status === 404 || res.status === 410) return { kind: 'gone', url };
  if (res.status === 304) return { kind: 'failed', url, reason: 'answered 304 to a request that was not conditional' };
  if (!sameSite(res.url, url)) return { kind: 'skipped', url, reason: `redirected to another site (${new URL(res.url).host})` };
  const contentHash = bodyHash(res.body);
  if (known && known.contentHash === contentHash) return { kind: 'unchanged', url, known, etag, lastModified };
  let extracted: ExtractedDocument;
  try {
    extracted = await extractDocument({ body: res.body, contentType: header(res, 'content-type') ?? undefined, url: res.url });
  } catch (err) {
    if (err instanceof UnsupportedDocumentError) return { kind: 'skipped', url, reason: err.message };
    throw err;
  }
  if (extracted.noindex) return { kind: 'skipped', url, reason: 'the page asks not to be indexed (noindex)' };
  const chunks = chunkSections(extracted.sections);
  if (chunks.length === 0) return { kind: 'skipped', url, reason: 'no text found' };
  return { kind: 'indexed', url, extracted, chunks, etag, lastModified, contentHash, bytes: res.body.length };
}

/** What tells a page's new bytes from its last ones (and an uploaded file's). */
export function bodyHash(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

function header(res: SafeResponse, name: string): string | null {
  const v = res.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? null;
}

/** RFC 9309: no robots.txt (4xx) allows everything; one that cannot be read (5xx, network) allows nothing. */
async function robots(start: string, fetch: PageFetcher): Promise<SiteRules> {
  const { parseRobots } = await siteRules();
  const robotsUrl = new URL('/robots.txt', start).toString();
  try {
    const res = await fetch(robotsUrl, { headers: {}, maxBytes: 512 * 1024, passStatuses: [400, 401, 403, 404, 410], accept: 'text/plain' });
    return parseRobots(robotsUrl, res.status === 200 ? res.body.toString('utf8') : undefined, USER_AGENT);
  } catch (err) {
    if (err instanceof FetchRefusedError && err.reason === 'too_large') return parseRobots(robotsUrl, undefined, USER_AGENT);
    throw new CrawlError(`robots.txt could not be read (${(err as Error).message}); nothing was fetched`);
  }
}

/** The pages a sitemap lists, following a sitemap index one level deep at a time, up to `limit`. */
async function sitemapUrls(start: string, fetch: PageFetcher, limit: number): Promise<string[]> {
  const { canonicalUrl, parseSitemap, sameSite } = await siteRules();
  const urls = new Set<string>();
  const pending = [start];
  const done = new Set<string>();
  while (pending.length > 0 && done.size < MAX_SITEMAPS && urls.size < limit) {
    const next = pending.shift()!;
    if (done.has(next)) continue;
    done.add(next);
    let res: SafeResponse;
    try {
      res = await fetch(next, { headers: {}, maxBytes: 10 * 1024 * 1024, passStatuses: [], accept: 'application/xml,text/xml' });
    } catch (err) {
      throw new CrawlError(`sitemap ${next} could not be read: ${(err as Error).message}`);
    }
    let parsed: ReturnType<typeof parseSitemap>;
    try {
      parsed = parseSitemap(res.body);
    } catch (err) {
      throw new CrawlError(`sitemap ${next} is not a valid sitemap: ${(err as Error).message}`);
    }
    for (const s of parsed.sitemaps) {
      const c = canonicalUrl(s);
      if (c && sameSite(c, start)) pending.push(c);
    }
    for (const u of parsed.urls) {
      const c = canonicalUrl(u.loc);
      if (c) urls.add(c);
    }
  }
  return [...urls].slice(0, limit);
}
