import type { Knex } from 'knex';

/**
 * The tenant a job works for, so each tenant's jobs running at once can be held to its share (see
 * TenantShares). On SQLite the `jobs` table is the whole queue; on PostgreSQL it keeps dead jobs,
 * which take their tenant with them when replayed (live jobs carry it as a flag of the queue engine).
 */
export const tables = ['jobs'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.string('tenant_id', 64);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('jobs', (t) => {
    t.dropColumn('tenant_id');
  });
}
