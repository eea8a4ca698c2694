import type { Knex } from 'knex';

/**
 * Ids that providers choose are stored as text on PostgreSQL, without a length limit. Meta documents no
 * maximum for a message id (Instagram's run to ~150 characters), and one longer than its column made
 * the inbox insert fail: the webhook was answered 500 and the provider would send it again, forever.
 * The keys built from those ids (outbound sends) follow. SQLite never enforced these lengths.
 */
const COLUMNS: Array<[table: string, column: string, length: number]> = [
  ['webhook_deliveries', 'external_id', 255],
  ['messages', 'provider_message_id', 191],
  ['outbound_sends', 'idempotency_key', 255],
  ['outbound_sends', 'provider_message_id', 191],
];

/** The tables this migration's down() changes on PostgreSQL (shown before a rollback). */
export const tables = [...new Set(COLUMNS.map(([table]) => table))];

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  for (const [table, column] of COLUMNS) await knex.raw('alter table ?? alter column ?? type text', [table, column]);
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  for (const [table, column, length] of COLUMNS) await knex.raw(`alter table ?? alter column ?? type varchar(${length})`, [table, column]);
}
