import type { Knex } from 'knex';
import type { Db } from '../../db/create-db.js';
import { translateDbError } from '../../db/db-errors.js';
import { newId, nowIso, readTime } from '../../db/dialect.js';
import { withTransaction } from '../../db/transaction.js';

export interface LeadRecord {
  id: string;
  tenantId: string;
  conversationId: string | null;
  name: string | null;
  email: string;
  whatsapp: string | null;
  sourceChannel: string;
  createdAt: string;
  updatedAt: string;
}

export interface LeadInput {
  name: string | null;
  email: string;
  whatsapp: string | null;
  sourceChannel: string;
  conversationId: string | null;
}

function fromRow(r: any): LeadRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    conversationId: r.conversation_id ?? null,
    name: r.name ?? null,
    email: r.email,
    whatsapp: r.whatsapp ?? null,
    sourceChannel: r.source_channel,
    createdAt: readTime(r.created_at)!,
    updatedAt: readTime(r.updated_at)!,
  };
}

export class LeadStore {
  constructor(private readonly db: Db) {}

  transaction<T>(fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    return withTransaction(this.db, fn);
  }

  async findByEmail(tenantId: string, email: string, trx?: Knex.Transaction): Promise<LeadRecord | undefined> {
    const r = await (trx ?? this.db.knex)('leads').where({ tenant_id: tenantId, email }).first();
    return r ? fromRow(r) : undefined;
  }

  async findById(tenantId: string, id: string): Promise<LeadRecord | undefined> {
    const r = await this.db.knex('leads').where({ tenant_id: tenantId, id }).first();
    return r ? fromRow(r) : undefined;
  }

  /**
   * One lead per tenant and email. The first capture keeps its source channel and conversation; later
   * ones fill in what they add (a name, a WhatsApp number). `created` tells the caller whether this
   * was a new lead, so lead_captured is recorded once per lead. ON CONFLICT DO NOTHING rather than
   * catching the violation, so it can run inside a caller's PostgreSQL transaction.
   */
  async upsert(tenantId: string, input: LeadInput, trx?: Knex.Transaction): Promise<{ lead: LeadRecord; created: boolean }> {
    const q = trx ?? this.db.knex;
    const now = nowIso();
    let inserted: unknown[];
    try {
      inserted = await q('leads')
        .insert({
          id: newId(),
          tenant_id: tenantId,
          conversation_id: input.conversationId,
          name: input.name,
          email: input.email,
          whatsapp: input.whatsapp,
          source_channel: input.sourceChannel,
          created_at: now,
          updated_at: now,
        })
        .onConflict()
        .ignore()
        .returning('id');
    } catch (err) {
      throw translateDbError(err, 'lead');
    }
    const created = inserted.length > 0;
    if (!created) {
      const patch: Record<string, unknown> = { updated_at: now };
      if (input.name) patch.name = input.name;
      if (input.whatsapp) patch.whatsapp = input.whatsapp;
      await q('leads').where({ tenant_id: tenantId, email: input.email }).update(patch);
    }
    return { lead: (await this.findByEmail(tenantId, input.email, trx))!, created };
  }
}
