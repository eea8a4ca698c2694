import type { Db } from '../../db/create-db.js';
import { isUniqueViolation, translateDbError } from '../../db/db-errors.js';
import { newId, nowIso, readTime } from '../../db/dialect.js';

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

  async findByEmail(tenantId: string, email: string): Promise<LeadRecord | undefined> {
    const r = await this.db.knex('leads').where({ tenant_id: tenantId, email }).first();
    return r ? fromRow(r) : undefined;
  }

  async findById(tenantId: string, id: string): Promise<LeadRecord | undefined> {
    const r = await this.db.knex('leads').where({ tenant_id: tenantId, id }).first();
    return r ? fromRow(r) : undefined;
  }

  /**
   * One lead per tenant and email. The first capture keeps its source channel and conversation; later
   * ones fill in what they add (a name, a WhatsApp number). `created` tells the caller whether this
   * was a new lead, so lead_captured is recorded once per lead.
   */
  async upsert(tenantId: string, input: LeadInput): Promise<{ lead: LeadRecord; created: boolean }> {
    const existing = await this.findByEmail(tenantId, input.email);
    if (!existing) {
      const now = nowIso();
      try {
        await this.db.knex('leads').insert({
          id: newId(),
          tenant_id: tenantId,
          conversation_id: input.conversationId,
          name: input.name,
          email: input.email,
          whatsapp: input.whatsapp,
          source_channel: input.sourceChannel,
          created_at: now,
          updated_at: now,
        });
        return { lead: (await this.findByEmail(tenantId, input.email))!, created: true };
      } catch (err) {
        if (!isUniqueViolation(err)) throw translateDbError(err, 'lead');
      }
    }
    const patch: Record<string, unknown> = { updated_at: nowIso() };
    if (input.name) patch.name = input.name;
    if (input.whatsapp) patch.whatsapp = input.whatsapp;
    await this.db.knex('leads').where({ tenant_id: tenantId, email: input.email }).update(patch);
    return { lead: (await this.findByEmail(tenantId, input.email))!, created: false };
  }
}
