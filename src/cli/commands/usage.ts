import type { Command } from 'commander';
import { formatMoney } from '../../features/payments/payment-service.js';
import type { TenantUsage } from '../../features/usage/usage-report.js';
import { withContext } from '../context.js';
import { printJson, printTable, UsageError, type CliIO, type ExitHolder } from '../io.js';

const FORMATS = ['table', 'csv', 'json'] as const;

export function registerUsage(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('usage')
    .description('Usage per tenant for a month, for billing: conversations, messages, model tokens and cost, checkouts, payments, caps')
    .argument('[slug]', 'one tenant (default: every tenant)')
    .option('--month <YYYY-MM>', 'the month, UTC (default: this month)')
    .option('--format <format>', 'table, csv (month,tenant,metric,dimension,value) or json', 'table')
    .action(async (slug: string | undefined, opts: { month?: string; format: string }) => {
      const [{ monthSchema }, { currentMonth }, { USAGE_CSV_HEADER }, { csvRow }] = await Promise.all([
        import('../../features/usage/usage.schemas.js'),
        import('../../features/usage/usage-store.js'),
        import('../../features/usage/usage-routes.js'),
        import('../../features/reports/csv.js'),
      ]);
      if (opts.month !== undefined && !monthSchema.safeParse(opts.month).success) throw new UsageError(`--month must be YYYY-MM, got '${opts.month}'`);
      if (!(FORMATS as readonly string[]).includes(opts.format)) throw new UsageError(`--format must be table, csv or json, got '${opts.format}'`);
      const month = opts.month ?? currentMonth();
      exit.code = await withContext(io, async (s) => {
        const tenant = slug ? await s.tenants.get(slug) : undefined;
        if (opts.format === 'csv') {
          io.stdout.write(csvRow(USAGE_CSV_HEADER));
          for (const r of await s.usage.csvRows(month, tenant)) io.stdout.write(csvRow([r.month, r.tenant, r.metric, r.dimension, r.value]));
          return 0;
        }
        const tenants = await s.usage.month(month, tenant);
        if (opts.format === 'json') printJson(io, { month, tenants });
        else table(io, month, tenants);
        return 0;
      });
    });
}

function table(io: CliIO, month: string, tenants: TenantUsage[]): void {
  printTable(
    io,
    ['TENANT', 'MONTH', 'CONVERSATIONS', 'MSGS IN', 'MSGS OUT', 'MODEL REQS', 'TOKENS IN', 'TOKENS OUT', 'COST USD', 'CHECKOUTS', 'PAID', 'CAPS'],
    tenants.map((t) => [
      t.tenant,
      month,
      t.conversations.total,
      t.messages_in.total,
      t.messages_out.total,
      t.models.reduce((n, m) => n + m.requests, 0),
      t.models.reduce((n, m) => n + m.tokens_in, 0),
      t.models.reduce((n, m) => n + m.tokens_out, 0),
      t.model_cost_usd.toFixed(4),
      t.checkout_sessions,
      t.payments.map((p) => formatMoney(p.amount, p.currency)).join(', '),
      t.caps.map((c) => `${c.cap} ${Math.round(c.share * 100)}%`).join(', '),
    ]),
  );
}
