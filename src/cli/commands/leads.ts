import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import type { Services } from '../../container.js';
import { auditCli, withContext } from '../context.js';
import { printJson, printTable, UsageError, type CliIO, type ExitHolder } from '../io.js';

/** --since/--until, validated like the API's query parameters. */
async function timeFlags(opts: { since?: string; until?: string }): Promise<{ since?: string; until?: string }> {
  const [{ z }, { isoTime }, { parseInput }] = await Promise.all([
    import('zod'),
    import('../../features/reports/reports.schemas.js'),
    import('../../validation.js'),
  ]);
  return parseInput(z.object({ since: isoTime.optional(), until: isoTime.optional() }), { since: opts.since, until: opts.until }, 'flags');
}

export function registerLeads(program: Command, io: CliIO, exit: ExitHolder): void {
  const leads = program.command('leads').description('Captured leads: list and export');

  leads
    .command('list')
    .argument('[slug]', 'tenant (all tenants when omitted)')
    .option('--since <time>', 'from this date/time (inclusive)')
    .option('--until <time>', 'before this date/time')
    .option('--limit <n>', 'rows per page (1-1000)', '50')
    .option('--cursor <cursor>', 'continue from a previous page')
    .option('--json', 'print JSON')
    .description('List leads, oldest first, a page at a time')
    .action(async (slug: string | undefined, opts: { since?: string; until?: string; limit: string; cursor?: string; json?: boolean }) => {
      const { since, until } = await timeFlags(opts);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be 1-1000');
      exit.code = await withContext(io, async (s) => {
        const tenantId = slug ? (await s.tenants.get(slug)).id : undefined;
        const page = await s.leadReport.page({ tenantId, since, until }, limit, opts.cursor);
        if (opts.json) printJson(io, page);
        else {
          printTable(io, ['CREATED', 'TENANT', 'NAME', 'EMAIL', 'WHATSAPP', 'CHANNEL'], page.leads.map((l) => [l.created_at, l.tenant, l.name, l.email, l.whatsapp, l.source_channel]));
          if (page.next_cursor) io.stderr.write(`more: --cursor ${page.next_cursor}\n`);
        }
        return 0;
      });
    });

  leads
    .command('export')
    .argument('[slug]', 'tenant')
    .option('--all', 'every tenant')
    .option('--since <time>', 'from this date/time (inclusive)')
    .option('--until <time>', 'before this date/time')
    .option('--format <format>', 'csv or jsonl', 'csv')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .description('Stream leads as CSV (RFC 4180, formula-safe) or JSON lines, in constant memory')
    .action(async (slug: string | undefined, opts: { all?: boolean; since?: string; until?: string; format: string; output?: string }) => {
      if (!slug && !opts.all) throw new UsageError('name a tenant or pass --all');
      if (slug && opts.all) throw new UsageError('pass either a tenant or --all, not both');
      if (opts.format !== 'csv' && opts.format !== 'jsonl') throw new UsageError('--format must be csv or jsonl');
      const { since, until } = await timeFlags(opts);
      exit.code = await withContext(io, async (s) => exportLeads(s, io, { slug, since, until, format: opts.format as 'csv' | 'jsonl', output: opts.output }));
    });
}

async function exportLeads(
  s: Services,
  io: CliIO,
  o: { slug?: string; since?: string; until?: string; format: 'csv' | 'jsonl'; output?: string },
): Promise<number> {
  const tenantId = o.slug ? (await s.tenants.get(o.slug)).id : undefined;
  const filter = { tenantId, since: o.since, until: o.until };
  const out: Writable = o.output ? createWriteStream(path.resolve(io.cwd, o.output)) : io.stdout;
  // A progress bar only where a person is watching and the data is not on the same terminal.
  const progress = o.output && io.stderr.isTTY ? await progressBar(io, await s.leadReport.count(filter)) : undefined;
  for await (const chunk of s.leadReport.export(filter, o.format, progress)) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  if (o.output) {
    out.end();
    await once(out, 'finish');
    if (progress) io.stderr.write('\n');
  }
  await auditCli(s, io, { action: 'leads.exported', ...(tenantId ? { tenant: { id: tenantId, slug: o.slug } } : {}), details: { format: o.format, since: o.since ?? null, until: o.until ?? null } });
  return 0;
}

async function progressBar(io: CliIO, total: number): Promise<(n: number) => void> {
  let last = 0;
  return (n) => {
    const now = Date.now();
    if (now - last < 100 && n < total) return;
    last = now;
    const ratio = total > 0 ? Math.min(1, n / total) : 1;
    const width = 30;
    const filled = Math.round(ratio * width);
    io.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${n}/${total} leads`);
  };
}
