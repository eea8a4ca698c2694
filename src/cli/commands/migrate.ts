import type { Command } from 'commander';
import { withContext } from '../context.js';
import { printJson, println, UsageError, type CliIO } from '../io.js';
import type { ExitHolder } from '../main.js';

export function registerMigrate(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('migrate')
    .description('Database schema: latest (default), rollback, status')
    .argument('[action]', 'latest | rollback | status', 'latest')
    .option('--all', 'with rollback: undo every migration')
    .option('--json', 'print the result as JSON')
    .action(async (action: string, opts: { all?: boolean; json?: boolean }) => {
      if (!['latest', 'rollback', 'status'].includes(action)) throw new UsageError(`unknown migrate action '${action}' (latest, rollback, status)`);
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
          const names = action === 'latest' ? await m.migrateLatest(db) : await m.migrateRollback(db, opts.all);
          if (opts.json) printJson(io, { dialect: db.dialect, action, migrations: names });
          else if (names.length === 0) println(io.stdout, action === 'latest' ? 'already up to date' : 'nothing to roll back');
          else for (const n of names) println(io.stdout, `${action === 'latest' ? 'applied' : 'rolled back'}  ${n}`);
          return 0;
        },
        { migrate: false, create: true },
      );
    });
}
