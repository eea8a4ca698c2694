import type { Knex } from 'knex';

/**
 * Jobs of one serial queue (a conversation's messages) run one at a time, in order. PostgreSQL's
 * queue engine has queue names of its own; this is the same for the embedded queue on SQLite, where
 * the `jobs` table is the whole queue (on PostgreSQL the column stays empty: it keeps only dead jobs).
 */
export const tables = ['jobs'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.string('queue_name', 64);
    // Due jobs are read in (run_at, id) order: jobs of one queue added in the same millisecond keep theirs.
    t.index(['status', 'run_at', 'id']);
    t.dropIndex(['status', 'run_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.index(['status', 'run_at']);
    t.dropIndex(['status', 'run_at', 'id']);
    t.dropColumn('queue_name');
  });
}
