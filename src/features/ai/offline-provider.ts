import { setTimeout as sleep } from 'node:timers/promises';
import type { Tenant } from '../tenants/tenant-service.js';
import type { AiProvider, GenerateRequest, GenerateResult } from './provider.js';
import { BUY, PRODUCT_QUESTION, purchaseArgs, searchItems, subjectOf } from './shop-intent.js';
import { bestMatch, dice, tokens, wordChunks } from './text-match.js';
import { excerpt } from '../knowledge/knowledge-answer.js';

/**
 * The embedded assistant: deterministic answers from the tenant's FAQ, catalog, plans and knowledge
 * base (the passage that clearly answers, in its own words), with the same tools the model would use.
 * It runs with no network and no key, and streams like a model.
 */

const GREETING = /^\s*(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening)|hola|hei|hallo|yo)\b[\s!.,?]*((there|team|all)[\s!.,?]*)?$/i;
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
    const passage = req.knowledge?.find((p) => p.clear);
    if (passage) return excerpt(passage, question);
    return this.fallback(tenant);
  }

  private async buy(req: GenerateRequest, question: string): Promise<string | undefined> {
    const plans = req.tenant.settings.plans ?? [];
    const args = await purchaseArgs(req.tools, plans, question);
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
    const { items, configured } = await searchItems(req.tools, subject);
    const q = tokens(subject);
    // Only answer when the best hit actually names what was asked about.
    const hit = items.find((i) => dice(q, tokens(i.name)) > 0) ?? (q.length ? undefined : items[0]);
    if (hit) {
      const availability =
        hit.available === false ? ' It is currently out of stock.' : hit.available === true ? ' It is in stock.' : '';
      return `${hit.name} costs ${hit.price_text}.${availability} Would you like a payment link?`;
    }
    if (!configured) return undefined;
    // Not found in the catalog is the answer only when nothing else could hold one.
    if (items.length === 0 && subject && (req.tenant.settings.faq ?? []).length === 0 && !req.knowledge?.length) {
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
