import type { Knex } from 'knex';

/**
 * Who changed what, when and from where: one row per write through the admin API or the CLI (and per
 * export of personal data). No foreign key to tenants, so a tenant's entries outlive the tenant, and
 * triggers refuse any UPDATE or DELETE, so not even a bug or a stray script can rewrite history: only
 * `zia migrate rollback` (dropping the table) removes entries.
 */
export const tables = ['audit_log'];

const REFUSED = 'audit_log entries cannot be changed or deleted';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_log', (t) => {
    t.string('id', 26).primary();
    t.timestamp('at', { useTz: true }).notNullable();
    t.string('tenant_id', 26);
    t.string('tenant_slug', 64);
    // admin | tenant-key | cli
    t.string('actor_kind', 16).notNullable();
    t.string('actor', 200).notNullable();
    t.string('ip', 64);
    t.string('request_id', 128);
    t.string('action', 64).notNullable();
    t.text('target');
    t.text('details').notNullable();
    // Lists go newest first by id (a ULID, so in time order), per tenant or for all, back to a time.
    t.index(['at'], 'audit_log_at');
    t.index(['tenant_id', 'id'], 'audit_log_tenant');
    // The slug still finds a deleted tenant's entries.
    t.index(['tenant_slug', 'id'], 'audit_log_tenant_slug');
  });
  if (knex.client.config.client === 'pg') {
    await knex.raw(`create function audit_log_refuse_change() returns trigger language plpgsql as $$
      begin raise exception '${REFUSED}'; end $$`);
    await knex.raw(`create trigger audit_log_no_update before update or delete on audit_log for each row execute function audit_log_refuse_change()`);
    // TRUNCATE skips row triggers: it gets a statement trigger of its own.
    await knex.raw(`create trigger audit_log_no_truncate before truncate on audit_log for each statement execute function audit_log_refuse_change()`);
  } else {
    await knex.raw(`create trigger audit_log_no_update before update on audit_log begin select raise(abort, '${REFUSED}'); end`);
    await knex.raw(`create trigger audit_log_no_delete before delete on audit_log begin select raise(abort, '${REFUSED}'); end`);
  }
}

export async function down(knex: Knex): Promise<void> {
  // Dropping the table drops its triggers; the PostgreSQL function they call goes after it.
  await knex.schema.dropTableIfExists('audit_log');
  if (knex.client.config.client === 'pg') await knex.raw('drop function if exists audit_log_refuse_change()');
}
