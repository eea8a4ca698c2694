import type { Knex } from 'knex';

/**
 * When the customer asked for a person, while they wait for one: set by the request, cleared by an
 * operator's reply or by handing the conversation back to the bot. `zia conversations list --waiting`
 * and the live inbox list these first, longest waiting first.
 */
export const tables = ['conversations'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('conversations', (t) => {
    t.timestamp('handoff_requested_at', { useTz: true });
    t.index(['tenant_id', 'handoff_requested_at'], 'conversations_waiting');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('conversations', (t) => {
    t.dropIndex(['tenant_id', 'handoff_requested_at'], 'conversations_waiting');
    t.dropColumn('handoff_requested_at');
  });
}
