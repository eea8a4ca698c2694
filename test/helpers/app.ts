import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config.js';
import { createServices, type ServiceOptions, type Services } from '../../src/container.js';
import type { Dialect } from '../../src/db/create-db.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { createApp } from '../../src/http/create-app.js';
import { createHttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { freshDatabase } from './db.js';

export const ADMIN_KEY = 'test-admin-key-0123456789';
export const SECRET_KEY = randomBytes(32).toString('hex');

/** Log lines of an in-process app, kept so tests can assert that secrets never reach a log. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface TestApp {
  url: string;
  services: Services;
  config: Config;
  logs: LogCapture;
  env: Record<string, string>;
  close(): Promise<void>;
  /** fetch against the app with the admin key (unless headers say otherwise). */
  admin(path: string, init?: RequestInit): Promise<Response>;
}

export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = { ADMIN_KEY, ZIA_SECRET_KEY: SECRET_KEY, LOG_LEVEL: 'info', SITE_URL: 'http://127.0.0.1' };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** An in-process zia app on a fresh migrated database, listening on 127.0.0.1 on a free port. */
export async function startApp(
  dialect: Dialect,
  extraEnv: Record<string, string | undefined> = {},
  /** Dependencies the composition root takes from outside (catalog, senders), for tests that need them. */
  options: Omit<ServiceOptions, 'db' | 'dbOptions'> = {},
  /** A fixed port, for a test whose SITE_URL must be the app's own address (see freePort). */
  listen: { port?: number } = {},
): Promise<TestApp> {
  const fresh = await freshDatabase(dialect);
  const env = { ...baseEnv(extraEnv), ...fresh.env };
  const config = loadConfig(env, '/nonexistent-cwd-for-tests');
  const logs = new LogCapture();
  const logger = createLogger(config.LOG_LEVEL, logs);
  const services = createServices(config, logger, options);
  await migrateLatest(services.db);
  const app = createApp(services);
  const server: Server = await new Promise((resolve) => {
    const s = createHttpServer(app, config).listen(listen.port ?? 0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    services,
    config,
    logs,
    env,
    admin: (path, init = {}) =>
      fetch(`${url}${path}`, {
        ...init,
        headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY, ...(init.headers as Record<string, string>) },
      }),
    async close() {
      services.shutdown.abort();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await services.close();
      await fresh.cleanup();
    },
  };
}

/** A port free at the moment of asking, for an app that must know its own URL before it listens. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}
