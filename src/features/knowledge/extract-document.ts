import type * as ReadabilityModule from '@mozilla/readability';
import type * as LinkedomModule from 'linkedom';

/**
 * The HTML and PDF libraries, loaded when a document of their kind first arrives: `zia serve` and every
 * command start without them (linkedom alone adds 0.3 s and 25 MB to a start).
 */
interface HtmlLibraries {
  parseHTML: typeof LinkedomModule.parseHTML;
  Readability: typeof ReadabilityModule.Readability;
  isProbablyReaderable: typeof ReadabilityModule.isProbablyReaderable;
}
async function htmlLibraries(): Promise<HtmlLibraries> {
  const [{ parseHTML }, { Readability, isProbablyReaderable }] = await Promise.all([import('linkedom'), import('@mozilla/readability')]);
  return { parseHTML, Readability, isProbablyReaderable };
}

/**
 * Turns one fetched page or uploaded file into a title, text sections under their heading paths, and the
 * links a crawl may follow. Pure: no I/O, no state; never throws on malformed HTML or Markdown.
 */

export type DocumentFormat = 'html' | 'markdown' | 'text' | 'pdf';

/** `heading` is the heading path, e.g. "Shipping › International" ('' before the first heading). */
export interface Section {
  heading: string;
  text: string;
}

export interface ExtractedDocument {
  format: DocumentFormat;
  title: string;
  sections: Section[];
  links: string[];
  language?: string;
  /** The page asks not to be indexed (meta robots noindex): sections is empty. */
  noindex?: boolean;
}

export class UnsupportedDocumentError extends Error {
  override name = 'UnsupportedDocumentError';
}

const BY_TYPE: Record<string, DocumentFormat> = { 'text/html': 'html', 'application/xhtml+xml': 'html', 'text/markdown': 'markdown', 'text/x-markdown': 'markdown', 'text/plain': 'text', 'application/pdf': 'pdf' };
const BY_EXTENSION: Record<string, DocumentFormat> = { html: 'html', htm: 'html', xhtml: 'html', md: 'markdown', markdown: 'markdown', txt: 'text', pdf: 'pdf' };
// Types that say nothing about the bytes, so the file name and the bytes themselves decide.
const GENERIC_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream', 'application/unknown', 'application/x-download', 'application/force-download']);
const ACCEPTED = 'accepted are HTML, Markdown (.md), plain text (.txt) and PDF';
const HEADING_JOIN = ' › ';

export function detectFormat(input: { contentType?: string; fileName?: string; body: Buffer }): DocumentFormat {
  const type = (input.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const ext = /\.([a-z0-9]+)$/i.exec(input.fileName ?? '')?.[1]?.toLowerCase();
  const byExt = ext ? BY_EXTENSION[ext] : undefined;
  const named = input.fileName ? ` (${input.fileName})` : '';
  // Browsers label a .md upload text/plain more often than text/markdown; the extension knows better.
  if (BY_TYPE[type] === 'text' && byExt === 'markdown') return 'markdown';
  if (BY_TYPE[type]) return BY_TYPE[type];
  if (!GENERIC_TYPES.has(type)) throw new UnsupportedDocumentError(`Unsupported document type ${type}${named}; ${ACCEPTED}`);
  if (byExt) return byExt;
  const sniffed = sniff(input.body);
  if (sniffed) return sniffed;
  throw new UnsupportedDocumentError(`Unsupported document type ${ext ? `.${ext}` : 'binary data'}${named}; ${ACCEPTED}`);
}

export async function extractDocument(input: { body: Buffer; contentType?: string; fileName?: string; url?: string }): Promise<ExtractedDocument> {
  const format = detectFormat(input);
  const charset = charsetParam(input.contentType);
  switch (format) {
    case 'pdf':
      return extractPdf(input.body, input.fileName);
    case 'html':
      return extractHtml(decodeText(input.body, charset ?? metaCharset(input.body)), input.url, input.fileName, await htmlLibraries());
    case 'markdown':
      return extractMarkdown(decodeText(input.body, charset), input.fileName);
    case 'text':
      return extractPlainText(decodeText(input.body, charset), input.fileName);
  }
}

function sniff(body: Buffer): DocumentFormat | undefined {
  const head = body.subarray(0, 1024);
  if (head.includes('%PDF-')) return 'pdf';
  const start = head.toString('utf8').replace(/^\uFEFF/, '').trimStart().slice(0, 20).toLowerCase();
  if (start.startsWith('<!doctype html') || start.startsWith('<html')) return 'html';
  // Control bytes (NUL, the PNG/ZIP/JPEG magic) mean binary; anything else reads as text.
  if (head.length > 0 && !/[\x00-\x08\x0E-\x1A\x1C-\x1F]/.test(head.toString('latin1'))) return 'text';
  return undefined;
}

function charsetParam(contentType: string | undefined): string | undefined {
  return /;\s*charset\s*=\s*"?([\w.:-]+)/i.exec(contentType ?? '')?.[1];
}

function metaCharset(body: Buffer): string | undefined {
  return /<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)/i.exec(body.subarray(0, 4096).toString('latin1'))?.[1];
}

// WHATWG windows-1252 for 0x80–0x9F. Node 20.18.3+ decodes that label as ISO-8859-1 and leaves these
// bytes as C1 controls (nodejs/node#56542), which loses €, smart quotes and dashes.
const CP1252_C1 = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ';

function decode(label: string, body: Buffer, fatal = false): string {
  const decoder = new TextDecoder(label, { fatal });
  const text = decoder.decode(body);
  return decoder.encoding === 'windows-1252' ? text.replace(/[\u0080-\u009F]/g, (c) => CP1252_C1[c.charCodeAt(0) - 0x80]!) : text;
}

const BOMS: Array<[number[], string]> = [[[0xef, 0xbb, 0xbf], 'utf-8'], [[0xff, 0xfe], 'utf-16le'], [[0xfe, 0xff], 'utf-16be']];

/** A BOM wins, then a declared charset we know; undeclared bytes that are not UTF-8 are read as windows-1252. */
function decodeText(body: Buffer, declared: string | undefined): string {
  const bom = BOMS.find(([bytes]) => bytes.every((b, i) => body[i] === b))?.[1];
  if (bom) return decode(bom, body);
  const asDeclared = declared ? attempt(() => decode(declared, body)) : undefined;
  return asDeclared ?? attempt(() => decode('utf-8', body, true)) ?? decode('windows-1252', body);
}

/** The value, or undefined where computing it throws (a bad URL, an unknown charset label, bad escapes). */
function attempt<T>(compute: () => T): T | undefined {
  try {
    return compute();
  } catch {
    return undefined;
  }
}

const collapse = (s: string | null | undefined): string => (s ?? '').replace(/\s+/g, ' ').trim();
const baseName = (fileName: string | undefined): string => (fileName ?? '').replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, '');

function primaryLanguage(tag: unknown): string | undefined {
  const primary = typeof tag === 'string' ? tag.trim().split(/[-_]/)[0]!.toLowerCase() : '';
  return /^[a-z]{2,3}$/.test(primary) ? primary : undefined;
}

const withLanguage = (doc: ExtractedDocument, language: string | undefined): ExtractedDocument => (language ? { ...doc, language } : doc);

/** Collects sections from blocks of text and headings in document order, keeping the heading path as a stack. */
class SectionBuilder {
  readonly sections: Section[] = [];
  private stack: Array<{ level: number; text: string }> = [];
  private paragraphs: string[] = [];

  heading(level: number, text: string): void {
    this.close();
    while (this.stack.length > 0 && this.stack.at(-1)!.level >= level) this.stack.pop();
    this.stack.push({ level, text });
  }

  paragraph(text: string): void {
    const t = collapse(text);
    if (t) this.paragraphs.push(t);
  }

  close(): Section[] {
    if (this.paragraphs.length > 0) this.sections.push({ heading: this.stack.map((h) => h.text).join(HEADING_JOIN), text: this.paragraphs.join('\n') });
    this.paragraphs = [];
    return this.sections;
  }
}

// ─── HTML ────────────────────────────────────────────────────────────────────────────────────────────

const MIN_MAIN_CHARS = 250;
// Below this the page says next to nothing outside its header and footer (a contact page that is just a form).
const NEARLY_EMPTY_CHARS = 120;
const NEVER_TEXT = new Set(['script', 'style', 'noscript', 'template', 'svg', 'iframe', 'object', 'embed', 'canvas', 'select', 'textarea', 'head', 'title']);
const BLOCKS = new Set(['address', 'article', 'aside', 'blockquote', 'body', 'caption', 'center', 'dd', 'details', 'div', 'dl', 'dt', 'fieldset', 'figcaption', 'figure', 'footer', 'form', 'header', 'hr', 'li', 'main', 'nav', 'ol', 'p', 'pre', 'section', 'summary', 'table', 'tbody', 'tfoot', 'thead', 'ul']);
const BOILERPLATE = 'nav, header, footer, form';
const LEVEL_ATTR = 'data-zia-level';

function extractHtml(html: string, url: string | undefined, fileName: string | undefined, libs: HtmlLibraries): ExtractedDocument {
  const document = parsePage(html, libs);
  const robots = new Set<string>();
  for (const meta of Array.from(document.querySelectorAll('meta[name][content]'))) {
    if (meta.getAttribute('name')!.trim().toLowerCase() === 'robots') for (const d of meta.getAttribute('content')!.toLowerCase().split(/[\s,]+/)) robots.add(d);
  }
  const noindex = robots.has('noindex') || robots.has('none');
  const links = robots.has('nofollow') || robots.has('none') ? [] : pageLinks(document, url);
  const doc: ExtractedDocument = { format: 'html', title: pageTitle(document, url, fileName), sections: noindex ? [] : sectionsOf(mainContent(document, libs)), links };
  return withLanguage(noindex ? { ...doc, noindex } : doc, primaryLanguage(document.documentElement.getAttribute('lang')));
}

/**
 * linkedom builds no implied html/head/body and drops a second root element, so the markup goes inside a
 * fixed skeleton and the page's own html/head/body elements are unwrapped into it afterwards.
 */
function parsePage(html: string, { parseHTML }: HtmlLibraries): Document {
  // A stray </body> or </html> would close the skeleton itself and strand what follows outside the body.
  const inner = html.replace(/<\/(?:body|html)\s*>/gi, '');
  const document = parseHTML(`<!doctype html><html><head></head><body>${inner}</body></html>`).document as unknown as Document;
  for (const el of Array.from(document.body.querySelectorAll('html, head, body'))) {
    if (el.localName === 'head') {
      document.head.append(...Array.from(el.childNodes));
      el.remove();
      continue;
    }
    const target = el.localName === 'html' ? document.documentElement : document.body;
    for (const attr of Array.from(el.attributes)) if (!target.hasAttribute(attr.name)) target.setAttribute(attr.name, attr.value);
    el.replaceWith(...Array.from(el.childNodes));
  }
  return document;
}

function pageTitle(document: Document, url: string | undefined, fileName: string | undefined): string {
  const title = collapse(Array.from(document.querySelectorAll('title')).find((t) => !t.closest('svg'))?.textContent);
  // "Shipping | Candle Shop" → "Shipping": the site name repeats on every page and says nothing.
  const page = /^(.*\S)\s+(?:\||-|–|—|·|•|::)\s+\S.*$/.exec(title)?.[1] ?? title;
  if (page) return page;
  const h1 = collapse(document.querySelector('h1')?.textContent);
  if (h1) return h1;
  const u = url ? attempt(() => new URL(url)) : undefined;
  const path = u ? (attempt(() => decodeURIComponent(u.pathname)) ?? u.pathname).replace(/^\/+|\/+$/g, '') || u.hostname : '';
  if (path) return path;
  return baseName(fileName);
}

function pageLinks(document: Document, url: string | undefined): string[] {
  const baseHref = document.querySelector('base[href]')?.getAttribute('href');
  // A broken <base> is ignored, as browsers do.
  const base = (baseHref ? attempt(() => new URL(baseHref.trim(), url).href) : undefined) ?? url;
  const links = new Set<string>();
  for (const a of Array.from(document.querySelectorAll('a[href]'))) {
    const href = a.getAttribute('href')!.trim();
    if (!href || href.startsWith('#') || /(^|\s)nofollow(\s|$)/i.test(a.getAttribute('rel') ?? '')) continue;
    const u = attempt(() => new URL(href, base));
    if (u?.protocol !== 'http:' && u?.protocol !== 'https:') continue; // mailto:, tel:, javascript:, unresolvable
    u.hash = '';
    links.add(u.href);
  }
  return [...links];
}

/**
 * Readability's article when it found one; otherwise the body without boilerplate, and if even that is
 * nearly empty, the body with its header and footer (contact pages keep the address and hours there).
 */
function mainContent(document: Document, libs: HtmlLibraries): Element {
  // Readability may give up on odd markup; the fallbacks below still read it.
  const article = attempt(() => readableArticle(document, libs));
  if (article) return article;
  const stripped = document.body.cloneNode(true) as Element;
  for (const el of Array.from(stripped.querySelectorAll(BOILERPLATE))) el.remove();
  if (collapse(stripped.textContent).length >= NEARLY_EMPTY_CHARS) return stripped;
  const whole = document.body.cloneNode(true) as Element;
  for (const el of Array.from(whole.querySelectorAll('nav, form'))) el.remove();
  return whole;
}

function readableArticle(document: Document, { Readability, isProbablyReaderable }: HtmlLibraries): Element | undefined {
  // On a page that is no article Readability retries with looser settings several times, the slowest path here.
  if (!isProbablyReaderable(document)) return undefined;
  const clone = document.cloneNode(true) as Document;
  // Site chrome is never the article, yet on a page that is mostly links (a product list) Readability picks the footer.
  for (const el of Array.from(clone.querySelectorAll('header, footer, nav'))) if (!el.parentElement?.closest('main, article, [role=main]')) el.remove();
  // Readability renames h1 to h2; the walker reads the page's own level from here.
  for (const h of Array.from(clone.querySelectorAll('h1, h2, h3, h4, h5, h6'))) h.setAttribute(LEVEL_ATTR, h.localName.slice(1));
  const article = new Readability<Element>(clone, { serializer: (node) => node as Element }).parse();
  return article?.content && collapse(article.textContent).length >= MIN_MAIN_CHARS ? article.content : undefined;
}

const isHidden = (el: Element): boolean => el.hasAttribute('hidden') || /display\s*:\s*none|visibility\s*:\s*hidden/i.test(el.getAttribute('style') ?? '');

/** Walks without recursion: unclosed tags in broken markup can nest thousands deep. */
function sectionsOf(root: Element): Section[] {
  const out = new SectionBuilder();
  let inline = '';
  let bullet = false;
  const flush = (): void => {
    const text = collapse(inline);
    inline = '';
    if (!text) return;
    out.paragraph(bullet ? `- ${text}` : text);
    bullet = false;
  };
  const todo: Array<{ node: Node; leaving?: string }> = [{ node: root }];
  while (todo.length > 0) {
    const { node, leaving } = todo.pop()!;
    if (leaving !== undefined) {
      flush();
      if (leaving === 'li') bullet = false;
      continue;
    }
    if (node.nodeType === 3) inline += node.textContent ?? '';
    if (node.nodeType !== 1) continue;
    const el = node as Element;
    const tag = el.localName;
    if (NEVER_TEXT.has(tag) || isHidden(el)) continue;
    if (/^h[1-6]$/.test(tag)) {
      const text = collapse(el.textContent);
      flush();
      if (text) out.heading(Number(el.getAttribute(LEVEL_ATTR) ?? tag.slice(1)), text);
      continue;
    }
    if (tag === 'tr') {
      flush();
      out.paragraph(Array.from(el.children).filter((c) => c.localName === 'td' || c.localName === 'th').map((c) => collapse(c.textContent)).filter(Boolean).join(' | '));
      continue;
    }
    if (tag === 'br') {
      flush();
      continue;
    }
    if (BLOCKS.has(tag)) {
      flush();
      if (tag === 'li') bullet = true; // The item's first paragraph gets the "- ", even inside a <p>.
      todo.push({ node: el, leaving: tag });
    }
    for (let i = el.childNodes.length - 1; i >= 0; i--) todo.push({ node: el.childNodes[i]! });
  }
  flush();
  return out.close();
}

// ─── Markdown and plain text ─────────────────────────────────────────────────────────────────────────

function extractMarkdown(source: string, fileName: string | undefined): ExtractedDocument {
  let lines = source.replace(/<!--[\s\S]*?-->/g, '').replace(/\r\n?/g, '\n').split('\n');
  const front: Record<string, string> = {};
  if (/^---\s*$/.test(lines[0] ?? '')) {
    const end = lines.findIndex((l, i) => i > 0 && /^(---|\.\.\.)\s*$/.test(l));
    if (end > 0) {
      for (const l of lines.slice(1, end)) {
        const m = /^(\w+)\s*:\s*(.*)$/.exec(l);
        if (m) front[m[1]!.toLowerCase()] = m[2]!.trim().replace(/^(["'])(.*)\1$/, '$2');
      }
      lines = lines.slice(end + 1);
    }
  }
  const out = new SectionBuilder();
  let firstHeading = '';
  let para: string[] = [];
  let bullet = false;
  let fence: string | undefined;
  const flush = (): void => {
    if (para.length > 0) out.paragraph(`${bullet ? '- ' : ''}${stripInline(para.join(' '))}`);
    para = [];
    bullet = false;
  };
  const heading = (level: number, raw: string): void => {
    const text = collapse(stripInline(raw));
    if (!text) return;
    firstHeading ||= text;
    out.heading(level, text);
  };
  for (const raw of lines) {
    const line = raw.replace(/^\s{0,3}(?:>\s?)+/, '');
    const fenceMark = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (fenceMark?.[0] === fence[0] && fenceMark.length >= fence.length) fence = undefined;
      else out.paragraph(line); // Code stays as written: no emphasis stripping inside it.
      continue;
    }
    if (fenceMark) {
      flush();
      fence = fenceMark;
      continue;
    }
    const atx = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
    const setext = /^ {0,3}(=+|-+)\s*$/.exec(line);
    const item = /^\s*(?:[-*+]|\d{1,9}[.)])\s+(.*)$/.exec(line);
    if (atx) {
      flush();
      heading(atx[1]!.length, atx[2] ?? '');
    } else if (setext && para.length === 1 && !bullet) {
      const text = para[0]!;
      para = [];
      heading(setext[1]!.startsWith('=') ? 1 : 2, text);
    } else if (/^\s*$/.test(line) || /^ {0,3}([-*_])(\s*\1){2,}\s*$/.test(line) || /^ {0,3}\[[^\]]+\]:\s*\S/.test(line)) {
      flush(); // Blank line, thematic break or link reference definition.
    } else if (/^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(line) && line.includes('|')) {
      continue; // The separator row under a table header.
    } else if (/^\s*\|.*\|\s*$/.test(line)) {
      flush();
      out.paragraph(line.trim().replace(/^\||\|$/g, '').split('|').map((c) => collapse(stripInline(c))).filter(Boolean).join(' | '));
    } else if (item) {
      flush();
      bullet = true;
      para.push(item[1]!);
    } else para.push(line);
  }
  flush();
  const doc: ExtractedDocument = { format: 'markdown', title: collapse(front.title) || firstHeading || baseName(fileName), sections: out.close(), links: [] };
  return withLanguage(doc, primaryLanguage(front.lang ?? front.language));
}

function stripInline(s: string): string {
  return s
    .replace(/!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])/g, '') // images
    .replace(/\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])/g, '$1') // links keep their text
    .replace(/<((?:https?:|mailto:)[^>\s]+)>/g, '$1') // autolinks
    .replace(/<\/?[a-z][^>]*>/gi, '') // inline HTML
    .replace(/(`+)(.+?)\1/g, '$2')
    .replace(/(\*\*|__|~~)(?=\S)(.+?)(?<=\S)\1/g, '$2')
    .replace(/(^|[^\w*\\])([*_])(?=\S)(.+?)(?<=\S)\2(?![\w*])/g, '$1$3')
    .replace(/\\([\\`*_{}[\]()#+\-.!|~>])/g, '$1');
}

function extractPlainText(source: string, fileName: string | undefined): ExtractedDocument {
  const text = source.replace(/\r\n?/g, '\n');
  const paragraphs = text.split(/\n[ \t]*\n/).map(collapse).filter(Boolean);
  const firstLine = collapse(text.trimStart().split('\n')[0]);
  return {
    format: 'text',
    title: firstLine && firstLine.length <= 80 ? firstLine : baseName(fileName),
    sections: paragraphs.length > 0 ? [{ heading: '', text: paragraphs.join('\n') }] : [],
    links: [],
  };
}

// ─── PDF ─────────────────────────────────────────────────────────────────────────────────────────────

async function extractPdf(body: Buffer, fileName: string | undefined): Promise<ExtractedDocument> {
  const unreadable = (err: unknown): UnsupportedDocumentError =>
    new UnsupportedDocumentError(`PDF could not be read: ${(err as Error)?.name === 'PasswordException' ? 'it is password-protected' : ((err as Error)?.message ?? String(err))}`);
  const { extractText: extractPdfText, getDocumentProxy, getMeta } = await import('unpdf');
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>> | undefined;
  try {
    // A copy: pdf.js may take ownership of (detach) the bytes it is given.
    pdf = await getDocumentProxy(new Uint8Array(body), { verbosity: 0 });
    const { text } = await extractPdfText(pdf, { mergePages: false });
    const info: Record<string, unknown> = await getMeta(pdf).then((m) => m.info ?? {}, () => ({}));
    const sections = text
      .map((page, i) => ({ heading: `Page ${i + 1}`, text: page.split('\n').map(collapse).filter(Boolean).join('\n') }))
      .filter((s) => s.text);
    const doc: ExtractedDocument = { format: 'pdf', title: collapse(typeof info.Title === 'string' ? info.Title : '') || baseName(fileName), sections, links: [] };
    return withLanguage(doc, primaryLanguage(info.Language));
  } catch (err) {
    throw unreadable(err);
  } finally {
    await pdf?.destroy();
  }
}
