import { gunzipSync } from 'node:zlib';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import robotsParserModule from 'robots-parser';

// robots-parser is CommonJS (module.exports = fn) but its types declare an ES default export, so under
// NodeNext the default import is typed as the module object although at run time it is the function.
const robotsParser = robotsParserModule as unknown as typeof robotsParserModule.default;

/**
 * What a site lets a crawler do (robots.txt), what it says it contains (sitemaps), and when two URLs are
 * the same page or the same site. Pure: the crawler fetches, these functions only read.
 */

export interface SiteRules {
  allowed(url: string): boolean;
  sitemaps: string[];
  crawlDelayS?: number;
}

export interface SitemapEntries {
  urls: Array<{ loc: string; lastmod?: string }>;
  sitemaps: string[];
}

const MAX_SITEMAP_BYTES = 10 * 1024 * 1024;
// The sitemap protocol's own limit per file; more is a broken or hostile file.
const MAX_SITEMAP_ENTRIES = 50_000;

/** `text` undefined (no robots.txt) allows everything. */
export function parseRobots(robotsUrl: string, text: string | undefined, userAgent: string): SiteRules {
  const robots = robotsParser(robotsUrl, text ?? '');
  const origin = new URL(robotsUrl);
  const sitemaps = robots
    .getSitemaps()
    .map((s) => canonicalUrl(new URL(s, robotsUrl).href))
    .filter((s): s is string => s !== undefined);
  const crawlDelayS = robots.getCrawlDelay(userAgent);
  return {
    sitemaps: [...new Set(sitemaps)],
    ...(crawlDelayS !== undefined && Number.isFinite(crawlDelayS) ? { crawlDelayS } : {}),
    allowed(url) {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        return false;
      }
      // The site's www and bare host (and http and https) share one robots.txt as far as the crawl goes.
      if (target.origin !== origin.origin && sameSite(target.href, origin.href)) target = new URL(target.pathname + target.search, origin);
      // robots-parser answers undefined for another site: these rules say nothing about it.
      return robots.isAllowed(target.href, userAgent) !== false;
    },
  };
}

/** A <urlset> or a <sitemapindex>, plain or gzipped; throws an Error saying what is wrong otherwise. */
export function parseSitemap(body: Buffer): SitemapEntries {
  let bytes = body;
  if (body[0] === 0x1f && body[1] === 0x8b) {
    try {
      bytes = gunzipSync(body, { maxOutputLength: MAX_SITEMAP_BYTES });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(code === 'ERR_BUFFER_TOO_LARGE' ? `the gzipped sitemap is larger than ${MAX_SITEMAP_BYTES / 1024 / 1024} MB unpacked` : `the gzipped sitemap could not be unpacked: ${(err as Error).message}`);
    }
  }
  const xml = bytes.toString('utf8').replace(/^\uFEFF/, '').trimStart();
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`the sitemap is not valid XML: ${valid.err.msg} (line ${valid.err.line})`);
  const doc = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, isArray: (name) => name === 'url' || name === 'sitemap' }).parse(xml) as Record<string, unknown>;
  const root = Object.keys(doc).find((k) => !k.startsWith('?'));
  const entries = (list: unknown): Array<{ loc: string; lastmod?: string }> =>
    (Array.isArray(list) ? list : [])
      .slice(0, MAX_SITEMAP_ENTRIES)
      .map((e: Record<string, unknown>) => ({ loc: text(e?.loc), lastmod: text(e?.lastmod) }))
      .filter((e) => e.loc)
      .map((e) => (e.lastmod ? e : { loc: e.loc }));
  if (root === 'urlset') return { urls: entries((doc.urlset as Record<string, unknown>)?.url), sitemaps: [] };
  if (root === 'sitemapindex') return { urls: [], sitemaps: entries((doc.sitemapindex as Record<string, unknown>)?.sitemap).map((e) => e.loc) };
  throw new Error(`not a sitemap: the root element is <${root ?? 'nothing'}>, expected <urlset> or <sitemapindex>`);
}

const text = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v).trim() : '');

/** Same host, ignoring the scheme and a leading "www." — the pages a crawl of one site may follow. */
export function sameSite(a: string, b: string): boolean {
  const host = (raw: string): string | undefined => {
    try {
      const u = new URL(raw);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.host.replace(/^www\./, '') : undefined;
    } catch {
      return undefined;
    }
  };
  const ha = host(a);
  return ha !== undefined && ha === host(b);
}

/** The form a URL is stored and compared in: http(s) only, no fragment, no default port, lower-case host. */
export function canonicalUrl(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  u.hash = '';
  if (u.search === '') u.search = ''; // drops a bare trailing "?"
  return u.href;
}
