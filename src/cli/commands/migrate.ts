import type { Command } from 'commander';
import { withContext } from '../context.js';
import { interactive, printJson, println, UsageError, type CliIO, type ExitHolder } from '../io.js';
import type { RollbackPlan } from '../../db/migrate.js';

const STOP_SERVERS = 'stop every zia server and worker on this database first; they still run on the old schema until restarted';

function describe(plan: RollbackPlan): string {
  const n = plan.migrations.length;
  const what = plan.scope === 'step' ? 'the newest migration' : plan.scope === 'all' ? 'every migration' : 'the last batch';
  return `roll back ${what}: ${n} migration${n === 1 ? '' : 's'} (${plan.migrations.join(', ')}), touching ${plan.tables.length} table${plan.tables.length === 1 ? '' : 's'} (${plan.tables.join(', ') || 'none declared'})`;
}

export function registerMigrate(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('migrate')
    .description('Database schema: latest (default), rollback, status')
    .argument('[action]', 'latest | rollback | status', 'latest')
    .option('--all', 'with rollback: undo every migration')
    .option('--step', 'with rollback: undo only the newest migration')
    .option('-y, --yes', 'with rollback: do not ask for confirmation (required without a TTY)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `\nrollback undoes the last batch, which on a normal install is every migration (every table is dropped).\nIt names the migrations and tables first, asks on a TTY and needs --yes otherwise; ${STOP_SERVERS}.`)
    .action(async (action: string, opts: { all?: boolean; step?: boolean; yes?: boolean; json?: boolean }) => {
      if (!['latest', 'rollback', 'status'].includes(action)) throw new UsageError(`unknown migrate action '${action}' (latest, rollback, status)`);
      if ((opts.all || opts.step || opts.yes) && action !== 'rollback') throw new UsageError('--all, --step and --yes go with rollback');
      if (opts.all && opts.step) throw new UsageError('pass either --all or --step, not both');
      exit.code = await withContext(
        io,
        async ({ db }) => {
          const m = await import('../../db/migrate.js');
          if (action === 'status') {
            const status = await m.migrationStatus(db);
            if (opts.json) printJson(io, { dialect: db.dialect, ...status });
            else {
              println(io.stdout, `database: ${db.dialect}`);
              for (const a of status.applied) println(io.stdout, `applied  ${a}`);
              for (const p of status.pending) println(io.stdout, `pending  ${p}`);
            }
            return 0;
          }
          if (action === 'latest') {
            const names = await m.migrateLatest(db);
            if (opts.json) printJson(io, { dialect: db.dialect, action, migrations: names });
            else if (names.length === 0) println(io.stdout, 'already up to date');
            else for (const n of names) println(io.stdout, `applied  ${n}`);
            return 0;
          }
          const plan = await m.rollbackPlan(db, opts.all ? 'all' : opts.step ? 'step' : 'batch');
          if (plan.migrations.length === 0) {
            if (opts.json) printJson(io, { dialect: db.dialect, action, migrations: [], tables: [] });
            else println(io.stdout, 'nothing to roll back');
            return 0;
          }
          if (!opts.yes) {
            if (!interactive(io)) throw new UsageError(`refusing to ${describe(plan)} without --yes (no TTY to ask on); ${STOP_SERVERS}`);
            println(io.stdout, `This will ${describe(plan)}. Rows in dropped tables are lost.`);
            println(io.stdout, `${STOP_SERVERS[0]!.toUpperCase()}${STOP_SERVERS.slice(1)}.`);
            const { confirm } = await import('@inquirer/prompts');
            if (!(await confirm({ message: 'Roll back now?', default: false }))) {
              println(io.stderr, 'nothing rolled back');
              return 1;
            }
          } else if (!opts.json) println(io.stdout, `${describe(plan)}; rows in dropped tables are lost; ${STOP_SERVERS}`);
          const names = await m.migrateRollback(db, plan.scope);
          if (opts.json) printJson(io, { dialect: db.dialect, action, scope: plan.scope, migrations: names, tables: plan.tables });
          else for (const n of names) println(io.stdout, `rolled back  ${n}`);
          return 0;
        },
        { migrate: false, create: true },
      );
    });
}
