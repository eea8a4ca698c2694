import type { Config } from '../config.js';
import type { Services } from '../container.js';
import type { CliIO } from './io.js';

// Everything heavy (zod schemas, knex, the services) is imported when a command runs, not when the
// CLI starts: `zia --help` must stay close to a bare `node` start.

export interface ContextOptions {
  /** 'config' uses LOG_LEVEL as configured; otherwise management commands stay quiet (warn) unless LOG_LEVEL is set. */
  logLevel?: 'config' | 'warn';
  /** Run migrations before the command (the data commands do, so a fresh install just works). */
  migrate?: boolean;
  /**
   * Where logs go: the long-running processes (serve, worker) log to stdout, as services under a
   * process manager do; every other command keeps stdout for its data and logs to stderr.
   */
  logTo?: 'stdout' | 'stderr';
}

export async function configFor(io: CliIO): Promise<Config> {
  const { loadConfig } = await import('../config.js');
  return loadConfig(io.env, io.cwd);
}

/** config → services → fn; the database is always closed afterwards, whatever fn does. */
export async function withContext(
  io: CliIO,
  fn: (services: Services) => Promise<number>,
  options: ContextOptions = {},
): Promise<number> {
  const config = await configFor(io);
  const [{ createServices }, { createLogger, stdoutDestination }] = await Promise.all([import('../container.js'), import('../logger.js')]);
  const level = options.logLevel === 'config' || io.env.LOG_LEVEL ? config.LOG_LEVEL : 'warn';
  const logger = createLogger(level, options.logTo === 'stdout' ? await stdoutDestination(io, config.LOG_FORMAT) : undefined);
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
}
