import type { Plan } from '../tenants/tenant.schemas.js';
import type { ToolRunner } from './provider.js';
import { bestMatch, normalise } from './text-match.js';

/** What a customer's message asks for, read without a model: buying, a product question, how many, of what. */

export const BUY = /\b(buy|purchase|order|checkout|check out|subscribe|sign me up|i'?ll take|i would like to get|i want to get|pay for|payment link)\b/i;
export const PRODUCT_QUESTION = /\b(price|prices|pricing|cost|costs|how much|available|availability|in stock|stock|do you (have|sell|carry)|sell)\b/i;
const QUESTION_NOISE =
  /\b(how much (is|are|does|do|for)?|what('s| is| are)? the (price|cost) (of|for)?|price|prices|pricing|cost|costs|is|are|the|a|an|do you (have|sell|carry)|available|availability|in stock|stock|buy|purchase|order|checkout|check out|subscribe( to)?|sign me up( for)?|i'?ll take|i want( to get)?|i would like( to get)?|pay for|payment link|for|please|one|of|me)\b/gi;
const NUMBER_WORDS: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10 };

export function quantityOf(text: string): number {
  const digits = /\b(\d{1,2})\s*(x|pcs|pieces|units|of)?\b/i.exec(text);
  if (digits) return Math.max(1, Math.min(99, Number(digits[1])));
  for (const [w, n] of Object.entries(NUMBER_WORDS)) if (new RegExp(`\\b${w}\\b`, 'i').test(text)) return n;
  return 1;
}

/** The message without the words of asking and buying: what is left names the product. */
export function subjectOf(text: string): string {
  return normalise(text).replace(QUESTION_NOISE, ' ').replace(/\b\d{1,2}\b/g, ' ').replace(/\s+/g, ' ').trim();
}

export interface CatalogHit {
  id: string;
  name: string;
  price_text: string;
  available: boolean | null;
  url?: string | null;
}

/** The catalog items the search_catalog tool finds for a query; `configured` is false without a catalog. */
export async function searchItems(tools: ToolRunner, query: string): Promise<{ items: CatalogHit[]; configured: boolean }> {
  if (!query) return { items: [], configured: true };
  const r = await tools.run('search_catalog', { query });
  if (r.ok !== true) return { items: [], configured: r.error !== 'not_configured' };
  return { items: (r.items as CatalogHit[]) ?? [], configured: true };
}

/** What a buying message asks to pay for: a plan it names, else the best catalog match; undefined when neither. */
export async function purchaseArgs(tools: ToolRunner, plans: readonly Plan[], question: string): Promise<Record<string, unknown> | undefined> {
  const subject = subjectOf(question);
  const plan = bestMatch(subject || question, [...plans], (p) => `${p.name} ${p.id}`, 0.3);
  if (plan) return { plan_id: plan.id };
  const { items } = await searchItems(tools, subject);
  return items[0] ? { item_id: items[0].id, quantity: quantityOf(question) } : undefined;
}
