import type { Command } from 'commander';
import { withContext } from '../context.js';
import { printJson, printTable, type CliIO, type ExitHolder } from '../io.js';

interface AuditOptions {
  tenant?: string;
  since?: string;
  limit: string;
  before?: string;
  json?: boolean;
}

/** `zia audit`: who changed what, when and from where (API and CLI writes, exports of personal data). */
export function registerAudit(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('audit')
    .description('The audit log, newest first: who changed what, when, from where')
    .option('--tenant <slug>', "one tenant's entries (a deleted tenant's too)")
    .option('--since <time>', 'from this date/time, or this long ago (7d, 12h, 30m, 2w)')
    .option('--limit <n>', 'entries per page (1-1000)', '50')
    .option('--before <id>', 'older than this entry (the next page)')
    .option('--json', 'print JSON')
    .action(async (opts: AuditOptions) => {
      const [{ parseInput }, { auditListQuery }, { auditView }] = await Promise.all([
        import('../../validation.js'),
        import('../../features/audit/audit.schemas.js'),
        import('../../features/audit/audit-log.js'),
      ]);
      const query = parseInput(auditListQuery, { tenant: opts.tenant, since: opts.since, limit: opts.limit, before: opts.before }, 'flags');
      exit.code = await withContext(io, async (s) => {
        const page = await s.audit.list(undefined, { tenantSlug: query.tenant, since: query.since, before: query.before, limit: query.limit });
        const entries = page.entries.map(auditView);
        if (opts.json) printJson(io, { entries, next_cursor: page.nextCursor });
        else {
          printTable(
            io,
            ['AT', 'ACTOR', 'ACTION', 'TENANT', 'TARGET', 'FROM', 'DETAILS'],
            entries.map((e) => [e.at, e.actor, e.action, e.tenant_slug, e.target, e.ip, Object.keys(e.details).length > 0 ? JSON.stringify(e.details) : '']),
          );
          if (page.nextCursor) io.stderr.write(`more: --before ${page.nextCursor}\n`);
        }
        return 0;
      });
    });
}
