import { readFileSync } from 'node:fs';
import { templatePath } from '../../paths.js';
import type { Channel } from '../chat/chat.types.js';
import type { Tenant } from '../tenants/tenant-service.js';

/** Length and format limits per channel, so replies fit where they are shown. */
export const CHANNEL_RULES: Record<Channel, string> = {
  web: 'Channel: website chat. Short paragraphs; simple Markdown (bold, lists, links) is fine. Keep answers under 120 words.',
  whatsapp: 'Channel: WhatsApp. Plain text only, no Markdown, no headings. Keep answers under 60 words.',
  messenger: 'Channel: Facebook Messenger. Plain text only, no Markdown. Keep answers under 60 words.',
  instagram: 'Channel: Instagram direct messages. Plain text only, no Markdown. Keep answers under 50 words.',
  fb_comment: 'Channel: a public reply to a Facebook comment. Plain text, one or two sentences, under 25 words; never share personal details publicly.',
  ig_comment: 'Channel: a public reply to an Instagram comment. Plain text, one or two sentences, under 25 words; never share personal details publicly.',
};

/** Tenant text goes into the prompt as a quoted block, so it reads as data rather than instructions. */
export function quote(text: string): string {
  const body = text.replace(/```/g, "'''").trim();
  return body ? '```text\n' + body + '\n```' : '(none)';
}

export class PromptBuilder {
  private template: string | undefined;
  /**
   * Built prompts by tenant object (a changed tenant is a new object), channel and catalog flag. A turn
   * keeps its prompt until it ends (retries and tool rounds resend it), so with thousands of chat streams
   * held open a copy per turn was KBs per stream; one string per tenant is shared by all of its turns.
   */
  private readonly built = new WeakMap<Tenant, Map<string, string>>();

  constructor(private readonly file: string = templatePath('prompt.md')) {}

  build(tenant: Tenant, channel: Channel, opts: { hasCatalog: boolean }): string {
    let forTenant = this.built.get(tenant);
    if (!forTenant) this.built.set(tenant, (forTenant = new Map()));
    const key = `${channel} ${opts.hasCatalog}`;
    let prompt = forTenant.get(key);
    if (prompt === undefined) forTenant.set(key, (prompt = this.render(tenant, channel, opts)));
    return prompt;
  }

  private render(tenant: Tenant, channel: Channel, opts: { hasCatalog: boolean }): string {
    this.template ??= readFileSync(this.file, 'utf8');
    const s = tenant.settings;
    const faq = (s.faq ?? []).map((f) => `Q: ${f.q}\nA: ${f.a}`).join('\n\n');
    const catalogLines: string[] = [];
    if (opts.hasCatalog) catalogLines.push('This business has a product catalog: search it with search_catalog.');
    for (const p of s.plans ?? []) catalogLines.push(`Plan id "${p.id}": ${p.name}${p.description ? ` (${p.description})` : ''}`);
    const values: Record<string, string> = {
      business_name: tenant.name,
      tone: s.tone ?? 'friendly, helpful and concise',
      channel_rules: CHANNEL_RULES[channel],
      policies: quote(s.policies ?? ''),
      faq: quote(faq),
      catalog: catalogLines.length ? quote(catalogLines.join('\n')) : '(no catalog or plans)',
    };
    return this.template.replace(/\{\{(\w+)\}\}/g, (_m, key: string) => values[key] ?? '');
  }
}
