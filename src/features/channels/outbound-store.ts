import type { Db } from '../../db/create-db.js';
import { newId, nowIso } from '../../db/dialect.js';

export type SendOutcome =
  | { done: true; providerMessageId: string | null }
  | { done: false; skipped: 'already_sent'; providerMessageId: string | null }
  | { done: false; skipped: 'uncertain' };

/**
 * outbound_sends: every provider send is written as `pending` under a deterministic key BEFORE the
 * provider is called, then marked sent or failed. A retry that finds `sent` skips the call; one that
 * finds `failed` (the provider answered with an error, so nothing went out) tries again; one that finds
 * `pending` meets a send that was in flight when a process died — the provider has no idempotency key,
 * so nobody can know whether it went out. We choose never to send it again (at most one lost reply per
 * killed worker slot rather than a duplicate) and mark it `uncertain` for an operator to see.
 */
export class OutboundStore {
  constructor(private readonly db: Db) {}

  async once(
    tenantId: string,
    key: string,
    channel: string,
    send: () => Promise<string | null>,
    isAmbiguous: (err: unknown) => boolean,
  ): Promise<SendOutcome> {
    const now = nowIso();
    const id = newId();
    const t = this.db.knex;
    await t('outbound_sends')
      .insert({ id, tenant_id: tenantId, idempotency_key: key, channel, status: 'pending', created_at: now, updated_at: now })
      .onConflict('idempotency_key')
      .ignore();
    const row = await t('outbound_sends').where({ idempotency_key: key, tenant_id: tenantId }).first();
    if (!row) throw new Error(`outbound send key '${key}' belongs to another tenant`);
    if (row.id !== id) {
      if (row.status === 'sent') return { done: false, skipped: 'already_sent', providerMessageId: row.provider_message_id ?? null };
      const retaken = row.status === 'failed' ? await t('outbound_sends').where({ id: row.id, status: 'failed' }).update({ status: 'pending', updated_at: nowIso() }) : 0;
      if (retaken !== 1) {
        if (row.status === 'pending') await t('outbound_sends').where({ id: row.id, status: 'pending' }).update({ status: 'uncertain', updated_at: nowIso() });
        return { done: false, skipped: 'uncertain' };
      }
    }
    const rowId = row.id as string;
    try {
      const providerMessageId = await send();
      await t('outbound_sends').where({ id: rowId }).update({ status: 'sent', provider_message_id: providerMessageId, last_error: null, updated_at: nowIso() });
      return { done: true, providerMessageId };
    } catch (err) {
      const status = isAmbiguous(err) ? 'uncertain' : 'failed';
      await t('outbound_sends').where({ id: rowId }).update({ status, last_error: String((err as Error)?.message ?? err).slice(0, 2000), updated_at: nowIso() });
      throw err;
    }
  }

  async list(tenantId: string, limit = 100): Promise<Array<{ key: string; channel: string; status: string; providerMessageId: string | null; lastError: string | null }>> {
    const rows = await this.db.knex('outbound_sends').where({ tenant_id: tenantId }).orderBy('created_at').limit(limit);
    return rows.map((r: any) => ({ key: r.idempotency_key, channel: r.channel, status: r.status, providerMessageId: r.provider_message_id ?? null, lastError: r.last_error ?? null }));
  }
}
