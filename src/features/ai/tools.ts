import { z } from 'zod';
import { isAppError, NotConfiguredError } from '../../errors.js';
import { withoutNul } from '../../validation.js';
import type { CatalogLookup } from '../catalog/catalog.types.js';
import type { Channel } from '../chat/chat.types.js';
import type { EventService } from '../events/event-service.js';
import { emailSchema, parseWhatsapp } from '../leads/lead-flow.js';
import type { LeadService, SubmittedLead } from '../leads/lead-service.js';
import type { CheckoutCreator } from '../payments/payments.types.js';
import type { Tenant } from '../tenants/tenant-service.js';
import type { HandoffDecision } from '../handoff/handoff-policy.js';
import type { KnowledgeLookup, Passage } from '../knowledge/knowledge-search.js';
import type { ToolRunner, ToolSpec } from './provider.js';

/**
 * The tools both providers use (request_human only for tenants with handoff enabled). Prices and links only ever come from the server-side catalog,
 * plans and checkout: the model passes ids, never amounts. A missing dependency is a normal result
 * the model can explain, not an exception.
 */

const searchArgs = z.strictObject({ query: z.string().trim().min(1).max(200) });
const checkoutArgs = z
  .strictObject({
    item_id: z.string().trim().min(1).max(191).optional(),
    plan_id: z.string().trim().min(1).max(64).optional(),
    quantity: z.coerce.number().int().min(1).max(99).default(1),
  })
  .refine((a) => (a.item_id === undefined) !== (a.plan_id === undefined), { message: 'give exactly one of item_id or plan_id' });
const requestHumanArgs = z.strictObject({ reason: z.string().trim().max(500).optional() });
const leadArgs = z.strictObject({
  name: z.string().trim().min(1).max(200),
  email: emailSchema,
  whatsapp: z.string().trim().max(40).nullable().optional(),
});

export const TOOL_SPECS: ToolSpec[] = [
  {
    name: 'search_catalog',
    description: "Search the business's product catalog. Returns matching items with id, name, price text and availability.",
    parameters: {
      type: 'object',
      properties: { query: { type: 'string', description: 'what the customer is looking for' } },
      required: ['query'],
      additionalProperties: false,
    },
  },
  {
    name: 'create_checkout_link',
    description: 'Create a payment link for one catalog item (item_id from search_catalog) or one subscription plan (plan_id). The price comes from the server.',
    parameters: {
      type: 'object',
      properties: {
        item_id: { type: 'string' },
        plan_id: { type: 'string' },
        quantity: { type: 'integer', minimum: 1, maximum: 99 },
      },
      additionalProperties: false,
    },
  },
  {
    name: 'capture_lead',
    description: 'Save the customer as a lead once they have given their name and email (WhatsApp number optional, E.164).',
    parameters: {
      type: 'object',
      properties: { name: { type: 'string' }, email: { type: 'string' }, whatsapp: { type: 'string' } },
      required: ['name', 'email'],
      additionalProperties: false,
    },
  },
];

/** Offered when the tenant has a knowledge base: its pages and documents, searched in full text (and by meaning). */
export const SEARCH_KNOWLEDGE_SPEC: ToolSpec = {
  name: 'search_knowledge',
  description:
    "Search the business's own web pages and documents (policies, opening hours, delivery, returns, contact details, how-tos). Returns passages with their title and URL. Answer only from what they say; if none answers the question, say you don't know.",
  parameters: {
    type: 'object',
    properties: { query: { type: 'string', description: 'the question, in the words of the customer' } },
    required: ['query'],
    additionalProperties: false,
  },
};

/** Characters of a passage the model gets from search_knowledge. */
const PASSAGE_CHARS = 1200;

/** Offered when the tenant takes handoffs: the model passes a customer on to the team. */
export const REQUEST_HUMAN_SPEC: ToolSpec = {
  name: 'request_human',
  description:
    'Hand the conversation to a person from the team when the customer asks for one, or when they need something only a person can do. Returns what to tell the customer.',
  parameters: {
    type: 'object',
    properties: { reason: { type: 'string', description: 'one line for the team: why a person is needed' } },
    additionalProperties: false,
  },
};

export interface TurnToolDeps {
  tenant: Tenant;
  channel: Channel;
  conversationId: string;
  leads: LeadService;
  events: EventService;
  catalog?: CatalogLookup;
  checkout?: CheckoutCreator;
  /** Present when the tenant takes handoffs: what a request for a person leads to now. */
  handoff?: () => HandoffDecision;
  /** Present when the tenant has a knowledge base to search. */
  knowledge?: KnowledgeLookup;
}

function parseArgs(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw ?? {};
  if (raw.trim() === '') return {};
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function invalid(message: string): Record<string, unknown> {
  return { ok: false, error: 'invalid_arguments', message };
}

export function defaultPriceText(amountMinor: number, currency: string): string {
  return `${currency.toUpperCase()} ${(amountMinor / 100).toFixed(2)}`;
}

/** One turn's tools; remembers what they produced (a checkout link, a lead) for the turn's result. */
export class TurnTools implements ToolRunner {
  readonly specs: ToolSpec[];
  checkoutUrl?: string;
  lead?: SubmittedLead;
  /** The model handed the customer to the team (request_human), and what that means now. */
  handoff?: { decision: HandoffDecision; reason: string | null };
  /** Passages search_knowledge gave the model this turn (the reply's sources are among them). */
  readonly passages: Passage[] = [];

  constructor(private readonly deps: TurnToolDeps) {
    this.specs = specsFor(Boolean(deps.knowledge), Boolean(deps.handoff));
  }

  async run(name: string, rawArgs: unknown): Promise<Record<string, unknown>> {
    // Model output is input like any other: a NUL in a lead's name must not reach the database.
    const args = withoutNul(parseArgs(rawArgs));
    if (args === undefined) return invalid('arguments are not valid JSON');
    switch (name) {
      case 'search_catalog': {
        const a = searchArgs.safeParse(args);
        return a.success ? this.search(a.data.query) : invalid(a.error.issues.map((i) => i.message).join('; '));
      }
      case 'create_checkout_link': {
        const a = checkoutArgs.safeParse(args);
        return a.success ? this.createCheckout(a.data) : invalid(a.error.issues.map((i) => i.message).join('; '));
      }
      case 'capture_lead': {
        const a = leadArgs.safeParse(args);
        return a.success ? this.captureLead(a.data) : invalid(a.error.issues.map((i) => `${i.path.join('.') || 'args'}: ${i.message}`).join('; '));
      }
      case 'search_knowledge': {
        if (!this.deps.knowledge) break;
        const a = searchArgs.safeParse(args);
        return a.success ? this.searchKnowledge(a.data.query) : invalid(a.error.issues.map((i) => i.message).join('; '));
      }
      case 'request_human': {
        if (!this.deps.handoff) break;
        const a = requestHumanArgs.safeParse(args);
        if (!a.success) return invalid(a.error.issues.map((i) => i.message).join('; '));
        this.handoff ??= { decision: this.deps.handoff(), reason: a.data.reason || null };
        const { decision } = this.handoff;
        return { ok: true, team_in_now: decision.withinHours, bot_keeps_answering: !decision.pause, tell_customer: decision.message };
      }
    }
    return { ok: false, error: 'unknown_tool', message: `no tool named ${name}` };
  }

  private async search(query: string): Promise<Record<string, unknown>> {
    const { catalog, tenant } = this.deps;
    if (!catalog?.configured(tenant)) return { ok: false, error: 'not_configured', message: 'The product catalog is not available for this business yet.' };
    const hits = await catalog.search(tenant, query, 5);
    return {
      ok: true,
      items: hits.map((h) => ({
        id: h.item.id,
        name: h.item.name,
        description: h.item.description?.slice(0, 200) ?? null,
        price_text: h.priceText,
        available: h.item.available,
        url: h.item.url,
      })),
    };
  }

  private async searchKnowledge(query: string): Promise<Record<string, unknown>> {
    const found = await this.deps.knowledge!.search(this.deps.tenant, query, { limit: 3 });
    this.passages.push(...found);
    return {
      ok: true,
      passages: found.map((p) => ({ title: p.title, url: p.url, section: p.heading, text: p.text.slice(0, PASSAGE_CHARS), clear_match: p.clear })),
      ...(found.length === 0 ? { note: 'nothing in the knowledge base matches' } : {}),
    };
  }

  private async createCheckout(a: { item_id?: string; plan_id?: string; quantity: number }): Promise<Record<string, unknown>> {
    const { checkout, tenant, conversationId, events, catalog } = this.deps;
    if (!checkout) return { ok: false, error: 'not_configured', message: 'Online payment is not set up for this business yet.' };
    const kind = a.plan_id !== undefined ? 'plan' : 'item';
    const ref = (a.plan_id ?? a.item_id)!;
    try {
      const link = await checkout.createCheckout(tenant, { kind, ref, quantity: a.quantity, conversationId });
      this.checkoutUrl = link.url;
      await events.record(tenant.id, 'checkout_created', {
        conversationId,
        data: { order_id: link.orderId, kind, ref, amount: link.amount, currency: link.currency, quantity: link.quantity },
      });
      const priceText = catalog ? catalog.formatPrice(tenant, link.amount, link.currency) : defaultPriceText(link.amount, link.currency);
      return { ok: true, url: link.url, name: link.name, price_text: priceText, quantity: link.quantity };
    } catch (err) {
      // The model may repeat the message to the customer: a missing setting is not named to them.
      if (err instanceof NotConfiguredError) return { ok: false, error: err.code, message: 'Online payment is not set up for this business yet.' };
      if (isAppError(err)) return { ok: false, error: err.code, message: err.message };
      throw err;
    }
  }

  private async captureLead(a: { name: string; email: string; whatsapp?: string | null }): Promise<Record<string, unknown>> {
    let whatsapp: string | null = null;
    if (a.whatsapp) {
      whatsapp = parseWhatsapp(a.whatsapp) ?? null;
      if (!whatsapp) return invalid('whatsapp: must be a number with country code such as +4791234567');
    }
    const { submitted } = await this.deps.leads.submit(this.deps.tenant.id, {
      name: a.name,
      email: a.email,
      whatsapp,
      channel: this.deps.channel,
      conversationId: this.deps.conversationId,
    });
    this.lead = submitted;
    // The model learns only that the details were taken, never whether the email was known.
    return { ok: true };
  }
}

/** The four tool lists a turn can have, made once (the OpenAI provider keys its request form on the list). */
const SPEC_LISTS: Record<string, ToolSpec[]> = {
  'false false': TOOL_SPECS,
  'true false': [...TOOL_SPECS, SEARCH_KNOWLEDGE_SPEC],
  'false true': [...TOOL_SPECS, REQUEST_HUMAN_SPEC],
  'true true': [...TOOL_SPECS, SEARCH_KNOWLEDGE_SPEC, REQUEST_HUMAN_SPEC],
};
function specsFor(knowledge: boolean, handoff: boolean): ToolSpec[] {
  return SPEC_LISTS[`${knowledge} ${handoff}`]!;
}
