import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Command } from 'commander';
import { withContext } from '../context.js';
import { println, UsageError, withConcurrency, type CliIO, type ExitHolder } from '../io.js';
import type { Services } from '../../container.js';

interface ServeOptions {
  port?: string;
  host?: string;
  worker: boolean;
  concurrency?: string;
}

export function registerServe(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('serve')
    .description('Migrate the database, then run the HTTP/SSE server and the background worker')
    .option('-p, --port <port>', 'listen port (default PORT or 8000; 0 picks a free port)')
    .option('--host <host>', 'listen address (default HOST or 0.0.0.0)')
    .option('--no-worker', 'serve HTTP only; run `zia worker` elsewhere')
    .option('--concurrency <n>', "the worker's jobs handled at once, 1-256 (default ZIA_WORKER_CONCURRENCY or 32)")
    .action(async (opts: ServeOptions) => {
      const port = opts.port === undefined ? undefined : Number(opts.port);
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new UsageError(`--port must be 0-65535, got '${opts.port}'`);
      const env = withConcurrency(io, opts.concurrency);
      exit.code = await withContext(env, (services) => serve(services, env, { port, host: opts.host, worker: opts.worker }), {
        logLevel: 'config',
        migrate: false,
        logTo: 'stdout',
        create: true,
        lock: opts.worker ? ['server', 'worker'] : ['server'],
      });
    });
}

export async function serve(services: Services, io: CliIO, opts: { port?: number; host?: string; worker: boolean }): Promise<number> {
  const { config, logger } = services;
  const started = performance.now();
  const [{ createApp }, { createHttpServer }, { migrateLatest }, { Drain }] = await Promise.all([
    import('../../http/create-app.js'),
    import('../../http/server.js'),
    import('../../db/migrate.js'),
    import('../../http/drain.js'),
  ]);
  // The job queue's own storage (graphile-worker's schema on PostgreSQL, apart from zia's tables) is
  // prepared alongside zia's migrations and while the server starts listening; an enqueue before it is
  // ready waits for the same promise.
  const preparing = services.jobs.prepare();
  preparing.catch(() => undefined);
  const applied = await migrateLatest(services.db);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');

  const drain = new Drain();
  const app = createApp(services, { drain });
  const server: Server = createHttpServer(app, config).listen(opts.port ?? config.PORT, opts.host ?? config.HOST);
  await once(server, 'listening');
  // Keep-alive longer than typical load balancer idle timeouts, so the balancer closes first. (An idle
  // kept-alive connection is not waiting for headers: headersTimeout starts with a request's first byte.)
  server.keepAliveTimeout = 65_000;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  await preparing;
  const worker = opts.worker ? await services.startWorker() : undefined;
  const metricsServer = await startMetrics(services, io, opts.host);

  const where = services.db.dialect === 'sqlite' ? `sqlite ${config.sqlitePath}` : 'postgresql';
  println(io.stdout, `zia listening on http://${opts.host ?? config.HOST}:${port} (${where}, ${config.aiProvider} AI, worker ${worker ? 'on' : 'off'})`);
  logger.info({ port, database: services.db.dialect, ai: config.aiProvider, ms: Math.round(performance.now() - started) }, 'ready');

  await waitForStop(io.stopSignal);
  logger.info({ in_flight: drain.requests, delay_ms: config.ZIA_DRAIN_DELAY_MS, timeout_ms: config.ZIA_DRAIN_TIMEOUT_MS }, 'draining: /readyz answers 503, finishing in-flight requests');
  const drained = await drain.start(config.ZIA_DRAIN_DELAY_MS, config.ZIA_DRAIN_TIMEOUT_MS);
  if (!drained) logger.warn({ in_flight: drain.requests }, 'drain deadline passed: ending open streams and connections');
  // Streams still open end now with their abort; anything else gets a moment before its socket closes.
  services.shutdown.abort();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), drained ? 0 : 1_000);
  await closed;
  clearTimeout(timer);
  await worker?.stop();
  await metricsServer?.close();
  logger.info('stopped');
  return 0;
}

/** /metrics on ZIA_METRICS_PORT when set (`zia worker` serves its job metrics the same way). */
export async function startMetrics(services: Services, io: CliIO, host?: string) {
  const { config } = services;
  if (config.ZIA_METRICS_PORT === undefined) return undefined;
  const { startMetricsServer } = await import('../../http/metrics-server.js');
  services.metrics.collectProcessMetrics();
  const listenHost = config.ZIA_METRICS_HOST ?? host ?? config.HOST;
  const server = await startMetricsServer(services.metrics.registry, { host: listenHost, port: config.ZIA_METRICS_PORT, token: config.ZIA_METRICS_TOKEN });
  println(io.stdout, `zia metrics on http://${listenHost}:${server.port}/metrics`);
  return server;
}

function waitForStop(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return; // no way to be stopped: run until the process ends
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
