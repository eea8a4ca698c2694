import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseEnv } from '../helpers/app.js';
import { spawn } from 'node:child_process';
import { BIN, runBin } from '../helpers/cli.js';
import { dialects, freshDatabase } from '../helpers/db.js';
import { shopSite } from '../fixtures/shop-site.js';
import { startShopSite } from '../helpers/shop-site-server.js';

// zia obeys the group that names it (only that one, as robots.txt rules go), not another crawler's.
const ROBOTS = 'User-agent: OtherBot\nDisallow: /\n\nUser-agent: zia-knowledge\nDisallow: /careers\nDisallow: /wholesale\n\nUser-agent: *\nDisallow: /products\n';

for (const dialect of dialects()) {
  test(`${dialect}: zia knowledge crawls a site as robots.txt allows, re-syncs with conditional requests, and finds the answering page`, async (t) => {
    const db = await freshDatabase(dialect);
    const pages = shopSite();
    const site = await startShopSite({ pages, robots: ROBOTS, sitemap: true });
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-knowledge-'));
    const env = { ...baseEnv(), ...db.env, ZIA_CATALOG_ALLOW_PRIVATE: 'true' };
    const zia = (args: string[]) => runBin(args, { env, cwd });
    try {
      t.is((await zia(['migrate'])).code, 0);
      let r = await zia(['tenant', 'create', 'nordlys', '--name', 'Nordlys', '--set', 'knowledge.max_page_kb=16', '--set', 'locale=en-GB']);
      t.is(r.code, 0, r.stderr);
      // One page grows past the tenant's page limit: it is skipped with the reason, the rest are taken.
      const big = pages.find((p) => p.path === '/blog/gift-ideas')!;
      site.setPage(big.path, big.html.replace('</main>', `<p>${'Wrapped with care. '.repeat(1200)}</p></main>`));

      r = await zia(['knowledge', 'add', 'nordlys', site.url, '--crawl', '--json']);
      t.is(r.code, 0, r.stderr);
      const first = JSON.parse(r.stdout);
      const reasons = Object.fromEntries(first.skipped.map((s: any) => [new URL(s.url).pathname, s.reason]));
      t.regex(reasons['/careers'] ?? '', /disallowed by robots\.txt/);
      t.regex(reasons['/wholesale'] ?? '', /disallowed by robots\.txt/);
      t.regex(reasons['/blog/gift-ideas'] ?? '', /larger than/);
      t.false(site.requests.some((q) => q.path === '/careers' || q.path === '/wholesale'), 'disallowed pages are never requested');
      t.true(site.requests.every((q) => q.userAgent.startsWith('zia-knowledge/')));
      t.is(first.indexed, pages.length - 3, 'every other page of the site');
      t.deepEqual(first.failed, [], 'the off-site link (elsewhere.example) was never fetched');
      t.is(first.source.kind, 'crawl');
      t.is(first.source.status, 'ready');
      t.is(first.source.page_count, first.indexed);
      t.truthy(first.source.next_sync_at, 'the next sync is scheduled');

      // On a terminal a sync shows its progress (script(1) gives the command one).
      // (Spawned, not spawnSync: the site it fetches is served from this process.)
      const tty = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
        const child = spawn('script', ['-qfec', `${process.execPath} ${BIN} knowledge sync nordlys`, '/dev/null'], { cwd, env: { PATH: process.env.PATH ?? '', TERM: 'xterm', ...env } });
        let stdout = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.on('close', (status) => resolve({ status, stdout }));
      });
      t.is(tty.status, 0, tty.stdout);
      t.regex(tty.stdout, /syncing \[[█░]+\] \d+\/\d+ pages/);
      t.regex(tty.stdout, /indexed 0, unchanged \d+, removed 0/);

      // Unchanged pages cost a 304; a changed one is indexed again; a removed one leaves the index.
      const returns = pages.find((p) => p.path === '/returns')!;
      site.setPage('/returns', returns.html.replaceAll('within 30 days of delivery', 'within 45 days of delivery'));
      site.setPage('/stores/tromso', undefined);
      const before = site.requests.length;
      r = await zia(['knowledge', 'sync', 'nordlys', '--json']);
      t.is(r.code, 0, r.stderr);
      const second = JSON.parse(r.stdout);
      t.is(second.indexed, 1, JSON.stringify({ ...second, source: undefined }).slice(0, 1500));
      t.is(second.removed, 1);
      t.is(second.unchanged, first.indexed - 2);
      const again = site.requests.slice(before).filter((q) => q.path !== '/robots.txt');
      t.true(again.filter((q) => q.status === 304).length >= first.indexed - 2, 'unchanged pages answered 304');
      t.true(again.filter((q) => q.path !== '/blog/gift-ideas').every((q) => q.conditional), 'every known page is asked for conditionally');

      r = await zia(['knowledge', 'search', 'nordlys', 'how many days after delivery can I return an order?', '--json']);
      t.is(r.code, 0, r.stderr);
      const found = JSON.parse(r.stdout);
      const returnsPassage = found.passages.slice(0, 3).find((p: any) => new URL(p.url).pathname === '/returns');
      t.truthy(returnsPassage, JSON.stringify(found.passages.map((p: any) => p.url)));
      t.regex(returnsPassage.text, /within 45 days of delivery/, 'the re-indexed text, not the old one');
      t.true(found.passages.some((p: any) => p.in_prompt));

      r = await zia(['knowledge', 'search', 'nordlys', 'hours of the Tromsø store']);
      t.is(r.code, 0);
      t.notRegex(r.stdout, /\/stores\/tromso\b/, 'a removed page is not found');

      r = await zia(['knowledge', 'list', 'nordlys']);
      t.is(r.code, 0);
      t.regex(r.stdout, /crawl\s+http:\/\/127\.0\.0\.1:\d+\/\s+ready/);

      // A Markdown file and a plain-text file join the same knowledge base.
      writeFileSync(path.join(cwd, 'gift-wrap.md'), '---\ntitle: Gift wrapping\n---\n# Gift wrapping\n\nEvery order can be **gift wrapped** in recycled kraft paper for NOK 35.\n');
      r = await zia(['knowledge', 'add', 'nordlys', 'gift-wrap.md', '--json']);
      t.is(r.code, 0, r.stderr);
      t.like(JSON.parse(r.stdout), { indexed: 1, source: { kind: 'file', location: 'gift-wrap.md', status: 'ready' } });
      r = await zia(['knowledge', 'search', 'nordlys', 'can you wrap it in kraft paper?', '--json']);
      const wrap = JSON.parse(r.stdout).passages.find((p: any) => p.location === 'gift-wrap.md');
      t.truthy(wrap, r.stdout);
      t.is(wrap.url, null, 'a file has no link');
      t.regex(wrap.text, /NOK 35/);

      // Removing asks first; without a terminal it needs --yes.
      const id = first.source.id;
      r = await zia(['knowledge', 'remove', 'nordlys', id]);
      t.is(r.code, 2);
      t.regex(r.stderr, /without --yes/);
      r = await zia(['knowledge', 'remove', 'nordlys', id, '--yes']);
      t.is(r.code, 0, r.stderr);
      r = await zia(['knowledge', 'search', 'nordlys', 'how many days do I have to return an order?', '--json']);
      t.false(JSON.parse(r.stdout).passages.some((p: any) => p.url), 'the crawl left the index');
    } finally {
      await site.close();
      await db.cleanup();
    }
  });

  test(`${dialect}: zia knowledge refuses private addresses and bad input with one line and an exit code`, async (t) => {
    const db = await freshDatabase(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-knowledge-'));
    const zia = (args: string[]) => runBin(args, { env: { ...baseEnv(), ...db.env }, cwd });
    try {
      t.is((await zia(['migrate'])).code, 0);
      t.is((await zia(['tenant', 'create', 'shop', '--name', 'Shop'])).code, 0);
      for (const url of ['https://127.0.0.1/', 'https://10.1.2.3/faq', 'https://[::1]/', 'https://localhost/']) {
        const r = await zia(['knowledge', 'add', 'shop', url]);
        t.is(r.code, 2, url);
        t.regex(r.stderr, /^zia: knowledge page host .* (forbidden address|loopback name)/, url);
        t.is(r.stderr.trim().split('\n').length, 1);
      }
      let r = await zia(['knowledge', 'add', 'shop', 'http://shop.example/']);
      t.is(r.code, 2);
      t.regex(r.stderr, /scheme 'http:' is not allowed/);
      r = await zia(['knowledge', 'add', 'shop', 'missing.pdf']);
      t.is(r.code, 2);
      t.regex(r.stderr, /cannot read missing\.pdf \(ENOENT\)/);
      writeFileSync(path.join(cwd, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
      r = await zia(['knowledge', 'add', 'shop', 'logo.png']);
      t.is(r.code, 2);
      t.regex(r.stderr, /^zia: .*(not supported|unsupported)/i);
      r = await zia(['knowledge', 'add', 'shop', 'https://shop.example/', '--max-pages', 'lots']);
      t.is(r.code, 2);
      t.regex(r.stderr, /--max-pages must be a whole number/);
      r = await zia(['knowledge', 'list', 'shop', '--json']);
      t.deepEqual(JSON.parse(r.stdout), { sources: [] }, 'nothing was added by a refused command');
    } finally {
      await db.cleanup();
    }
  });
}
