import type { Command } from 'commander';
import type { Analytics } from '../../features/reports/analytics-read-model.js';
import { withContext } from '../context.js';
import { colors, printJson, println, type CliIO, type ExitHolder } from '../io.js';

const DAY = 86_400_000;

export function registerStats(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('stats')
    .argument('<slug>')
    .option('--from <time>', 'start (default: 30 days ago)')
    .option('--to <time>', 'end (default: now)')
    .option('--interval <interval>', 'hour, day or week', 'day')
    .option('--json', 'print JSON')
    .description('Event counts and the funnels for a tenant, with bar charts')
    .action(async (slug: string, opts: { from?: string; to?: string; interval: string; json?: boolean }) => {
      const [{ analyticsQuery }, { parseInput }] = await Promise.all([import('../../features/reports/reports.schemas.js'), import('../../validation.js')]);
      const q = parseInput(analyticsQuery, { from: opts.from, to: opts.to, interval: opts.interval }, 'flags');
      exit.code = await withContext(io, async (s) => {
        const tenant = await s.tenants.get(slug);
        const to = q.to ?? new Date().toISOString();
        const from = q.from ?? new Date(Date.parse(to) - 30 * DAY).toISOString();
        const a = await s.analytics.analytics({ tenantId: tenant.id, from, to, interval: q.interval });
        if (opts.json) printJson(io, { tenant: slug, ...a });
        else render(io, slug, a);
        return 0;
      });
    });
}

function render(io: CliIO, slug: string, a: Analytics): void {
  const c = colors(io);
  println(io.stdout, c.bold(`${slug}: ${a.from.slice(0, 10)} → ${a.to.slice(0, 10)}`));
  println(io.stdout);
  println(io.stdout, c.bold('events'));
  bars(io, Object.entries(a.totals).sort((x, y) => y[1] - x[1]));
  for (const [name, steps] of Object.entries(a.funnels)) {
    println(io.stdout);
    println(io.stdout, c.bold(`funnel: ${name}`));
    bars(io, steps.map((s) => [`${s.step}${s.rate !== null ? ` (${Math.round(s.rate * 100)}%)` : ''}`, s.count]));
  }
  const h = a.handoff;
  println(io.stdout);
  println(io.stdout, c.bold('handoff'));
  const wait = (s: number | null) => (s === null ? '–' : s < 120 ? `${s} s` : `${Math.round(s / 6) / 10} min`);
  println(io.stdout, `  requests for a person  ${h.requests} (${h.first_human_reply.answered} answered, ${h.first_human_reply.unanswered} not yet)`);
  println(io.stdout, `  first human reply      p50 ${wait(h.first_human_reply.p50_seconds)}, p90 ${wait(h.first_human_reply.p90_seconds)}`);
  println(io.stdout, `  conversations          ${h.conversations.total}: ${h.conversations.bot_only} by the bot alone, ${h.conversations.with_human} with a person`);
  if (a.series.length > 0) {
    println(io.stdout);
    println(io.stdout, c.bold(`per ${a.interval} (all events)`));
    bars(io, a.series.map((b) => [b.bucket, Object.values(b.counts).reduce((x, y) => x + y, 0)]));
  }
}

function bars(io: CliIO, rows: Array<[string, number]>): void {
  if (rows.length === 0) {
    println(io.stdout, '  (none)');
    return;
  }
  const max = Math.max(...rows.map((r) => r[1]), 1);
  const label = Math.max(...rows.map((r) => r[0].length));
  const width = Math.max(10, Math.min(40, (io.stdout.columns ?? 80) - label - 14));
  for (const [name, n] of rows) {
    println(io.stdout, `  ${name.padEnd(label)}  ${'█'.repeat(Math.round((n / max) * width)).padEnd(width)}  ${n}`);
  }
}
