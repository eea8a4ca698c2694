import type { EventService } from '../events/event-service.js';
import type { LeadInput, LeadRecord, LeadStore } from './lead-store.js';
import { type Tx } from '../../db/unit-of-work.js';

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

/** What an anonymous visitor submitted, as normalised: the only lead data a public answer may carry. */
export interface SubmittedLead {
  name: string | null;
  email: string;
  whatsapp: string | null;
}

export function leadView(l: LeadRecord): LeadView {
  return { id: l.id, email: l.email, name: l.name, whatsapp: l.whatsapp };
}

function normalise(input: CaptureInput): LeadInput {
  return {
    name: input.name?.trim() || null,
    email: input.email.trim().toLowerCase(),
    whatsapp: input.whatsapp,
    sourceChannel: input.channel,
    conversationId: input.conversationId,
  };
}

/** Captures leads from the lead flow, the model's capture_lead tool, the widget form and operators. */
export class LeadService {
  constructor(
    private readonly store: LeadStore,
    private readonly events: EventService,
  ) {}

  /**
   * An anonymous submission (widget form, chat lead flow, the model's tool). Anyone can type anyone's
   * email, so a submission for a known email changes nothing stored and learns nothing: it is kept as
   * a lead_resubmitted event linked to the lead, for the operator to read. A new email becomes a lead
   * with its lead_captured event (and so lead.created). Both commit with the caller's transaction when
   * given one (a chat turn's, so the lead also commits with the reply that confirms it).
   */
  async submit(tenantId: string, input: CaptureInput, trx?: Tx): Promise<{ submitted: SubmittedLead; created: boolean }> {
    const lead = normalise(input);
    const run = async (t: Tx) => {
      const { id, created } = await this.store.insertIfAbsent(tenantId, lead, t);
      const event = created
        ? { type: 'lead_captured' as const, data: { lead_id: id, channel: input.channel, has_whatsapp: Boolean(lead.whatsapp) } }
        : { type: 'lead_resubmitted' as const, data: { lead_id: id, channel: input.channel, name: lead.name, whatsapp: lead.whatsapp } };
      await this.events.recordAll(tenantId, [{ ...event, conversationId: input.conversationId }], { trx: t });
      return created;
    };
    const created = await (trx ? run(trx) : this.store.transaction(run));
    return { submitted: { name: lead.name, email: lead.email, whatsapp: lead.whatsapp }, created };
  }

  /** An operator with a key: creates the lead or fills in the fields given on the stored one. */
  async upsert(tenantId: string, input: CaptureInput): Promise<{ lead: LeadRecord; created: boolean }> {
    return this.store.transaction(async (t) => {
      const result = await this.store.upsert(tenantId, normalise(input), t);
      if (result.created) {
        const data = { lead_id: result.lead.id, channel: input.channel, has_whatsapp: Boolean(result.lead.whatsapp) };
        await this.events.recordAll(tenantId, [{ type: 'lead_captured', conversationId: input.conversationId, data }], { trx: t });
      }
      return result;
    });
  }

  findById(tenantId: string, id: string): Promise<LeadRecord | undefined> {
    return this.store.findById(tenantId, id);
  }

  findByEmail(tenantId: string, email: string): Promise<LeadRecord | undefined> {
    return this.store.findByEmail(tenantId, email.trim().toLowerCase());
  }

  forConversation(tenantId: string, conversationId: string): Promise<LeadRecord[]> {
    return this.store.forConversation(tenantId, conversationId);
  }
}
