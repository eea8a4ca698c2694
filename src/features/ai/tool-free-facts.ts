import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { quote } from './prompt-builder.js';
import type { GenerateRequest } from './provider.js';
import { BUY, purchaseArgs, searchItems, subjectOf } from './shop-intent.js';

/**
 * For a model that gets no tools (OPENAI_TOOLS=off, a tenant's ai_tools=off, or a server that refused
 * them): zia runs the tools itself on the customer's message, as the offline assistant does, and gives
 * the model what they found, so catalog answers and checkout links still come from the server. Leads
 * are then taken by zia's own lead flow, which starts when a customer asks to be contacted.
 */
export async function toolFreeFacts(req: GenerateRequest): Promise<ChatCompletionMessageParam[]> {
  const question = req.messages.at(-1)?.content ?? '';
  const rules = ['You cannot call tools in this conversation. Use only the facts below for products, prices and links; never make up a price or a link.'];
  const lines: string[] = [];
  const { items, configured } = await searchItems(req.tools, subjectOf(question) || question);
  if (items.length > 0) {
    lines.push('Catalog items matching the customer\'s message (prices from the server):');
    for (const i of items) {
      const stock = i.available === false ? ', out of stock' : i.available === true ? ', in stock' : '';
      lines.push(`- ${i.name}: ${i.price_text}${stock}${i.url ? ` (${i.url})` : ''}`);
    }
  } else if (configured) {
    lines.push('No catalog item matches the customer\'s message.');
  }
  if (BUY.test(question)) {
    const args = await purchaseArgs(req.tools, req.tenant.settings.plans ?? [], question);
    const r = args ? await req.tools.run('create_checkout_link', args) : undefined;
    if (r?.ok === true) {
      lines.push(`A payment link was created for ${String(r.quantity ?? 1)} × ${String(r.name)} (${String(r.price_text)} each): ${String(r.url)} — to be given to the customer exactly as written.`);
    } else if (r) {
      lines.push(`No payment link could be created (${String(r.message ?? r.error ?? 'unavailable')}); the customer can be offered a call back instead.`);
    }
  }
  if (req.tenant.settings.lead?.mode !== 'off') rules.push('If the customer wants to be contacted, ask them to write "contact me".');
  return [{ role: 'system', content: `${rules.join(' ')}\nFacts for this reply:\n${quote(lines.join('\n'))}` }];
}
