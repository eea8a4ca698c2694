import type { Command } from 'commander';
import { formatMoney } from '../../features/payments/payment-service.js';
import type { Analytics } from '../../features/reports/analytics-read-model.js';
import type { RetentionStatus } from '../../features/contacts/retention-service.js';
import type { ChannelOutcomes, Metric, Outcomes } from '../../features/reports/outcomes-read-model.js';
import { withContext } from '../context.js';
import { colors, printJson, printTable, println, type CliIO, type ExitHolder } from '../io.js';

const DAY = 86_400_000;

export function registerStats(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('stats')
    .argument('<slug>')
    .option('--from <time>', 'start (default: 30 days ago)')
    .option('--to <time>', 'end (default: now)')
    .option('--interval <interval>', 'hour, day or week', 'day')
    .option('--json', 'print JSON')
    .description('Event counts and the funnels for a tenant, with bar charts, and outcomes against the previous period')
    .action(async (slug: string, opts: { from?: string; to?: string; interval: string; json?: boolean }) => {
      const [{ analyticsQuery }, { parseInput }] = await Promise.all([import('../../features/reports/reports.schemas.js'), import('../../validation.js')]);
      const q = parseInput(analyticsQuery, { from: opts.from, to: opts.to, interval: opts.interval }, 'flags');
      exit.code = await withContext(io, async (s) => {
        const tenant = await s.tenants.get(slug);
        const to = q.to ?? new Date().toISOString();
        const from = q.from ?? new Date(Date.parse(to) - 30 * DAY).toISOString();
        const a = await s.analytics.analytics({ tenantId: tenant.id, from, to, interval: q.interval });
        const retention = await s.retention.status(tenant);
        if (opts.json) printJson(io, { tenant: slug, ...a, retention });
        else {
          render(io, slug, a);
          renderRetention(io, retention);
        }
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
  outcomesTable(io, a.outcomes);
  if (a.series.length > 0) {
    println(io.stdout);
    println(io.stdout, c.bold(`per ${a.interval} (all events)`));
    bars(io, a.series.map((b) => [b.bucket, Object.values(b.counts).reduce((x, y) => x + y, 0)]));
  }
}

/** Channel rows that had anything in either period, then the total; the previous figure in parentheses. */
function outcomesTable(io: CliIO, o: Outcomes): void {
  println(io.stdout);
  println(io.stdout, colors(io).bold(`outcomes (previous period ${o.previous.from.slice(0, 10)} → ${o.previous.to.slice(0, 10)} in parentheses)`));
  const active = Object.entries(o.by_channel).filter(([, f]) => f.conversations.value! + f.conversations.previous! > 0 || Object.keys(f.paid_revenue).length > 0);
  const rows = [...active, ['total', o.total] as const].map(([channel, f]) => [channel, ...outcomeCells(f)]);
  printTable(io, ['channel', 'conversations', 'by the bot', 'handoff', 'lead', 'checkout → paid', 'revenue'], rows);
}

function outcomeCells(f: ChannelOutcomes): string[] {
  const count = (n: number | null) => String(n);
  const pct = (v: number | null) => (v === null ? '–' : `${Math.round(v * 1000) / 10}%`);
  const pair = (m: Metric, show: (v: number | null) => string) => `${show(m.value)} (${show(m.previous)})`;
  const checkout = (paid: number | null, of: number | null, rate: number | null) => `${paid}/${of} ${pct(rate)}`;
  const revenue = Object.entries(f.paid_revenue).map(([cur, m]) => pair(m, (v) => formatMoney(v!, cur)));
  return [
    pair(f.conversations, count),
    pair(f.resolved_by_bot, pct),
    pair(f.handoff_rate, pct),
    pair(f.lead_capture_rate, pct),
    `${checkout(f.paid_conversations.value, f.checkout_conversations.value, f.checkout_conversion.value)} (${checkout(f.paid_conversations.previous, f.checkout_conversations.previous, f.checkout_conversion.previous)})`,
    revenue.length > 0 ? revenue.join(', ') : '–',
  ];
}

function renderRetention(io: CliIO, r: RetentionStatus): void {
  println(io.stdout);
  if (r.days === null) {
    println(io.stdout, `${colors(io).bold('retention')}  not set: conversations are kept until erased (settings.retention_days)`);
    return;
  }
  const last = r.lastRun ? `last run ${r.lastRun.ranAt} (${r.lastRun.deleted} deleted)` : 'not run yet (hourly, by a worker)';
  println(io.stdout, `${colors(io).bold('retention')}  ${r.days} days: ${r.past} conversations past it; ${last}`);
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
