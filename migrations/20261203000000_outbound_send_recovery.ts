import type { Knex } from 'knex';

/**
 * A send in flight when a process died can be sent again (once, automatically, or by an operator):
 * that needs what was sent (the provider request, without credentials), where it belongs (conversation,
 * stored message, inbox delivery) so an operator finds it, and how often it was re-sent.
 */
export const tables = ['outbound_sends'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbound_sends', (t) => {
    t.text('request');
    t.string('conversation_id', 26);
    t.string('message_id', 26);
    t.string('delivery_id', 26);
    t.integer('resends').notNullable().defaultTo(0);
    t.index(['tenant_id', 'status']);
    t.index(['conversation_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbound_sends', (t) => {
    t.dropIndex(['conversation_id']);
    t.dropIndex(['tenant_id', 'status']);
    t.dropColumn('resends');
    t.dropColumn('delivery_id');
    t.dropColumn('message_id');
    t.dropColumn('conversation_id');
    t.dropColumn('request');
  });
}
