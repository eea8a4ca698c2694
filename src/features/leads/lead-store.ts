import type { Knex } from 'knex';
import type { Db } from '../../db/create-db.js';
import { translateDbError } from '../../db/db-errors.js';
import { newId, nowIso, readTime } from '../../db/dialect.js';
import { withTransaction } from '../../db/transaction.js';
import { type Tx, on } from '../../db/unit-of-work.js';

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

export function leadFromRow(r: any): LeadRecord {
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

  transaction<T>(fn: (trx: Tx) => Promise<T>): Promise<T> {
    return withTransaction(this.db, fn);
  }

  async findByEmail(tenantId: string, email: string, trx?: Tx): Promise<LeadRecord | undefined> {
    const r = await on(this.db, trx)('leads').where({ tenant_id: tenantId, email }).first();
    return r ? leadFromRow(r) : undefined;
  }

  /** The leads a conversation gave (the lead flow or the model's capture_lead). */
  async forConversation(tenantId: string, conversationId: string): Promise<LeadRecord[]> {
    return (await this.db.knex('leads').where({ tenant_id: tenantId, conversation_id: conversationId }).orderBy('id')).map(leadFromRow);
  }

  async findById(tenantId: string, id: string): Promise<LeadRecord | undefined> {
    const r = await this.db.knex('leads').where({ tenant_id: tenantId, id }).first();
    return r ? leadFromRow(r) : undefined;
  }

  /**
   * Adds the lead unless the tenant already has one with this email; either way answers only the id and
   * whether it was new, never the stored fields, so an anonymous caller cannot learn them. ON CONFLICT
   * DO NOTHING rather than catching the violation, so it can run inside a caller's PostgreSQL transaction.
   */
  async insertIfAbsent(tenantId: string, input: LeadInput, trx?: Tx): Promise<{ id: string; created: boolean }> {
    const q = on(this.db, trx);
    const now = nowIso();
    const id = newId();
    let inserted: unknown[];
    try {
      inserted = await q('leads')
        .insert({
          id,
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
    if (inserted.length > 0) return { id, created: true };
    const existing = await q('leads').where({ tenant_id: tenantId, email: input.email }).first('id');
    return { id: existing.id as string, created: false };
  }

  /**
   * For operators with a key: one lead per tenant and email; a later call fills in what it gives (a
   * name, a WhatsApp number) and keeps the first source channel and conversation.
   */
  async upsert(tenantId: string, input: LeadInput, trx?: Tx): Promise<{ lead: LeadRecord; created: boolean }> {
    const q = on(this.db, trx);
    const { created } = await this.insertIfAbsent(tenantId, input, trx);
    if (!created) {
      const patch: Record<string, unknown> = { updated_at: nowIso() };
      if (input.name) patch.name = input.name;
      if (input.whatsapp) patch.whatsapp = input.whatsapp;
      await q('leads').where({ tenant_id: tenantId, email: input.email }).update(patch);
    }
    return { lead: (await this.findByEmail(tenantId, input.email, trx))!, created };
  }
}
