import type { Knex } from 'knex';
import type { Db, Write } from '../../db/create-db.js';
import { newId, nowIso, readJson, readTime, writeJson } from '../../db/dialect.js';
import { type Tx, on } from '../../db/unit-of-work.js';

export interface EventRecord {
  id: string;
  tenantId: string;
  type: string;
  conversationId: string | null;
  data: Record<string, unknown>;
  createdAt: string;
}

export class EventStore {
  constructor(private readonly db: Db) {}

  /** Inserts one event; `trx` lets the caller record it atomically with the change it describes. */
  async insert(
    tenantId: string,
    type: string,
    conversationId: string | null,
    data: Record<string, unknown>,
    trx?: Tx,
  ): Promise<EventRecord> {
    const row = { id: newId(), tenant_id: tenantId, type, conversation_id: conversationId, data: writeJson(data), created_at: nowIso() };
    await on(this.db, trx)('events').insert(row);
    return { id: row.id, tenantId, type, conversationId, data, createdAt: row.created_at };
  }

  /** Runs a write of this store, in the transaction if one is given. */
  async run(write: Write, trx?: Tx): Promise<void> {
    await write(on(this.db, trx));
  }

  /** Several events of one tenant in one insert, not yet run (none for no events), and the records it writes. */
  insertWrite(
    tenantId: string,
    items: Array<{ type: string; conversationId: string | null; data: Record<string, unknown> }>,
  ): { write: Write | undefined; events: EventRecord[] } {
    if (items.length === 0) return { write: undefined, events: [] };
    const now = nowIso();
    const rows = items.map((e) => ({ id: newId(), tenant_id: tenantId, type: e.type, conversation_id: e.conversationId, data: writeJson(e.data), created_at: now }));
    return {
      write: (k) => k('events').insert(rows),
      events: rows.map((r, i) => ({ id: r.id, tenantId, type: r.type, conversationId: r.conversation_id, data: items[i]!.data, createdAt: now })),
    };
  }

  /**
   * Events of the given types after an id, oldest first: the live feed's read. Ids are ULIDs made when
   * the event is written, so id order is time order. `tenantIds` undefined: every tenant.
   */
  async after(filter: { afterId: string; types: readonly string[]; tenantIds?: readonly string[]; limit: number }): Promise<EventRecord[]> {
    const q = this.db.knex('events').where('id', '>', filter.afterId).whereIn('type', filter.types);
    if (filter.tenantIds) q.whereIn('tenant_id', filter.tenantIds);
    const rows = await q.orderBy('id').limit(filter.limit);
    return rows.map(eventFromRow);
  }

  async list(
    tenantId: string,
    filter: { type?: string; conversationId?: string; since?: string; until?: string; limit: number },
  ): Promise<EventRecord[]> {
    const q = this.db.knex('events').where({ tenant_id: tenantId });
    if (filter.type) q.andWhere({ type: filter.type });
    if (filter.conversationId) q.andWhere({ conversation_id: filter.conversationId });
    if (filter.since) q.andWhere('created_at', '>=', filter.since);
    if (filter.until) q.andWhere('created_at', '<', filter.until);
    const rows = await q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(filter.limit);
    return rows.map(eventFromRow);
  }
}

function eventFromRow(r: any): EventRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    type: r.type,
    conversationId: r.conversation_id ?? null,
    data: readJson(r.data, {}),
    createdAt: readTime(r.created_at)!,
  };
}
