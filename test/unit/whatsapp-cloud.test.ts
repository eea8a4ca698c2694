import test from 'ava';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { parseCloudPayload } from '../../src/features/channels/whatsapp/cloud-parser.js';
import { CloudTransport, type CloudWhatsApp } from '../../src/features/channels/whatsapp/cloud-transport.js';
import type { StoredTemplate } from '../../src/features/channels/whatsapp/cloud-store.js';
import { ThroughputLimit } from '../../src/features/channels/whatsapp/throughput.js';
import { classifyGraphError } from '../../src/features/channels/meta/graph-client.js';
import { sendView } from '../../src/features/channels/outbound-sends.js';
import type { SendRecord } from '../../src/features/channels/outbound-store.js';
import type { OutboundMessage } from '../../src/features/channels/channel.types.js';
import type { Tenant } from '../../src/features/tenants/tenant-service.js';
import { cloudMessage, CUSTOMER_USER_ID, CUSTOMER_WA, PHONE_NUMBER_ID } from '../helpers/whatsapp-cloud.js';

const tenant = (whatsapp: Record<string, unknown> = {}) => ({ id: 't1', slug: 'shop', name: 'Shop & Co', settings: { whatsapp: { provider: 'cloud', ...whatsapp } } }) as unknown as Tenant;

const template: StoredTemplate = { name: 'reply_notice', language: 'en_US', templateId: '1', category: 'UTILITY', status: 'APPROVED', bodyParameters: 2, body: 'Hi {{1}}: {{2}}', syncedAt: '', updatedAt: '' };

function transport(found: Awaited<ReturnType<CloudWhatsApp['outsideWindowTemplate']>> = { template, parameters: ['{business}', '{message}'] }) {
  return new CloudTransport({ outsideWindowTemplate: async () => found, contact: async () => undefined } as unknown as CloudWhatsApp);
}

const msg = (text: string, extra: Partial<OutboundMessage> = {}): OutboundMessage => ({
  tenant: tenant(),
  channel: 'whatsapp',
  conversationId: 'c1',
  externalUserId: `+${CUSTOMER_WA}`,
  text,
  lastInboundAt: new Date().toISOString(),
  idempotencyKey: 'k',
  ...extra,
});

const planOf = async (t: CloudTransport, m: OutboundMessage, inWindow = true) => {
  const plan = await t.plan(m, inWindow);
  if (!plan || 'notSent' in plan) throw new Error(`not planned: ${JSON.stringify(plan)}`);
  return plan;
};

test('inside the window: markdown becomes plain text, split at 4,096 characters, to the number without its +', async (t) => {
  const plan = await planOf(transport(), msg(`**Hi**\n\n${'word '.repeat(1000)}`));
  t.is(plan.parts.length, 2);
  const first = plan.parts[0]!.payload as any;
  t.like(first, { messaging_product: 'whatsapp', recipient_type: 'individual', to: CUSTOMER_WA, type: 'text' });
  t.true(first.text.body.startsWith('Hi\n'));
  t.true(plan.parts.every((p) => [...(p.payload as any).text.body].length <= 4096));
  t.deepEqual(plan.sent, { parts: 2 });
});

test('a customer known only by user id is addressed with recipient', async (t) => {
  const plan = await planOf(transport(), msg('Hello', { externalUserId: CUSTOMER_USER_ID }));
  const body = plan.parts[0]!.payload as any;
  t.is(body.recipient, CUSTOMER_USER_ID);
  t.false('to' in body);
});

test('the checkout link becomes a "Pay now" button over the rest of the text; buttons off keeps plain text', async (t) => {
  const url = 'https://checkout.stripe.com/c/pay/cs_test_1';
  const plan = await planOf(transport(), msg(`Here is your link:\n${url}\n\nThanks!`, { checkoutUrl: url }));
  const i = (plan.parts[0]!.payload as any).interactive;
  t.deepEqual(i, { type: 'cta_url', body: { text: 'Here is your link\n\nThanks!' }, action: { name: 'cta_url', parameters: { display_text: 'Pay now', url } } });
  const off = await planOf(transport(), msg(`Pay here: ${url}`, { checkoutUrl: url, tenant: tenant({ buttons: false }) }));
  t.is((off.parts[0]!.payload as any).type, 'text');
  // A link not in the text (or not https) is not turned into a button.
  t.is(((await planOf(transport(), msg('Pay at the counter', { checkoutUrl: url }))).parts[0]!.payload as any).type, 'text');
});

test('reply buttons when the text fits an interactive body; titles cut to 20 characters, at most three', async (t) => {
  const buttons = [1, 2, 3, 4].map((n) => ({ id: `b${n}`, title: `A rather long button title ${n}` }));
  const plan = await planOf(transport(), msg('Pick one', { quickReplies: buttons }));
  const action = (plan.parts[0]!.payload as any).interactive.action;
  t.is(action.buttons.length, 3);
  t.true(action.buttons.every((b: any) => [...b.reply.title].length <= 20));
  const long = await planOf(transport(), msg('x'.repeat(1500), { quickReplies: buttons }));
  t.is((long.parts[0]!.payload as any).type, 'text');
});

test('outside the window: the template with its parameters on one line each, the message shortened so the body stays within 1,024', async (t) => {
  const plan = await planOf(transport(), msg(`First line\nsecond\tline   with    gaps ${'y'.repeat(2000)}`), false);
  t.is(plan.reason, 'template');
  t.deepEqual(plan.sent, { template: 'reply_notice', category: 'utility' });
  const params = (plan.parts[0]!.payload as any).template.components[0].parameters.map((p: any) => p.text);
  t.is(params[0], 'Shop & Co');
  t.false(/[\n\t]| {5,}/.test(params[1]));
  t.true(params[1].startsWith('First line · second line with gaps'));
  t.true('Hi : '.length + params[0].length + [...params[1]].length <= 1024);
  const refused = await transport({ reason: 'template_category_marketing: only a utility template may carry a reply' }).plan(msg('x'), false);
  t.deepEqual(refused, { notSent: 'template_category_marketing: only a utility template may carry a reply' });
});

test('the parser reads text, button taps, template quick replies, media, locations; drops system messages, reactions and senders with no id', (t) => {
  const entries = (...payloads: any[]) => payloads.flatMap((p) => p.entry);
  const r = parseCloudPayload(
    entries(
      cloudMessage('w1', { type: 'button', button: { payload: 'yes-please', text: 'Yes please' } }),
      cloudMessage('w2', { type: 'interactive', interactive: { type: 'list_reply', list_reply: { id: 'row-2', title: 'Large', description: 'x' } } }),
      cloudMessage('w3', { type: 'document', document: { id: 'doc-1', mime_type: 'application/pdf', filename: 'a.pdf' } }),
      cloudMessage('w4', { type: 'location', location: { latitude: 1.5, longitude: 2.5, name: 'Shop', address: 'Main St 1' } }),
      cloudMessage('w5', { type: 'system', system: { body: 'changed number', type: 'user_changed_number' } }),
      cloudMessage('w6', { type: 'reaction', reaction: { message_id: 'w1', emoji: '👍' } }),
      cloudMessage('w7', { type: 'text', text: { body: 'hi' } }, { wa: null, userId: null }),
      cloudMessage('w8', { type: 'order', order: {} }),
    ),
  );
  t.deepEqual(
    r.messages.map((m) => [m.messageId, m.text, m.buttonId, m.media]),
    [
      ['w1', 'Yes please', 'yes-please', []],
      ['w2', 'Large', 'row-2', []],
      ['w3', '', null, [{ kind: 'document', id: 'doc-1', mimeType: 'application/pdf' }]],
      ['w4', '', null, [{ kind: 'location', description: 'Shop, Main St 1 (1.5, 2.5)' }]],
      ['w8', '', null, [{ kind: 'other', description: 'order' }]],
    ],
  );
  t.true(r.messages.every((m) => m.phoneNumberId === PHONE_NUMBER_ID && m.phone === `+${CUSTOMER_WA}` && m.userId === CUSTOMER_USER_ID));
  t.deepEqual(r.dropped, ['system', 'reaction', 'message with neither a number nor a user id']);
});

test("Meta's WhatsApp error classes: throughput and pair limits are retried, window, undeliverable, marketing cap and token are not", (t) => {
  const c = (code: number) => classifyGraphError({ status: 400, code, subcode: null });
  for (const code of [130429, 80007, 131056, 131000]) t.true(c(code).transient, String(code));
  for (const code of [131047, 131026, 131049, 190, 132001, 132000]) t.false(c(code).transient, String(code));
  t.regex(c(131047).reason, /24-hour window/);
  t.regex(c(190).reason, /new token/);
});

test('a number past its messages per second waits for the next second instead of failing', async (t) => {
  const limit = new ThroughputLimit((o) => new RateLimiterMemory(o));
  let done = 0;
  const all = Array.from({ length: 8 }, () => limit.take('123', 5).then(() => done++));
  await new Promise((r) => setTimeout(r, 150));
  t.is(done, 5);
  await Promise.all(all);
  t.is(done, 8);
});

test('a Cloud API send shows whom it was for: the number with its +, or the user id', (t) => {
  const view = (body: Record<string, unknown>) => sendView({ id: 's1', request: { provider: 'cloud', phoneNumberId: PHONE_NUMBER_ID, body } } as unknown as SendRecord).to;
  t.is(view({ to: CUSTOMER_WA }), `+${CUSTOMER_WA}`);
  t.is(view({ recipient: CUSTOMER_USER_ID }), CUSTOMER_USER_ID);
});
