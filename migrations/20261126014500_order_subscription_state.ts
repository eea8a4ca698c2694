import type { Knex } from 'knex';

/**
 * Subscription orders keep the subscription's last known status, and the Stripe `created` time of the
 * event that set it, so an older customer.subscription.* event arriving late cannot overwrite a newer one.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.string('subscription_status', 24);
    t.bigInteger('subscription_event_at');
    t.index(['tenant_id', 'stripe_subscription_id']);
  });
}

/** The tables this migration's down() changes (shown before a rollback). */
export const tables = ['orders'];

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('orders', (t) => {
    t.dropIndex(['tenant_id', 'stripe_subscription_id']);
    t.dropColumn('subscription_event_at');
    t.dropColumn('subscription_status');
  });
}
