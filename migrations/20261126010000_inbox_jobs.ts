import type { Knex } from 'knex';

/**
 * What the durable inbox and the job queue need beyond the first schema:
 * - webhook_deliveries.duplicates counts repeated deliveries of the same item (the row stays unique, the
 *   repeat is not lost), and .result keeps the turn's reply so a retry after a crash can still send it.
 * - jobs.job_key makes "at most one pending job per key" a lookup; on PostgreSQL the table holds only the
 *   jobs parked as dead (the queue engine keeps its live jobs in its own schema).
 * - job_workers: a heartbeat per queue-engine worker, so jobs locked by a killed process are released
 *   within seconds instead of the engine's own four-hour stale-lock window.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_deliveries', (t) => {
    t.integer('duplicates').notNullable().defaultTo(0);
    t.text('result');
  });
  await knex.schema.alterTable('jobs', (t) => {
    t.string('job_key', 191);
    t.index(['job_key']);
  });
  await knex.schema.createTable('job_workers', (t) => {
    t.string('worker_id', 64).primary();
    t.timestamp('beat_at', { useTz: true }).notNullable();
  });
}

/** The tables this migration's down() changes (shown before a rollback). */
export const tables = ['job_workers', 'jobs', 'webhook_deliveries'];

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('job_workers');
  await knex.schema.alterTable('jobs', (t) => {
    t.dropIndex(['job_key']);
    t.dropColumn('job_key');
  });
  await knex.schema.alterTable('webhook_deliveries', (t) => {
    t.dropColumn('duplicates');
    t.dropColumn('result');
  });
}
