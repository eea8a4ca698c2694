import test from 'ava';
import { PromptBuilder } from '../../src/features/ai/prompt-builder.js';
import type { Tenant } from '../../src/features/tenants/tenant-service.js';

const tenant = (name: string, tone: string) => ({ id: 't1', slug: 'shop', name, settings: { tone } }) as unknown as Tenant;

test('prompt builder: one prompt string per tenant, channel and catalog flag, rebuilt for a changed tenant', (t) => {
  const prompts = new PromptBuilder();
  const shop = tenant('Bench Shop', 'calm');
  const web = prompts.build(shop, 'web', { hasCatalog: false });
  t.true(web.includes('Bench Shop') && web.includes('calm'));
  t.is(prompts.build(shop, 'web', { hasCatalog: false }), web, 'the same string again');
  t.not(prompts.build(shop, 'whatsapp', { hasCatalog: false }), web, 'another channel, another prompt');
  t.true(prompts.build(shop, 'web', { hasCatalog: true }).includes('search_catalog'));
  // A tenant that changed is read as a new object: its prompt is built from the new settings.
  const changed = prompts.build(tenant('Bench Shop', 'cheerful'), 'web', { hasCatalog: false });
  t.true(changed.includes('cheerful') && !changed.includes('calm'));
});
