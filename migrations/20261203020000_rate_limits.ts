import type { Knex } from 'knex';

/**
 * PostgreSQL: rate-limit windows shared by every process on the database (rate-limiter-flexible's
 * table layout: the key, the points spent in the window, when it ends in epoch milliseconds). SQLite
 * counts them in the one process that serves the file, so it has no such table.
 */
export const tables = ['rate_limits'];

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  await knex.schema.createTable('rate_limits', (t) => {
    t.string('key', 255).primary();
    t.integer('points').notNullable().defaultTo(0);
    t.bigInteger('expire');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('rate_limits');
}
