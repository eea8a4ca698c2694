import type { Knex } from 'knex';
import type { Db } from '../../db/create-db.js';
import { isUniqueViolation } from '../../db/db-errors.js';
import { newId, nowIso } from '../../db/dialect.js';
import { knexOf, ownTransaction, type Tx } from '../../db/unit-of-work.js';

export type DeliveryOutcome = 'processed' | 'ignored';

/**
 * Stripe deliveries in the shared `webhook_deliveries` inbox. The unique (provider, external_id) key is
 * what makes processing exactly-once: the insert and the effects share one transaction, so a repeat
 * delivery either waits for the first and then finds the row, or finds it committed already.
 */
export class StripeDeliveryStore {
  constructor(private readonly db: Db) {}

  transaction<T>(fn: (trx: Tx) => Promise<T>): Promise<T> {
    return ownTransaction(this.db, fn);
  }

  /** False when this event id was recorded before (a duplicate delivery). */
  async claim(tenantId: string | null, event: { id: string; type: string }, payload: string, trx: Tx): Promise<boolean> {
    const now = nowIso();
    try {
      // A savepoint, so a duplicate's unique violation does not poison the outer PostgreSQL transaction.
      await knexOf(trx).transaction(async (sp) => {
        await sp('webhook_deliveries').insert({
          id: newId(),
          provider: 'stripe',
          external_id: event.id,
          tenant_id: tenantId,
          kind: event.type.slice(0, 32),
          status: 'received',
          attempts: 1,
          payload,
          created_at: now,
          updated_at: now,
        });
      });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  async finish(tenantId: string | null, eventId: string, outcome: DeliveryOutcome, note: string | null, trx: Tx): Promise<void> {
    await knexOf(trx)('webhook_deliveries')
      .where({ provider: 'stripe', external_id: eventId })
      .update({ status: outcome, last_error: note, processed_at: nowIso(), updated_at: nowIso(), tenant_id: tenantId });
  }

  async status(tenantId: string | null, eventId: string): Promise<string | undefined> {
    const q = this.db.knex('webhook_deliveries').where({ provider: 'stripe', external_id: eventId });
    if (tenantId) q.andWhere({ tenant_id: tenantId });
    const r = await q.first('status');
    return r?.status;
  }
}
