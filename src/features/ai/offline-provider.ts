import { setTimeout as sleep } from 'node:timers/promises';
import type { Tenant } from '../tenants/tenant-service.js';
import type { AiProvider, GenerateRequest, GenerateResult } from './provider.js';
import { bestMatch, dice, normalise, tokens, wordChunks } from './text-match.js';

/**
 * The embedded assistant: deterministic answers from the tenant's FAQ, catalog and plans, with the
 * same tools the model would use. It runs with no network and no key, and streams like a model.
 */

const GREETING = /^\s*(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening)|hola|hei|hallo|yo)\b[\s!.,?]*((there|team|all)[\s!.,?]*)?$/i;
const BUY = /\b(buy|purchase|order|checkout|check out|subscribe|sign me up|i'?ll take|i would like to get|i want to get|pay for|payment link)\b/i;
const PRODUCT_QUESTION = /\b(price|prices|pricing|cost|costs|how much|available|availability|in stock|stock|do you (have|sell|carry)|sell)\b/i;
const QUESTION_NOISE =
  /\b(how much (is|are|does|do|for)?|what('s| is| are)? the (price|cost) (of|for)?|price|prices|pricing|cost|costs|is|are|the|a|an|do you (have|sell|carry)|available|availability|in stock|stock|buy|purchase|order|checkout|check out|subscribe( to)?|sign me up( for)?|i'?ll take|i want( to get)?|i would like( to get)?|pay for|payment link|for|please|one|of|me)\b/gi;
const NUMBER_WORDS: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10 };

function quantityOf(text: string): number {
  const digits = /\b(\d{1,2})\s*(x|pcs|pieces|units|of)?\b/i.exec(text);
  if (digits) return Math.max(1, Math.min(99, Number(digits[1])));
  for (const [w, n] of Object.entries(NUMBER_WORDS)) if (new RegExp(`\\b${w}\\b`, 'i').test(text)) return n;
  return 1;
}

function subjectOf(text: string): string {
  return normalise(text).replace(QUESTION_NOISE, ' ').replace(/\b\d{1,2}\b/g, ' ').replace(/\s+/g, ' ').trim();
}

interface Item {
  id: string;
  name: string;
  price_text: string;
  available: boolean | null;
}

export class OfflineProvider implements AiProvider {
  readonly usesHistory = false;
  readonly name = 'offline' as const;

  /**
   * @param tokenDelayMs pause between chunks when a client watches the reply arrive, so a widget shows
   * it growing as it would from a model; a caller waiting for the whole reply gets it at once.
   */
  constructor(private readonly options: { tokenDelayMs?: number } = {}) {}

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const text = await this.answer(req);
    const delay = req.live ? (this.options.tokenDelayMs ?? 0) : 0;
    let first = true;
    for (const chunk of wordChunks(text)) {
      if (req.signal?.aborted) break;
      if (!first && delay > 0) await sleep(delay, undefined, { signal: req.signal }).catch(() => undefined);
      first = false;
      req.onToken(chunk);
    }
    return { text, tokens: 0 };
  }

  private async answer(req: GenerateRequest): Promise<string> {
    const { tenant } = req;
    const question = req.messages.at(-1)?.content ?? '';
    if (GREETING.test(question)) return tenant.settings.greeting ?? `Hi! I'm the ${tenant.name} assistant. How can I help you today?`;

    if (BUY.test(question)) {
      const bought = await this.buy(req, question);
      if (bought) return bought;
    }
    if (PRODUCT_QUESTION.test(question)) {
      const answer = await this.productAnswer(req, question);
      if (answer) return answer;
    }
    const faq = bestMatch(question, tenant.settings.faq ?? [], (f) => f.q);
    if (faq) return faq.a;
    return this.fallback(tenant);
  }

  private async searchItems(req: GenerateRequest, query: string): Promise<{ items: Item[]; configured: boolean }> {
    if (!query) return { items: [], configured: true };
    const r = await req.tools.run('search_catalog', { query });
    if (r.ok !== true) return { items: [], configured: r.error !== 'not_configured' };
    return { items: (r.items as Item[]) ?? [], configured: true };
  }

  private async buy(req: GenerateRequest, question: string): Promise<string | undefined> {
    const subject = subjectOf(question);
    const quantity = quantityOf(question);
    const plans = req.tenant.settings.plans ?? [];
    const plan = bestMatch(subject || question, plans, (p) => `${p.name} ${p.id}`, 0.3);
    let args: Record<string, unknown> | undefined;
    if (plan) args = { plan_id: plan.id };
    else {
      const { items } = await this.searchItems(req, subject);
      if (items[0]) args = { item_id: items[0].id, quantity };
    }
    if (!args) {
      if (plans.length > 0) return `Which plan would you like? We offer ${plans.map((p) => p.name).join(', ')}.`;
      return undefined;
    }
    const r = await req.tools.run('create_checkout_link', args);
    if (r.ok === true) {
      const qty = Number(r.quantity ?? 1);
      return `Here is your checkout link for ${qty > 1 ? `${qty} × ` : ''}${String(r.name)} (${String(r.price_text)}${qty > 1 ? ' each' : ''}): ${String(r.url)}`;
    }
    if (r.error === 'not_configured') return `Sorry, online payment is not set up for ${req.tenant.name} yet. ${this.offerContact(req.tenant)}`;
    return `Sorry, I could not create a payment link right now (${String(r.message ?? 'unavailable')}). ${this.offerContact(req.tenant)}`;
  }

  private async productAnswer(req: GenerateRequest, question: string): Promise<string | undefined> {
    const subject = subjectOf(question);
    const { items, configured } = await this.searchItems(req, subject);
    const q = tokens(subject);
    // Only answer when the best hit actually names what was asked about.
    const hit = items.find((i) => dice(q, tokens(i.name)) > 0) ?? (q.length ? undefined : items[0]);
    if (hit) {
      const availability =
        hit.available === false ? ' It is currently out of stock.' : hit.available === true ? ' It is in stock.' : '';
      return `${hit.name} costs ${hit.price_text}.${availability} Would you like a payment link?`;
    }
    if (!configured) return undefined;
    if (items.length === 0 && subject && (req.tenant.settings.faq ?? []).length === 0) {
      return `I couldn't find "${subject}" in our catalog. ${this.offerContact(req.tenant)}`;
    }
    return undefined;
  }

  private offerContact(tenant: Tenant): string {
    if (tenant.settings.lead?.mode === 'off') return 'Please try asking in another way.';
    return `If you like, someone from ${tenant.name} can get back to you: just say "contact me".`;
  }

  private fallback(tenant: Tenant): string {
    return `I'm not sure I can answer that. ${this.offerContact(tenant)}`;
  }
}
