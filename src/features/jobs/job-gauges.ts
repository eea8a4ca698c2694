import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../logger.js';
import type { ManagedJobQueue } from './job-queue.js';

/**
 * `zia_jobs{state}`: read from the job store when Prometheus scrapes (one grouped count), so nothing is
 * counted on the hot path and every process reports the same shared queue.
 */
export function jobGauges(registry: Registry, jobs: Pick<ManagedJobQueue, 'counts'>, logger: Logger): void {
  new Gauge({
    name: 'zia_jobs',
    help: 'Background jobs by state: queued (not yet tried), running, failed (waiting to retry), dead (parked)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      try {
        const counts = await jobs.counts();
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      } catch (err) {
        // A scrape must not fail because the database is briefly away; the gauge keeps its last values.
        logger.warn({ err }, 'job metrics could not be read');
      }
    },
  });
}
