import type { Knex } from 'knex';

/**
 * Who is fetching a tenant's catalog right now, and until when: a process claims the row before it
 * fetches, so every process on the database shares one fetch per tenant (see CatalogService). Times
 * are the database's own clock, so hosts whose clocks disagree still agree on when a claim runs out.
 */
export const tables = ['catalog_fetch_leases'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('catalog_fetch_leases', (t) => {
    t.string('tenant_id', 26).primary().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('holder', 64).notNullable();
    // SQLite keeps ISO-8601 text (compared as text); PostgreSQL a timestamptz.
    if (knex.client.config.client === 'pg') t.timestamp('expires_at', { useTz: true }).notNullable();
    else t.text('expires_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('catalog_fetch_leases');
}
