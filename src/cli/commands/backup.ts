import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../config.js';
import { auditCli, configFor, requireDatabase, withContext } from '../context.js';
import { interactive, printJson, println, UsageError, type CliIO, type ExitHolder } from '../io.js';

/** `zia backup` and `zia restore`: SQLite is copied online and restored in place; PostgreSQL gets the commands to run. */
export function registerBackup(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('backup')
    .description('Copy the SQLite database while zia runs (on PostgreSQL: print the pg_dump command)')
    .option('-o, --out <file>', 'where to write the copy (default: <ZIA_DATA_DIR>/backups/zia-<time>.sqlite)')
    .option('--json', 'print JSON')
    .action(async (opts: { out?: string; json?: boolean }) => {
      const config = await configFor(io);
      const { fileStamp } = await import('../../db/sqlite-backup.js');
      const stamp = fileStamp();
      if (config.dbClient === 'pg') {
        const out = opts.out ?? `zia-${stamp}.dump`;
        const command = `pg_dump --format=custom --no-owner --file=${shellQuote(out)} ${shellQuote(redactedUrl(config))}`;
        if (opts.json) printJson(io, { dialect: 'pg', command });
        else println(io.stdout, command);
        passwordNote(io, config);
        return;
      }
      requireDatabase(config, io);
      const { backupSqlite } = await import('../../db/sqlite-backup.js');
      const out = path.resolve(io.cwd, opts.out ?? path.join(path.dirname(config.sqlitePath), 'backups', `zia-${stamp}.sqlite`));
      const summary = await backupSqlite(config.sqlitePath, out);
      if (opts.json) printJson(io, { dialect: 'sqlite', file: out, ...summary });
      else println(io.stdout, `${out}  (${summary.bytes} bytes; ${describeRows(summary.rows)})`);
      exit.code = 0;
    });

  program
    .command('restore')
    .description('Replace the SQLite database with a backup; the server must be stopped (on PostgreSQL: print the pg_restore command)')
    .argument('<file>', 'a file written by `zia backup`')
    .option('-y, --yes', 'do not ask for confirmation (required without a TTY)')
    .option('--json', 'print JSON')
    .action(async (fileArg: string, opts: { yes?: boolean; json?: boolean }) => {
      const config = await configFor(io);
      const file = path.resolve(io.cwd, fileArg);
      if (config.dbClient === 'pg') {
        const { readFileSync } = await import('node:fs');
        let custom = !file.endsWith('.sql');
        try {
          custom = readFileSync(file).subarray(0, 5).toString('latin1') === 'PGDMP';
        } catch {
          // not readable from here (it may live on the database host): go by the file name
        }
        const url = shellQuote(redactedUrl(config));
        const command = custom
          ? `pg_restore --clean --if-exists --no-owner --single-transaction --dbname=${url} ${shellQuote(file)}`
          : `psql --single-transaction --set=ON_ERROR_STOP=1 --dbname=${url} --file=${shellQuote(file)}`;
        if (opts.json) printJson(io, { dialect: 'pg', command });
        else println(io.stdout, command);
        println(io.stderr, 'stop every zia server and worker first, then run the command above; start them again afterwards');
        passwordNote(io, config);
        return;
      }
      const [{ lockDataDir, DataDirLockedError }, { fileStamp, restoreSqlite }] = await Promise.all([
        import('../../db/data-dir-lock.js'),
        import('../../db/sqlite-backup.js'),
      ]);
      const dataDir = path.dirname(config.sqlitePath);
      let lock: { release(): void };
      try {
        // Held for the whole restore, so no server or worker can start on a half-replaced database.
        lock = lockDataDir(dataDir, ['server', 'worker']);
      } catch (err) {
        if (err instanceof DataDirLockedError) {
          throw new DataDirLockedError(`refusing to restore: ${err.message}`, err.role, err.pid);
        }
        throw err;
      }
      try {
        if (!opts.yes) {
          if (!interactive(io)) throw new UsageError(`refusing to replace ${config.sqlitePath} without --yes (no TTY to ask on)`);
          const { confirm } = await import('@inquirer/prompts');
          if (!(await confirm({ message: `Replace ${config.sqlitePath} with ${file}? (the current database is kept as a copy)`, default: false }))) {
            println(io.stderr, 'not restored');
            exit.code = 1;
            return;
          }
        }
        const keepAs = path.join(dataDir, 'backups', `zia-before-restore-${fileStamp()}.sqlite`);
        const { summary, kept } = await restoreSqlite(file, config.sqlitePath, keepAs);
        // Recorded in the restored database, the one zia runs on from now (brought up to date to hold it).
        await withContext(io, (s) => auditCli(s, io, { action: 'backup.restored', target: path.basename(file), details: { previous: kept ? path.basename(keepAs) : null } }).then(() => 0));
        if (opts.json) printJson(io, { dialect: 'sqlite', restored: file, database: config.sqlitePath, previous: kept ? keepAs : null, ...summary });
        else {
          println(io.stdout, `restored ${file} into ${config.sqlitePath} (${describeRows(summary.rows)})`);
          if (kept) println(io.stdout, `the database it replaced is kept at ${keepAs}`);
          println(io.stdout, 'start zia again (`zia serve`); it applies any migrations the backup is missing');
        }
        exit.code = 0;
      } finally {
        lock.release();
      }
    });
}

function describeRows(rows: Record<string, number>): string {
  return Object.entries(rows).map(([table, n]) => `${table} ${n}`).join(', ');
}

/** DATABASE_URL without its password: commands printed to a terminal end up in scrollback and logs. */
function redactedUrl(config: Config): string {
  const url = new URL(config.DATABASE_URL!);
  url.password = '';
  url.searchParams.delete('password');
  return url.toString();
}

function passwordNote(io: CliIO, config: Config): void {
  const url = new URL(config.DATABASE_URL!);
  if (url.password || url.searchParams.has('password')) {
    println(io.stderr, 'the password in DATABASE_URL is not shown: give it to the command through PGPASSWORD or ~/.pgpass');
  }
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
