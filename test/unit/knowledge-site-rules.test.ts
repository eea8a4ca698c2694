import { gzipSync } from 'node:zlib';
import test from 'ava';
import { canonicalUrl, parseRobots, parseSitemap, sameSite } from '../../src/features/knowledge/site-rules.js';

const robotsTxt = `# shop robots
User-agent: *
Disallow: /cart
Disallow: /*?sort=
Disallow: /*.pdf$
Allow: /cart/help
Crawl-delay: 2

User-agent: zia-knowledge
Disallow: /private/
Allow: /private/faq
Disallow: /*/draft
Crawl-delay: 5

Sitemap: https://shop.example/sitemap.xml
Sitemap: https://shop.example/sitemap-products.xml.gz
`;

test('robots.txt rules for our user agent apply, with wildcards, $ and the longest match winning', (t) => {
  const rules = parseRobots('https://shop.example/robots.txt', robotsTxt, 'zia-knowledge');
  t.false(rules.allowed('https://shop.example/private/orders'));
  t.true(rules.allowed('https://shop.example/private/faq'), 'the longer Allow beats the shorter Disallow');
  t.false(rules.allowed('https://shop.example/en/draft-post'), '* matches any path segment');
  t.true(rules.allowed('https://shop.example/cart'), 'our own group replaces the * group entirely');
  t.true(rules.allowed('https://shop.example/'));
  t.is(rules.crawlDelayS, 5);
});

test('robots.txt * group applies to other agents, with query and end-of-path wildcards', (t) => {
  const rules = parseRobots('https://shop.example/robots.txt', robotsTxt, 'other-bot');
  t.false(rules.allowed('https://shop.example/cart'));
  t.true(rules.allowed('https://shop.example/cart/help'));
  t.false(rules.allowed('https://shop.example/candles?sort=price'));
  t.true(rules.allowed('https://shop.example/candles?page=2'));
  t.false(rules.allowed('https://shop.example/files/manual.pdf'));
  t.true(rules.allowed('https://shop.example/files/manual.pdf?download=1'), '$ anchors the end of the URL');
  t.is(rules.crawlDelayS, 2);
});

test('Sitemap lines are collected, and www/scheme variants of the site share the rules', (t) => {
  const rules = parseRobots('https://shop.example/robots.txt', robotsTxt, 'zia-knowledge');
  t.deepEqual(rules.sitemaps, ['https://shop.example/sitemap.xml', 'https://shop.example/sitemap-products.xml.gz']);
  t.false(rules.allowed('http://www.shop.example/private/orders'));
  t.true(rules.allowed('https://elsewhere.example/private/orders'), 'another site is not governed by these rules');
  t.false(rules.allowed('not a url'));
});

test('a missing robots.txt allows everything', (t) => {
  const rules = parseRobots('https://shop.example/robots.txt', undefined, 'zia-knowledge');
  t.true(rules.allowed('https://shop.example/private/orders'));
  t.deepEqual(rules.sitemaps, []);
  t.is(rules.crawlDelayS, undefined);
  t.false('crawlDelayS' in rules);
});

const urlset = `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url><loc> https://shop.example/ </loc><lastmod>2024-05-01</lastmod><image:image><image:loc>https://shop.example/a.jpg</image:loc></image:image></url>
  <url><loc>https://shop.example/candles?a=1&amp;b=2</loc></url>
  <url><lastmod>2024-01-01</lastmod></url>
</urlset>`;

test('a urlset sitemap lists its pages with lastmod when given', (t) => {
  t.deepEqual(parseSitemap(Buffer.from(urlset)), {
    urls: [{ loc: 'https://shop.example/', lastmod: '2024-05-01' }, { loc: 'https://shop.example/candles?a=1&b=2' }],
    sitemaps: [],
  });
  const single = parseSitemap(Buffer.from('\uFEFF<urlset><url><loc>https://shop.example/only</loc></url></urlset>'));
  t.deepEqual(single.urls, [{ loc: 'https://shop.example/only' }], 'one <url> is still a list; a BOM is fine');
});

test('a sitemap index lists its child sitemaps', (t) => {
  const index = `<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://shop.example/sitemap-pages.xml</loc><lastmod>2024-05-01</lastmod></sitemap>
<sitemap><loc>https://shop.example/sitemap-products.xml.gz</loc></sitemap></sitemapindex>`;
  t.deepEqual(parseSitemap(Buffer.from(index)), { urls: [], sitemaps: ['https://shop.example/sitemap-pages.xml', 'https://shop.example/sitemap-products.xml.gz'] });
});

test('a gzipped sitemap is unpacked first, and one that unpacks past 10 MB is refused', (t) => {
  t.is(parseSitemap(gzipSync(Buffer.from(urlset))).urls.length, 2);
  const bomb = gzipSync(Buffer.alloc(11 * 1024 * 1024, 0x20));
  t.throws(() => parseSitemap(bomb), { message: /larger than 10 MB/ });
  t.throws(() => parseSitemap(Buffer.from([0x1f, 0x8b, 1, 2, 3])), { message: /could not be unpacked/ });
});

test('invalid XML and XML that is not a sitemap are errors that say so', (t) => {
  t.throws(() => parseSitemap(Buffer.from('<urlset><url><loc>https://a.example/</url></urlset>')), { message: /not valid XML: .*closing tag/ });
  t.throws(() => parseSitemap(Buffer.from('<!doctype html><html><body>Not found</body></html>')), { message: /not valid XML/ });
  t.throws(() => parseSitemap(Buffer.from('')), { message: /not valid XML/ });
  t.throws(() => parseSitemap(Buffer.from('<rss><channel/></rss>')), { message: /not a sitemap: the root element is <rss>/ });
});

test('sameSite ignores the scheme and a www. prefix but not other hosts or ports', (t) => {
  t.true(sameSite('https://shop.example/a', 'http://www.shop.example/b'));
  t.true(sameSite('https://WWW.Shop.Example', 'https://shop.example:443/'));
  t.false(sameSite('https://blog.shop.example/', 'https://shop.example/'));
  t.false(sameSite('https://shop.example:8443/', 'https://shop.example/'));
  t.false(sameSite('https://shop.example.evil.example/', 'https://shop.example/'));
  t.false(sameSite('ftp://shop.example/', 'https://shop.example/'));
  t.false(sameSite('nonsense', 'nonsense'));
});

test('canonicalUrl keeps http(s) only and normalises fragment, port, host case and an empty query', (t) => {
  t.is(canonicalUrl('https://Shop.EXAMPLE:443/Path?q=1#frag'), 'https://shop.example/Path?q=1');
  t.is(canonicalUrl('http://shop.example:80'), 'http://shop.example/');
  t.is(canonicalUrl('http://shop.example:8080/a?'), 'http://shop.example:8080/a');
  t.is(canonicalUrl('  https://shop.example/a b  '), 'https://shop.example/a%20b');
  t.is(canonicalUrl('mailto:hi@shop.example'), undefined);
  t.is(canonicalUrl('javascript:alert(1)'), undefined);
  t.is(canonicalUrl('/relative/path'), undefined);
  t.is(canonicalUrl('http://'), undefined);
});
