import test from 'ava';
import { bulkChunksText, SHOP_NAME, shopQuestions, shopSite, SITE_ORIGIN, type SitePage } from '../fixtures/shop-site.js';
import { startShopSite } from '../helpers/shop-site-server.js';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };
const decode = (s: string) => s.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) => ENTITIES[e]);

/** The visible text of the page's <main>: tags dropped, entities decoded, whitespace collapsed. */
function mainText(html: string): string {
  const m = /<main\b[^>]*>([\s\S]*?)<\/main>/.exec(html);
  return m ? decode(m[1].replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim() : '';
}

const hrefs = (html: string) => [...html.matchAll(/<a\b[^>]*\shref="([^"]*)"/g)].map((m) => decode(m[1]));
const byPath = (pages: SitePage[]) => new Map(pages.map((p) => [p.path, p]));

test('the site has over fifty pages with unique paths and titles, each declaring its language', (t) => {
  const pages = shopSite();
  t.true(pages.length >= 56, `${pages.length} pages`);
  t.is(new Set(pages.map((p) => p.path)).size, pages.length);
  t.is(new Set(pages.map((p) => p.title)).size, pages.length);
  for (const p of pages) {
    t.regex(p.title, / \| Nordlys Candles & Home$/);
    t.true(p.html.includes(`<title>${p.title.replace(/&/g, '&amp;')}</title>`), p.path);
    t.true(p.html.includes(`<html lang="${p.lang}">`), p.path);
    t.is(p.lang === 'en', !/^\/(es|no)\//.test(p.path), p.path);
  }
  const count = (lang: string) => pages.filter((p) => p.lang === lang).length;
  t.true(count('es') >= 8 && count('no') >= 6, `es ${count('es')}, no ${count('no')}`);
  t.true(pages.filter((p) => p.path.startsWith('/products/')).length >= 20);
});

test('every page has the shared header and footer around a single main with one h1', (t) => {
  for (const p of shopSite()) {
    t.is(p.html.match(/<main\b/g)?.length, 1, p.path);
    t.is(p.html.match(/<h1>/g)?.length, 1, p.path);
    t.regex(p.html, /<header class="site-header">[\s\S]*<nav[\s\S]*<\/header>\s*<main/, p.path);
    t.regex(p.html, /<\/main>\s*<footer class="site-footer">[\s\S]*Strandkaien 14[\s\S]*\+47 55 12 34 56[\s\S]*© 2025/, p.path);
    t.true(mainText(p.html).length > 150, `${p.path} has little main text`);
  }
});

test('every page links home, every link on the site resolves, and links come relative and absolute', (t) => {
  const pages = shopSite();
  const paths = byPath(pages);
  const forms = { relative: 0, rootRelative: 0, absolute: 0 };
  for (const p of pages) {
    const base = `${SITE_ORIGIN}${p.path}`;
    const internal = hrefs(p.html).map((h) => ({ h, url: new URL(h, base) })).filter(({ url }) => url.origin === SITE_ORIGIN);
    t.true(internal.some(({ url }) => url.pathname === '/'), `${p.path} does not link home`);
    for (const { h, url } of internal) {
      if (h.startsWith('#')) continue;
      t.true(paths.has(url.pathname), `${p.path} links to missing ${url.pathname} (${h})`);
      if (h.startsWith(SITE_ORIGIN)) forms.absolute++;
      else if (h.startsWith('/')) forms.rootRelative++;
      else forms.relative++;
    }
  }
  t.true(forms.relative > 20 && forms.rootRelative > 20 && forms.absolute > 20, JSON.stringify(forms));
  const about = hrefs(paths.get('/about')!.html);
  t.true(about.includes('https://elsewhere.example/partner'));
  t.true(about.some((h) => h.startsWith('mailto:')));
  const home = hrefs(paths.get('/')!.html).map((h) => new URL(h, `${SITE_ORIGIN}/`).pathname);
  for (const section of ['/products', '/gift-cards', '/shipping/domestic', '/shipping/international', '/returns', '/refunds', '/exchanges', '/warranty', '/privacy', '/terms', '/cookies', '/faq/orders', '/faq/account', '/stores', '/blog', '/about', '/contact', '/careers', '/wholesale', '/es/', '/no/']) {
    t.true(home.includes(section), `the home page does not link to ${section}`);
  }
});

test('opening hours and contact details of the contact page live in its main content only', (t) => {
  const contact = byPath(shopSite()).get('/contact')!;
  const [before, after] = contact.html.split(/<main\b[\s\S]*<\/main>/);
  t.true(mainText(contact.html).includes('Friday 09:00–15:00'));
  t.false(/09:00/.test(before + after));
});

test('every question is answered in the main text of its page, and of no other page in its language', (t) => {
  const pages = shopSite();
  const paths = byPath(pages);
  const texts = new Map(pages.map((p) => [p.path, mainText(p.html)]));
  const questions = shopQuestions();
  t.is(new Set(questions.map((q) => q.question)).size, questions.length);
  for (const q of questions) {
    const page = paths.get(q.answerPath);
    if (!page) {
      t.fail(`${q.question}: no page ${q.answerPath}`);
      continue;
    }
    t.is(page.lang, q.lang, q.question);
    t.true(texts.get(q.answerPath)!.includes(q.expect), `"${q.expect}" is not in the main text of ${q.answerPath}`);
    const elsewhere = pages.filter((p) => p.lang === q.lang && p.path !== q.answerPath && texts.get(p.path)!.toLowerCase().includes(q.expect.toLowerCase()));
    t.deepEqual(elsewhere.map((p) => p.path), [], `"${q.expect}" (${q.answerPath}) also appears elsewhere`);
    t.false(texts.get(q.answerPath)!.toLowerCase().includes(q.question.toLowerCase().replace(/[?.]$/, '')), `copied: ${q.question}`);
  }
});

test('there are enough questions in each language, spread over the site', (t) => {
  const questions = shopQuestions();
  const count = (lang: string) => questions.filter((q) => q.lang === lang).length;
  t.true(questions.length >= 66, `${questions.length}`);
  t.true(count('en') >= 48, `en ${count('en')}`);
  t.true(count('es') >= 10, `es ${count('es')}`);
  t.true(count('no') >= 8, `no ${count('no')}`);
  t.true(new Set(questions.map((q) => q.answerPath)).size >= 45);
});

test('the generators are deterministic', (t) => {
  t.deepEqual(shopSite(), shopSite());
  t.deepEqual(shopQuestions(), shopQuestions());
  t.deepEqual(bulkChunksText(50, 7), bulkChunksText(50, 7));
  t.notDeepEqual(bulkChunksText(50, 7), bulkChunksText(50, 8));
  t.deepEqual(bulkChunksText(120, 3).slice(0, 50), bulkChunksText(50, 3));
});

test('bulk chunks are passages of about 600 characters with a varied vocabulary', (t) => {
  const chunks = bulkChunksText(10_000, 42);
  t.is(chunks.length, 10_000);
  for (const c of chunks) {
    t.true(c.text.length >= 560 && c.text.length <= 800, `${c.text.length}`);
    t.true(c.title.length > 0 && c.heading.length > 0);
  }
  const words = new Set(chunks.flatMap((c) => `${c.title} ${c.text}`.toLowerCase().match(/\p{L}+/gu) ?? []));
  t.true(words.size > 400, `${words.size} distinct words`);
  t.true(new Set(chunks.map((c) => c.text)).size === chunks.length);
});

const UA = { 'user-agent': 'shop-site-test' };

test('a page is served with a strong ETag and answers 304 when it matches', async (t) => {
  const site = await startShopSite({ pages: shopSite() });
  t.teardown(() => site.close());
  const first = await fetch(`${site.origin}/returns`, { headers: UA });
  t.is(first.status, 200);
  t.is(first.headers.get('content-type'), 'text/html; charset=utf-8');
  const etag = first.headers.get('etag')!;
  t.regex(etag, /^"[^"]+"$/);
  t.true((await first.text()).includes('<title>Returns policy | Nordlys Candles &amp; Home</title>'));
  const again = await fetch(`${site.origin}/returns`, { headers: { ...UA, 'if-none-match': etag } });
  t.is(again.status, 304);
  t.is(await again.text(), '');
  t.is(again.headers.get('etag'), etag);
  const other = await fetch(`${site.origin}/returns`, { headers: { ...UA, 'if-none-match': '"something-else"' } });
  t.is(other.status, 200);
  await other.arrayBuffer();
  t.deepEqual(site.requests, [
    { path: '/returns', conditional: false, status: 200, userAgent: 'shop-site-test' },
    { path: '/returns', conditional: true, status: 304, userAgent: 'shop-site-test' },
    { path: '/returns', conditional: true, status: 200, userAgent: 'shop-site-test' },
  ]);
});

test('If-Modified-Since at or after Last-Modified answers 304, an earlier date the page', async (t) => {
  const site = await startShopSite({ pages: shopSite() });
  t.teardown(() => site.close());
  const first = await fetch(`${site.origin}/contact`);
  await first.arrayBuffer();
  const lastModified = first.headers.get('last-modified')!;
  t.false(Number.isNaN(Date.parse(lastModified)));
  t.is((await fetch(`${site.origin}/contact`, { headers: { 'if-modified-since': lastModified } })).status, 304);
  const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString();
  const res = await fetch(`${site.origin}/contact`, { headers: { 'if-modified-since': earlier } });
  t.is(res.status, 200);
  t.true((await res.text()).includes('Customer service opening hours'));
  t.not((await fetch(`${site.origin}/about`, { method: 'HEAD' })).headers.get('last-modified'), lastModified);
});

test('setPage changes the validators, and a removed page answers 404', async (t) => {
  const pages = shopSite();
  const site = await startShopSite({ pages });
  t.teardown(() => site.close());
  const before = await fetch(`${site.origin}/refunds`);
  await before.arrayBuffer();
  const etag = before.headers.get('etag')!;
  const lastModified = before.headers.get('last-modified')!;
  const html = pages.find((p) => p.path === '/refunds')!.html.replace('within 5 working days', 'within 3 working days');
  site.setPage('/refunds', html);
  const after = await fetch(`${site.origin}/refunds`, { headers: { 'if-none-match': etag } });
  t.is(after.status, 200);
  t.true((await after.text()).includes('within 3 working days'));
  t.not(after.headers.get('etag'), etag);
  t.true(Date.parse(after.headers.get('last-modified')!) > Date.parse(lastModified));
  t.is((await fetch(`${site.origin}/refunds`, { headers: { 'if-modified-since': lastModified } })).status, 200);
  site.setPage('/refunds', undefined);
  const gone = await fetch(`${site.origin}/refunds`);
  t.is(gone.status, 404);
  await gone.arrayBuffer();
  site.setPage('/new-scents', '<!doctype html><html lang="en"><head><title>New</title></head><body><main><h1>New</h1></main></body></html>');
  t.is((await fetch(`${site.origin}/new-scents`)).status, 200);
});

test('robots.txt and the sitemap are served when configured and 404 otherwise', async (t) => {
  const pages = shopSite();
  const plain = await startShopSite({ pages });
  t.teardown(() => plain.close());
  t.is((await fetch(`${plain.origin}/robots.txt`)).status, 404);
  t.is((await fetch(`${plain.origin}/sitemap.xml`)).status, 404);

  const robots = `User-agent: *\nDisallow: /careers\nSitemap: ${SITE_ORIGIN}/sitemap.xml\n`;
  const site = await startShopSite({ pages, robots, sitemap: true, extra: { '/catalogue.pdf': { contentType: 'application/pdf', body: Buffer.from('%PDF-1.4\n') } } });
  t.teardown(() => site.close());
  const r = await fetch(`${site.origin}/robots.txt`);
  t.is(r.status, 200);
  t.is(await r.text(), robots);
  const s = await fetch(`${site.origin}/sitemap.xml`);
  t.regex(s.headers.get('content-type')!, /^application\/xml/);
  const xml = await s.text();
  t.is(xml.match(/<url>/g)?.length, pages.length);
  t.true(xml.includes(`<loc>${site.origin}/shipping/international</loc>`));
  t.regex(xml, /<lastmod>\d{4}-\d\d-\d\dT/);
  const pdf = await fetch(`${site.origin}/catalogue.pdf`);
  t.is(pdf.headers.get('content-type'), 'application/pdf');
  t.is(Buffer.from(await pdf.arrayBuffer()).toString(), '%PDF-1.4\n');
});

test('HEAD has headers and no body, unknown paths are 404, and absolute links point at the server', async (t) => {
  const site = await startShopSite({ pages: shopSite() });
  t.teardown(() => site.close());
  const head = await fetch(`${site.origin}/about`, { method: 'HEAD' });
  t.is(head.status, 200);
  t.true(Number(head.headers.get('content-length')) > 1000);
  t.is(await head.text(), '');
  t.is((await fetch(`${site.origin}/no-such-page`)).status, 404);
  const es = await fetch(`${site.origin}/es`, { redirect: 'manual' });
  t.is(es.status, 301);
  t.is(es.headers.get('location'), '/es/');
  const html = await (await fetch(site.url)).text();
  t.false(html.includes(SITE_ORIGIN));
  t.true(html.includes(`href="${site.origin}/`));
  t.true(html.includes(`<html lang="en">`));
  t.is(site.requests.at(-1)?.path, '/');
});

test('repeated requests for a page get the same ETag and the same body', async (t) => {
  const pages = shopSite();
  const a = await startShopSite({ pages });
  t.teardown(() => a.close());
  const one = await fetch(`${a.origin}/warranty`);
  const two = await fetch(`${a.origin}/warranty`);
  t.is(one.headers.get('etag'), two.headers.get('etag'));
  t.is(await one.text(), await two.text());
  t.is(shopSite().find((p) => p.path === '/warranty')!.title, `Warranty and faulty items | ${SHOP_NAME}`);
});
