import type { Knex } from 'knex';

/**
 * WhatsApp through Meta's Cloud API: the tenant's phone number id as a routing column (webhooks name
 * the number, not the tenant), the WABA's message templates as last synced, and the contacts the
 * Cloud API knows by a business-scoped user id, so a customer who hides their number keeps one
 * conversation.
 */
export const tables = ['tenants', 'whatsapp_templates', 'whatsapp_contacts'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => {
    t.string('wa_phone_number_id', 32).nullable().unique();
  });
  await knex.schema.createTable('whatsapp_templates', (t) => {
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('name', 512).notNullable();
    t.string('language', 16).notNullable();
    t.string('template_id', 64).notNullable();
    t.string('category', 32).notNullable();
    t.string('status', 32).notNullable();
    // {{1}}…{{n}} placeholders of the body: how many parameters a send must fill.
    t.integer('body_parameters').notNullable().defaultTo(0);
    t.text('body').nullable();
    t.timestamp('synced_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.primary(['tenant_id', 'name', 'language']);
    t.index(['template_id']);
  });
  await knex.schema.createTable('whatsapp_contacts', (t) => {
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    // The business-scoped user id (BSUID, e.g. US.13491208655302741918).
    t.string('user_id', 160).notNullable();
    // The key of the customer's conversation: the number they first wrote from, else the user id.
    t.string('external_user_id', 160).notNullable();
    t.string('phone', 20).nullable();
    t.string('profile_name', 200).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.primary(['tenant_id', 'user_id']);
    t.index(['tenant_id', 'external_user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('whatsapp_contacts');
  await knex.schema.dropTableIfExists('whatsapp_templates');
  await knex.schema.alterTable('tenants', (t) => {
    t.dropUnique(['wa_phone_number_id']);
    t.dropColumn('wa_phone_number_id');
  });
}
