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

  async capture(tenantId: string, input: CaptureInput): Promise<{ lead: LeadRecord; created: boolean }> {
    const result = await this.store.upsert(tenantId, {
      name: input.name?.trim() || null,
      email: input.email.trim().toLowerCase(),
      whatsapp: input.whatsapp,
      sourceChannel: input.channel,
      conversationId: input.conversationId,
    });
    if (result.created) {
      await this.events.record(tenantId, 'lead_captured', {
        conversationId: input.conversationId,
        data: { lead_id: result.lead.id, channel: input.channel, has_whatsapp: Boolean(result.lead.whatsapp) },
      });
    }
    return result;
  }

  findById(tenantId: string, id: string): Promise<LeadRecord | undefined> {
    return this.store.findById(tenantId, id);
  }

  findByEmail(tenantId: string, email: string): Promise<LeadRecord | undefined> {
    return this.store.findByEmail(tenantId, email.trim().toLowerCase());
  }
}
