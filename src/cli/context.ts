import { loadConfig, type Config } from '../config.js';
import { createServices, type Services } from '../container.js';
import { createLogger } from '../logger.js';
import type { CliIO } from './io.js';

export interface ContextOptions {
  /** 'config' uses LOG_LEVEL as configured; otherwise management commands stay quiet (warn) unless LOG_LEVEL is set. */
  logLevel?: 'config' | 'warn';
  /** Run migrations before the command (the data commands do, so a fresh install just works). */
  migrate?: boolean;
}

export function configFor(io: CliIO): Config {
  return loadConfig(io.env, io.cwd);
}

/** config → services → fn; the database is always closed afterwards, whatever fn does. */
export async function withContext(
  io: CliIO,
  fn: (services: Services) => Promise<number>,
  options: ContextOptions = {},
): Promise<number> {
  const config = configFor(io);
  const level = options.logLevel === 'config' || io.env.LOG_LEVEL ? config.LOG_LEVEL : 'warn';
  const logger = createLogger(level);
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
