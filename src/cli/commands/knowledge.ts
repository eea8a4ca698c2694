import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import type { Services } from '../../container.js';
import type { SyncProgress, SyncReport } from '../../features/knowledge/knowledge-service.js';
import { reportView, sourceView } from '../../features/knowledge/knowledge-views.js';
import type { Tenant } from '../../features/tenants/tenant-service.js';
import { auditCli, withContext } from '../context.js';
import { colors, interactive, printJson, println, printTable, UsageError, type CliIO, type ExitHolder } from '../io.js';

const pagesSchema = z.coerce.number().int().min(1).max(10_000);
const hoursSchema = z.coerce.number().min(0).max(24 * 90);
const limitSchema = z.coerce.number().int().min(1).max(20);

export function registerKnowledge(program: Command, io: CliIO, exit: ExitHolder): void {
  const knowledge = program.command('knowledge').description("A tenant's knowledge base: its web pages and documents, searched to answer customers");

  knowledge
    .command('add')
    .description('Add a page, a sitemap, a site to crawl, or a file (Markdown, text, HTML, PDF), and index it')
    .argument('<slug>')
    .argument('<url-or-file>')
    .option('--crawl', 'follow links from the page, same site only')
    .option('--sitemap', 'index the pages the sitemap at this URL lists (the default for *.xml)')
    .option('--max-pages <n>', 'pages this source may index (the tenant limit still applies)')
    .option('--every <hours>', 'hours between re-syncs (0: only when asked; default from settings.knowledge.sync_hours, else 24)')
    .option('--no-sync', 'add the source without fetching it now (a worker syncs it)')
    .option('--json', 'print JSON')
    .action(async (slug: string, target: string, opts: { crawl?: boolean; sitemap?: boolean; maxPages?: string; every?: string; sync: boolean; json?: boolean }) => {
      if (opts.crawl && opts.sitemap) throw new UsageError('give --crawl or --sitemap, not both');
      const maxPages = opts.maxPages === undefined ? undefined : parse(pagesSchema, opts.maxPages, '--max-pages must be a whole number from 1 to 10000');
      const syncHours = opts.every === undefined ? undefined : parse(hoursSchema, opts.every, '--every must be a number of hours from 0 to 2160');
      const isUrl = /^https?:\/\//i.test(target);
      if (!isUrl && (opts.crawl || opts.sitemap || maxPages !== undefined)) throw new UsageError('--crawl, --sitemap and --max-pages are for URLs, not files');
      exit.code = await withContext(io, async (services) => {
        const tenant = await services.tenants.get(slug);
        if (!isUrl) {
          const file = path.resolve(io.cwd, target);
          const body = await readFile(file).catch((err: NodeJS.ErrnoException) => {
            throw new UsageError(`cannot read ${target} (${err.code ?? err.message})`);
          });
          const report = await services.knowledge.addFile(tenant, { name: path.basename(file), body });
          await auditCli(services, io, { action: 'knowledge.added', tenant, target: report.source.id, details: { kind: report.source.kind, indexed: report.indexed } });
          printReport(io, report, opts.json);
          return 0;
        }
        const source = await services.knowledge.addUrl(tenant, { url: target, mode: opts.crawl ? 'crawl' : opts.sitemap ? 'sitemap' : undefined, maxPages, syncHours });
        await auditCli(services, io, { action: 'knowledge.added', tenant, target: source.id, details: { kind: source.kind } });
        if (!opts.sync) {
          await services.knowledge.requestSync(tenant, source);
          if (opts.json) printJson(io, sourceView(source));
          else println(io.stdout, `added ${source.id} (${source.kind} ${source.location}); a worker will sync it`);
          return 0;
        }
        return syncAndReport(io, services, tenant, source.id, opts.json);
      });
    });

  knowledge
    .command('list')
    .description("List a tenant's knowledge sources")
    .argument('<slug>')
    .option('--json', 'print JSON')
    .action(async (slug: string, opts: { json?: boolean }) => {
      exit.code = await withContext(io, async (services) => {
        const sources = await services.knowledge.list(await services.tenants.get(slug));
        if (opts.json) printJson(io, { sources: sources.map(sourceView) });
        else if (sources.length === 0) println(io.stdout, `no knowledge sources; add one with \`zia knowledge add ${slug} https://…\``);
        else
          printTable(
            io,
            ['ID', 'KIND', 'LOCATION', 'STATUS', 'PAGES', 'CHUNKS', 'SYNCED', 'NEXT SYNC', 'LAST ERROR'],
            sources.map((s) => [s.id, s.kind, s.location, s.status, s.pageCount, s.chunkCount, s.syncedAt ?? 'never', s.nextSyncAt ?? '', s.lastError ?? '']),
          );
        return 0;
      });
    });

  knowledge
    .command('sync')
    .description('Fetch a source (or every web source of the tenant) now; unchanged pages cost a conditional request')
    .argument('<slug>')
    .argument('[source-id]')
    .option('--json', 'print JSON')
    .action(async (slug: string, id: string | undefined, opts: { json?: boolean }) => {
      exit.code = await withContext(io, async (services) => {
        const tenant = await services.tenants.get(slug);
        const ids = id ? [(await services.knowledge.get(tenant, id)).id] : (await services.knowledge.list(tenant)).filter((s) => s.kind !== 'file').map((s) => s.id);
        if (ids.length === 0) throw new UsageError(`tenant '${slug}' has no web sources to sync`);
        await auditCli(services, io, { action: 'knowledge.synced', tenant, target: id, details: { sources: ids } });
        let code = 0;
        for (const sourceId of ids) code = Math.max(code, await syncAndReport(io, services, tenant, sourceId, opts.json));
        return code;
      });
    });

  knowledge
    .command('search')
    .description('Show the passages (and scores) the bot would use for a question: the first thing to run when an answer is wrong')
    .argument('<slug>')
    .argument('<question>')
    .option('--limit <n>', 'passages to show', '5')
    .option('--json', 'print JSON')
    .action(async (slug: string, question: string, opts: { limit: string; json?: boolean }) => {
      const limit = parse(limitSchema, opts.limit, '--limit must be a whole number from 1 to 20');
      exit.code = await withContext(io, async (services) => {
        const tenant = await services.tenants.get(slug);
        const passages = await services.knowledgeSearch.search(tenant, question, { limit, includeFlagged: true });
        const view = passages.map((p, i) => ({
          rank: i + 1,
          title: p.title,
          url: p.url,
          location: p.location,
          heading: p.heading,
          score: Number(p.score.toFixed(5)),
          coverage: Number(p.coverage.toFixed(2)),
          clear: p.clear,
          flagged: p.flagged,
          // What the chat engine does with it: clear, unflagged passages among the top 3 go into the prompt.
          in_prompt: i < 3 && p.clear && !p.flagged,
          text: p.text,
        }));
        if (opts.json) {
          printJson(io, { question, passages: view });
          return 0;
        }
        if (view.length === 0) {
          println(io.stdout, 'nothing in the knowledge base matches; the bot will say it does not know');
          return 0;
        }
        const c = colors(io);
        for (const p of view) {
          const marks = [p.in_prompt ? c.green('in prompt') : p.clear ? 'clear' : c.yellow('weak match'), p.flagged ? c.red('flagged: reads as instructions to an AI, never given to the model') : ''].filter(Boolean).join(', ');
          println(io.stdout, `${c.bold(`#${p.rank}`)} ${p.title}  ${p.url ?? p.location}`);
          println(io.stdout, `   score ${p.score}  coverage ${p.coverage}  ${marks}`);
          if (p.heading) println(io.stdout, `   ${c.dim(p.heading)}`);
          println(io.stdout, `   ${p.text.replace(/\s+/g, ' ').slice(0, 300)}${p.text.length > 300 ? '…' : ''}`);
        }
        return 0;
      });
    });

  knowledge
    .command('remove')
    .description('Remove a source and everything indexed from it')
    .argument('<slug>')
    .argument('<source-id>')
    .option('-y, --yes', 'do not ask for confirmation (required without a TTY)')
    .action(async (slug: string, id: string, opts: { yes?: boolean }) => {
      exit.code = await withContext(io, async (services) => {
        const tenant = await services.tenants.get(slug);
        const source = await services.knowledge.get(tenant, id);
        if (!opts.yes) {
          if (!interactive(io)) throw new UsageError(`refusing to remove ${source.location} without --yes (no TTY to ask on)`);
          const { confirm } = await import('@inquirer/prompts');
          if (!(await confirm({ message: `Remove ${source.location} and its ${source.chunkCount} indexed passages?`, default: false }))) return 1;
        }
        await services.knowledge.remove(tenant, id);
        await auditCli(services, io, { action: 'knowledge.removed', tenant, target: id });
        println(io.stdout, `removed ${source.location}`);
        return 0;
      });
    });
}

function parse<T>(schema: z.ZodType<T>, value: string, message: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new UsageError(message);
  return r.data;
}

/** Syncs one source with a progress bar on a terminal; exit code 1 when it could not run or read nothing. */
async function syncAndReport(io: CliIO, services: Services, tenant: Tenant, id: string, json?: boolean): Promise<number> {
  const bar = !json && io.stderr.isTTY ? await progressBar(io) : undefined;
  let report: SyncReport;
  try {
    report = await services.knowledge.sync(tenant, id, bar?.update);
  } finally {
    bar?.stop();
  }
  printReport(io, report, json);
  if (report.busy) return 1;
  return report.error || report.source.status === 'failed' ? 1 : 0;
}

async function progressBar(io: CliIO): Promise<{ update: (p: SyncProgress) => void; stop: () => void }> {
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  const bar = new SingleBar({ stream: io.stderr, format: 'syncing [{bar}] {value}/{total} pages  {url}', hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
  let started = false;
  return {
    update: (p) => {
      if (!started) bar.start(Math.max(p.limit, 1), 0, { url: '' });
      started = true;
      bar.setTotal(Math.max(p.limit, p.done));
      bar.update(p.done, { url: p.url.length > 60 ? `…${p.url.slice(-59)}` : p.url });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function printReport(io: CliIO, r: SyncReport, json?: boolean): void {
  if (json) {
    printJson(io, reportView(r));
    return;
  }
  const c = colors(io);
  const s = r.source;
  if (r.busy) {
    println(io.stderr, `zia: ${s.location} is being synced by another process; try again when it is done`);
    return;
  }
  println(io.stdout, `${c.bold(s.location)}  (${s.kind}, ${s.id})`);
  println(io.stdout, `indexed ${r.indexed}, unchanged ${r.unchanged}, removed ${r.removed}, skipped ${r.skipped.length}, failed ${r.failed.length}; now ${s.pageCount} pages, ${s.chunkCount} passages`);
  for (const x of r.skipped) println(io.stdout, `  skipped ${x.url}: ${x.reason}`);
  for (const x of r.failed) println(io.stdout, `  ${c.yellow('failed')} ${x.url}: ${x.reason} (the copy from the last sync stays)`);
  if (r.error) println(io.stderr, `zia: ${r.error}`);
  else if (s.lastError) println(io.stderr, `zia: ${s.lastError}`);
  if (s.nextSyncAt) println(io.stdout, `next sync ${s.nextSyncAt}`);
}
