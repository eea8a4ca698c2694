import type { Knex } from 'knex';

/**
 * Personal data: every erasure of a person is recorded (what identified them only as a SHA-256 hash,
 * so the record itself holds nothing personal), and each tenant's last retention run, so an operator
 * can tell that expired conversations are being deleted.
 */
export const tables = ['contact_erasures', 'retention_runs'];

export async function up(knex: Knex): Promise<void> {
  const pg = knex.client.config.client === 'pg';
  await knex.schema.createTable('contact_erasures', (t) => {
    t.string('id', 26).primary();
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    // The pseudonym (erased:<ulid>) that the person's kept conversations, events and orders now carry.
    t.string('reference', 64).notNullable();
    t.string('identifier_kind', 16).notNullable();
    t.string('identifier_hash', 64).notNullable();
    if (pg) t.jsonb('counts').notNullable();
    else t.text('counts').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['tenant_id', 'created_at']);
    t.index(['tenant_id', 'identifier_hash']);
  });
  await knex.schema.createTable('retention_runs', (t) => {
    t.string('tenant_id', 26).primary().references('id').inTable('tenants').onDelete('CASCADE');
    t.timestamp('ran_at', { useTz: true }).notNullable();
    t.integer('conversations_deleted').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('retention_runs');
  await knex.schema.dropTableIfExists('contact_erasures');
}
