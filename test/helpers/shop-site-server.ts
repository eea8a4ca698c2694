import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SITE_ORIGIN, type SitePage } from '../fixtures/shop-site.js';

/**
 * The shop's website as a real web server on 127.0.0.1, for crawler tests: validators on every page
 * (a strong ETag from the body, a Last-Modified that moves when a page is changed), 304 answers to
 * conditional requests, robots.txt, a sitemap, HEAD, 404s, and a log of what was asked.
 */

export interface SiteServerOptions {
  pages: SitePage[];
  /** The body of /robots.txt; without it /robots.txt is a 404 (which allows everything). */
  robots?: string;
  /** Serve /sitemap.xml listing every page with its lastmod. */
  sitemap?: boolean;
  /** Fixed responses by path (PDFs, redirects, errors); they win over pages, robots and the sitemap. */
  extra?: Record<string, { status?: number; contentType: string; body: string | Buffer; headers?: Record<string, string> }>;
}

export interface SiteServer {
  /** The home page: `${origin}/`. */
  url: string;
  origin: string;
  /** Every request in order; `conditional` when it carried If-None-Match or If-Modified-Since. */
  requests: Array<{ path: string; conditional: boolean; status: number; userAgent: string }>;
  /** Changes (or adds) a page, or removes it when `html` is undefined so it answers 404. */
  setPage(path: string, html: string | undefined): void;
  close(): Promise<void>;
}

// Versions are dated from here, a minute apart per page and a day apart per change, whole seconds
// because HTTP dates have no finer grain.
const EPOCH_MS = Date.UTC(2025, 2, 3, 9, 0, 0);

interface Entry { html: string; slot: number; version: number; cached?: { body: Buffer; etag: string } }

export async function startShopSite(options: SiteServerOptions): Promise<SiteServer> {
  const pages = new Map<string, Entry>();
  // A path keeps its slot and counts its versions even while removed, so a page that comes back is newer.
  const history = new Map<string, { slot: number; version: number }>();
  const setPage = (path: string, html: string | undefined) => {
    if (html === undefined) {
      pages.delete(path);
      return;
    }
    const h = history.get(path);
    const next = h ? { slot: h.slot, version: h.version + 1 } : { slot: history.size, version: 0 };
    history.set(path, next);
    pages.set(path, { html, ...next });
  };
  for (const p of options.pages) setPage(p.path, p.html);

  let origin = '';
  const requests: SiteServer['requests'] = [];
  const lastModified = (e: Entry) => new Date(EPOCH_MS + e.slot * 60_000 + e.version * 86_400_000);
  const served = (e: Entry) => {
    if (!e.cached) {
      const body = Buffer.from(e.html.split(SITE_ORIGIN).join(origin), 'utf8');
      e.cached = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"` };
    }
    return e.cached;
  };

  const sitemapXml = () => {
    const urls = [...pages].map(([path, e]) => `  <url><loc>${origin}${encodeURI(path)}</loc><lastmod>${lastModified(e).toISOString()}</lastmod></url>`);
    return `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${urls.join('\n')}\n</urlset>\n`;
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '/';
    const conditional = req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined;
    const send = (status: number, headers: Record<string, string>, body?: string | Buffer) => {
      requests.push({ path: target, conditional, status, userAgent: req.headers['user-agent'] ?? '' });
      const buf = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
      if (buf) headers['content-length'] = String(buf.length);
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' || status === 304 ? undefined : buf);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }, 'Method not allowed\n');
    let path: string;
    try {
      path = decodeURIComponent(new URL(target, 'http://localhost').pathname);
    } catch {
      return send(400, { 'content-type': 'text/plain; charset=utf-8' }, 'Bad request\n');
    }
    const extra = options.extra?.[path];
    if (extra) return send(extra.status ?? 200, { 'content-type': extra.contentType, ...extra.headers }, extra.body);
    if (path === '/robots.txt' && options.robots !== undefined) return send(200, { 'content-type': 'text/plain; charset=utf-8' }, options.robots);
    if (path === '/sitemap.xml' && options.sitemap) return send(200, { 'content-type': 'application/xml; charset=utf-8' }, sitemapXml());
    const entry = pages.get(path);
    if (!entry) {
      if (!path.endsWith('/') && pages.has(`${path}/`)) return send(301, { location: `${path}/`, 'content-type': 'text/plain; charset=utf-8' }, 'Moved\n');
      return send(404, { 'content-type': 'text/html; charset=utf-8' }, '<!doctype html><html lang="en"><head><title>Page not found</title></head><body><h1>Page not found</h1></body></html>\n');
    }
    const { body, etag } = served(entry);
    const modified = lastModified(entry);
    const validators = { etag, 'last-modified': modified.toUTCString(), 'cache-control': 'no-cache' };
    if (notModified(req, etag, modified)) return send(304, validators);
    send(200, { 'content-type': 'text/html; charset=utf-8', ...validators }, body);
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: `${origin}/`,
    origin,
    requests,
    setPage,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    }),
  };
}

/** RFC 9110 §13.2.2: If-None-Match (weak comparison) decides when present; If-Modified-Since only otherwise. */
function notModified(req: IncomingMessage, etag: string, modified: Date): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    const tags = inm.split(',').map((t) => t.trim().replace(/^W\//, ''));
    return tags.includes('*') || tags.includes(etag);
  }
  const ims = req.headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && modified.getTime() <= since;
}
