import type { Knex } from 'knex';

/**
 * The whole data model of DESIGN.md §3 in one first migration, so later work adds migrations instead of
 * fighting over the schema. JSON columns are jsonb on PostgreSQL and text on SQLite (knex maps `json`);
 * timestamps are written by the app as ISO-8601 UTC text (timestamptz on PostgreSQL).
 */

function timestamps(t: Knex.CreateTableBuilder, knex: Knex): void {
  t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
}

function json(t: Knex.CreateTableBuilder, name: string, isPg: boolean) {
  return isPg ? t.jsonb(name) : t.text(name);
}

export async function up(knex: Knex): Promise<void> {
  const isPg = knex.client.config.client === 'pg';

  await knex.schema.createTable('tenants', (t) => {
    t.string('id', 26).primary();
    t.string('slug', 64).notNullable().unique();
    t.string('name', 200).notNullable();
    t.string('whatsapp', 32);
    json(t, 'settings', isPg).notNullable();
    t.text('secrets');
    // Routing columns, kept in sync with settings, so webhook lookups are one indexed query.
    t.string('fb_page_id', 64).unique();
    t.string('ig_user_id', 64).unique();
    t.string('whatsapp_from', 64).unique();
    t.string('stripe_account_id', 64).unique();
    t.boolean('charges_enabled').notNullable().defaultTo(false);
    t.boolean('details_submitted').notNullable().defaultTo(false);
    timestamps(t, knex);
  });

  await knex.schema.createTable('conversations', (t) => {
    t.string('id', 26).primary();
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('channel', 16).notNullable();
    t.string('external_user_id', 128).notNullable();
    t.string('user_name', 200);
    json(t, 'lead_state', isPg);
    t.boolean('bot_paused').notNullable().defaultTo(false);
    t.timestamp('last_inbound_at', { useTz: true });
    timestamps(t, knex);
    t.unique(['tenant_id', 'channel', 'external_user_id']);
    t.index(['tenant_id', 'updated_at']);
  });

  await knex.schema.createTable('messages', (t) => {
    t.string('id', 26).primary();
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('conversation_id', 26).notNullable().references('id').inTable('conversations').onDelete('CASCADE');
    t.string('channel', 16).notNullable();
    t.string('role', 16).notNullable();
    t.text('text').notNullable();
    t.string('provider_message_id', 191);
    t.string('delivery_status', 24);
    t.string('error_code', 32);
    json(t, 'media', isPg);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['tenant_id', 'channel', 'provider_message_id']);
    t.index(['tenant_id', 'conversation_id', 'created_at']);
  });

  await knex.schema.createTable('leads', (t) => {
    t.string('id', 26).primary();
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('conversation_id', 26).references('id').inTable('conversations').onDelete('SET NULL');
    t.string('name', 200);
    t.string('email', 320).notNullable();
    t.string('whatsapp', 32);
    t.string('source_channel', 16).notNullable();
    timestamps(t, knex);
    t.unique(['tenant_id', 'email']);
    t.index(['tenant_id', 'created_at', 'id']);
  });

  await knex.schema.createTable('events', (t) => {
    t.string('id', 26).primary();
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('type', 48).notNullable();
    t.string('conversation_id', 26);
    json(t, 'data', isPg);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['tenant_id', 'type', 'created_at']);
    t.index(['tenant_id', 'created_at']);
  });

  await knex.schema.createTable('orders', (t) => {
    t.string('id', 26).primary();
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('conversation_id', 26).references('id').inTable('conversations').onDelete('SET NULL');
    t.string('stripe_session_id', 255).unique();
    t.string('stripe_subscription_id', 255);
    t.string('kind', 8).notNullable();
    t.string('ref', 191).notNullable();
    t.string('name', 300);
    t.integer('quantity').notNullable().defaultTo(1);
    t.bigInteger('amount').notNullable();
    t.string('currency', 3).notNullable();
    t.string('status', 16).notNullable().defaultTo('open');
    t.string('customer_email', 320);
    t.text('url');
    t.timestamp('paid_at', { useTz: true });
    timestamps(t, knex);
    t.index(['tenant_id', 'created_at']);
    t.index(['tenant_id', 'status']);
  });

  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.string('id', 26).primary();
    t.string('provider', 16).notNullable();
    t.string('external_id', 255).notNullable();
    t.string('tenant_id', 26).references('id').inTable('tenants').onDelete('SET NULL');
    t.string('kind', 32);
    t.string('status', 16).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.text('payload').notNullable();
    t.timestamp('processed_at', { useTz: true });
    timestamps(t, knex);
    t.unique(['provider', 'external_id']);
    t.index(['status', 'created_at']);
    t.index(['tenant_id', 'created_at']);
  });

  // Used by the built-in SQLite worker; on PostgreSQL the queue engine keeps its own tables.
  await knex.schema.createTable('jobs', (t) => {
    t.string('id', 26).primary();
    t.string('kind', 48).notNullable();
    json(t, 'payload', isPg).notNullable();
    t.string('status', 16).notNullable().defaultTo('queued');
    t.timestamp('run_at', { useTz: true }).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('max_attempts').notNullable().defaultTo(8);
    t.timestamp('locked_until', { useTz: true });
    t.string('locked_by', 64);
    t.text('last_error');
    timestamps(t, knex);
    t.index(['status', 'run_at']);
  });

  // Every outbound provider send is recorded under a deterministic key before it is made, so a retried
  // job never sends the same reply twice.
  await knex.schema.createTable('outbound_sends', (t) => {
    t.string('id', 26).primary();
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('idempotency_key', 255).notNullable().unique();
    t.string('channel', 16).notNullable();
    t.string('status', 16).notNullable();
    t.string('provider_message_id', 191);
    t.text('last_error');
    timestamps(t, knex);
  });

  await knex.schema.createTable('api_keys', (t) => {
    t.string('id', 26).primary();
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('name', 100).notNullable();
    t.string('prefix', 16).notNullable();
    t.string('key_hash', 64).notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.index(['tenant_id']);
  });

  await knex.schema.createTable('ai_usage', (t) => {
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('day', 10).notNullable();
    t.bigInteger('tokens').notNullable().defaultTo(0);
    t.primary(['tenant_id', 'day']);
  });

  // The last good copy of each tenant's catalog, shared by every process.
  await knex.schema.createTable('catalog_snapshots', (t) => {
    t.string('tenant_id', 26).primary().references('id').inTable('tenants').onDelete('CASCADE');
    t.text('source_url').notNullable();
    json(t, 'items', isPg).notNullable();
    json(t, 'report', isPg);
    t.timestamp('fetched_at', { useTz: true }).notNullable();
    t.text('last_error');
    t.timestamp('last_error_at', { useTz: true });
  });
}

/** The tables this migration's down() changes (shown before a rollback). */
export const tables = ['tenants', 'conversations', 'messages', 'leads', 'events', 'orders', 'webhook_deliveries', 'jobs', 'outbound_sends', 'api_keys', 'ai_usage', 'catalog_snapshots'];

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'catalog_snapshots',
    'ai_usage',
    'api_keys',
    'outbound_sends',
    'jobs',
    'webhook_deliveries',
    'orders',
    'events',
    'leads',
    'messages',
    'conversations',
    'tenants',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
