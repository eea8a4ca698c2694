import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Services } from '../container.js';
import type { AuditEntryInput } from '../features/audit/audit-log.js';
import type { LockRole } from '../db/data-dir-lock.js';
import { AppError } from '../errors.js';
import type { CliIO } from './io.js';

// Everything heavy (zod schemas, knex, the services) is imported when a command runs, not when the
// CLI starts: `zia --help` must stay close to a bare `node` start.

export interface ContextOptions {
  /** 'config' uses LOG_LEVEL as configured; otherwise management commands stay quiet (warn) unless LOG_LEVEL is set. */
  logLevel?: 'config' | 'warn';
  /** Run migrations before the command (the data commands do, so an older database is brought up to date). */
  migrate?: boolean;
  /**
   * Where logs go: the long-running processes (serve, worker) log to stdout, as services under a
   * process manager do; every other command keeps stdout for its data and logs to stderr.
   */
  logTo?: 'stdout' | 'stderr';
  /**
   * May this command create the SQLite file? Only serve, worker, init and migrate: any other command
   * run from the wrong directory would otherwise make an empty database and report "no tenants".
   */
  create?: boolean;
  /** Roles this process takes on the embedded data directory (serve, worker); see lockDataDir. */
  lock?: LockRole[];
}

export async function configFor(io: CliIO): Promise<Config> {
  const { loadConfig } = await import('../config.js');
  return loadConfig(io.env, io.cwd);
}

/** Fails with where zia looked, and how to point it elsewhere, when the SQLite file does not exist. */
export function requireDatabase(config: Config, io: CliIO): void {
  if (config.dbClient !== 'sqlite' || existsSync(config.sqlitePath)) return;
  const envFile = path.join(io.cwd, '.env');
  throw new AppError(
    404,
    'no_database',
    `no zia database at ${config.sqlitePath} (ZIA_DATA_DIR=${config.ZIA_DATA_DIR}, ${existsSync(envFile) ? `with ${envFile}` : `no .env in ${io.cwd}`}): ` +
      'run zia in the directory that holds its .env, or set ZIA_DATA_DIR (or DATABASE_URL); `zia migrate` (or `zia init --demo`) creates a new one',
  );
}

/** config → services → fn; the database is always closed afterwards, whatever fn does. */
export async function withContext(
  io: CliIO,
  fn: (services: Services) => Promise<number>,
  options: ContextOptions = {},
): Promise<number> {
  const config = await configFor(io);
  if (!options.create) requireDatabase(config, io);
  const [{ createServices }, { createLogger, stdoutDestination }] = await Promise.all([import('../container.js'), import('../logger.js')]);
  let lock: { release(): void } | undefined;
  if (options.lock && config.dbClient === 'sqlite') {
    const { lockDataDir } = await import('../db/data-dir-lock.js');
    lock = lockDataDir(path.dirname(config.sqlitePath), options.lock);
  }
  const level = options.logLevel === 'config' || io.env.LOG_LEVEL ? config.LOG_LEVEL : 'warn';
  const logger = createLogger(level, options.logTo === 'stdout' ? await stdoutDestination(io, config.LOG_FORMAT) : undefined);
  try {
    const services = createServices(config, logger);
    try {
      if (options.migrate !== false) {
        const { migrateLatest } = await import('../db/migrate.js');
        await migrateLatest(services.db);
      }
      return await fn(services);
    } finally {
      await services.close();
      logger.flush();
    }
  } finally {
    lock?.release();
  }
}

/** The operator at this terminal, as the audit log names them (`cli:<user>`). */
export function cliUser(io: CliIO): string {
  try {
    const name = userInfo().username;
    if (name) return name;
  } catch {
    // no passwd entry for this uid (some containers): fall back to the environment
  }
  return io.env.USER || 'unknown';
}

/** Records a write (or an export of personal data) made from the CLI in the audit log. */
export async function auditCli(services: Services, io: CliIO, entry: Omit<AuditEntryInput, 'actor'>): Promise<void> {
  await services.audit.record({ actor: { kind: 'cli', user: cliUser(io) }, ...entry });
}
