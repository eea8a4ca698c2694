import type { Knex } from 'knex';
import type { EventService } from '../events/event-service.js';
import type { LeadRecord, LeadStore } from './lead-store.js';

export interface CaptureInput {
  name: string | null;
  email: string;
  whatsapp: string | null;
  channel: string;
  conversationId: string | null;
}

export interface LeadView {
  id: string;
  email: string;
  name: string | null;
  whatsapp: string | null;
}

export function leadView(l: LeadRecord): LeadView {
  return { id: l.id, email: l.email, name: l.name, whatsapp: l.whatsapp };
}

/** Captures leads from the lead flow, the model's capture_lead tool and the widget form alike. */
export class LeadService {
  constructor(
    private readonly store: LeadStore,
    private readonly events: EventService,
  ) {}

  /**
   * The lead and its lead_captured event commit together: in the caller's transaction when given one
   * (a chat turn's, so the lead also commits with the reply that confirms it), else in their own.
   */
  async capture(tenantId: string, input: CaptureInput, trx?: Knex.Transaction): Promise<{ lead: LeadRecord; created: boolean }> {
    const run = async (t: Knex.Transaction) => {
      const result = await this.store.upsert(
        tenantId,
        {
          name: input.name?.trim() || null,
          email: input.email.trim().toLowerCase(),
          whatsapp: input.whatsapp,
          sourceChannel: input.channel,
          conversationId: input.conversationId,
        },
        t,
      );
      if (result.created) {
        const data = { lead_id: result.lead.id, channel: input.channel, has_whatsapp: Boolean(result.lead.whatsapp) };
        await this.events.recordAll(tenantId, [{ type: 'lead_captured', conversationId: input.conversationId, data }], { trx: t });
      }
      return result;
    };
    return trx ? run(trx) : this.store.transaction(run);
  }

  findById(tenantId: string, id: string): Promise<LeadRecord | undefined> {
    return this.store.findById(tenantId, id);
  }

  findByEmail(tenantId: string, email: string): Promise<LeadRecord | undefined> {
    return this.store.findByEmail(tenantId, email.trim().toLowerCase());
  }
}
