import type { Command } from 'commander';
import { migrateLatest } from '../../db/migrate.js';
import { withContext } from '../context.js';
import { println, withConcurrency, type CliIO, type ExitHolder } from '../io.js';
import { startMetrics } from './serve.js';

/** `zia worker`: the background worker alone, for scale-out (N servers with --no-worker, M workers). */
export function registerWorker(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('worker')
    .description('Run the background worker alone (webhook processing, sends) until SIGTERM')
    .option('--concurrency <n>', 'jobs handled at once, 1-256 (default ZIA_WORKER_CONCURRENCY or 32)')
    .action(async (opts: { concurrency?: string }) => {
      exit.code = await withContext(
        withConcurrency(io, opts.concurrency),
        async (services) => {
          const applied = await migrateLatest(services.db);
          if (applied.length > 0) services.logger.info({ applied }, 'migrations applied');
          await services.jobs.prepare();
          if (services.jobs.backend === 'sqlite') services.logger.warn('SQLite is owned by one process: run `zia serve --no-worker` beside this worker, never a second worker');
          const worker = await services.startWorker();
          println(io.stdout, `zia worker running (${services.jobs.backend}, concurrency ${services.config.ZIA_WORKER_CONCURRENCY})`);
          const metrics = await startMetrics(services, io);
          await new Promise<void>((resolve) => {
            const signal = io.stopSignal;
            if (!signal) return;
            if (signal.aborted) resolve();
            else signal.addEventListener('abort', () => resolve(), { once: true });
          });
          services.logger.info('worker shutting down: finishing jobs in progress');
          services.shutdown.abort();
          await worker.stop();
          await metrics?.close();
          return 0;
        },
        { logLevel: 'config', migrate: false, logTo: 'stdout', create: true, lock: ['worker'] },
      );
    });
}
