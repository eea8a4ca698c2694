import test from 'ava';
import { createHmac } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { buildSimulation } from '../../src/features/diagnostics/webhook-simulator.js';
import { signPayload, verifySignature } from '../../src/features/outbound/outbound-signature.js';
import type { Tenant, TenantService } from '../../src/features/tenants/tenant-service.js';

const tenant = {
  id: '01TENANT',
  slug: 'shop',
  name: 'Shop',
  whatsapp: null,
  settings: {},
  sealedSecrets: null,
  fbPageId: '1000000001',
  igUserId: null,
  whatsappFrom: 'whatsapp:+14155238886',
  waPhoneNumberId: null,
  stripeAccountId: 'acct_123',
  chargesEnabled: true,
  detailsSubmitted: true,
  createdAt: '2026-11-26T00:00:00.000Z',
  updatedAt: '2026-11-26T00:00:00.000Z',
} as unknown as Tenant;
const tenants = (secrets: Record<string, string> = {}) => ({ secrets: () => secrets }) as unknown as TenantService;
const config = (env: Record<string, string>) => loadConfig({ SITE_URL: 'https://bot.example.com', ...env }, '/nonexistent');

test('meta: X-Hub-Signature-256 is the HMAC of the exact body with META_APP_SECRET, for the tenant page', async (t) => {
  const req = await buildSimulation('meta', config({ META_APP_SECRET: 'app-secret' }), tenants(), { tenant, text: 'hi, ünïcode ✓', baseUrl: 'http://127.0.0.1:9/' });
  t.is(req.url, 'http://127.0.0.1:9/v1/meta/webhook');
  t.is(req.headers['x-hub-signature-256'], `sha256=${createHmac('sha256', 'app-secret').update(Buffer.from(req.body, 'utf8')).digest('hex')}`);
  const body = JSON.parse(req.body);
  t.is(body.entry[0].id, '1000000001');
  t.is(body.entry[0].messaging[0].message.text, 'hi, ünïcode ✓');
  t.is(req.externalId, `mid:${body.entry[0].messaging[0].message.mid}`);
  await t.throwsAsync(buildSimulation('meta', config({}), tenants(), { tenant, text: 'x', baseUrl: 'http://x' }), { message: /META_APP_SECRET/ });
});

test("whatsapp: X-Twilio-Signature validates with twilio's own check, tenant token first, over the URL with ?tenant=", async (t) => {
  const { default: twilio } = await import('twilio');
  const token = 'tenant-twilio-token-0123456789';
  const req = await buildSimulation('whatsapp', config({ TWILIO_AUTH_TOKEN: 'global-token-0123456789' }), tenants({ twilio_auth_token: token }), { tenant, text: 'Hei', baseUrl: 'http://127.0.0.1:9' });
  t.is(req.url, 'http://127.0.0.1:9/v1/twilio/whatsapp/webhook?tenant=shop');
  const params = Object.fromEntries(new URLSearchParams(req.body));
  t.like(params, { Body: 'Hei', To: 'whatsapp:+14155238886', NumMedia: '0' });
  t.true(twilio.validateRequest(token, req.headers['x-twilio-signature']!, req.url, params));
  t.false(twilio.validateRequest('global-token-0123456789', req.headers['x-twilio-signature']!, req.url, params));
  const global = await buildSimulation('whatsapp', config({ TWILIO_AUTH_TOKEN: 'global-token-0123456789' }), tenants(), { tenant, text: 'Hei', baseUrl: 'http://127.0.0.1:9' });
  t.true(twilio.validateRequest('global-token-0123456789', global.headers['x-twilio-signature']!, global.url, Object.fromEntries(new URLSearchParams(global.body))));
});

test('whatsapp on the Cloud API: a whatsapp_business_account text as Meta posts it, signed over the exact bytes, to /v1/meta/webhook', async (t) => {
  const cloudTenant = {
    ...tenant,
    whatsapp: '+15550783881',
    whatsappFrom: null,
    waPhoneNumberId: '106540352242922',
    settings: { whatsapp: { provider: 'cloud', phone_number_id: '106540352242922', waba_id: '102290129340398' } },
  } as unknown as Tenant;
  const req = await buildSimulation('whatsapp', config({ META_APP_SECRET: 'app-secret', TWILIO_AUTH_TOKEN: 'global-token-0123456789' }), tenants(), { tenant: cloudTenant, text: 'Hei ✓', baseUrl: 'http://127.0.0.1:9/', from: '+4791234567' });
  t.is(req.url, 'http://127.0.0.1:9/v1/meta/webhook');
  t.is(req.headers['x-hub-signature-256'], `sha256=${createHmac('sha256', 'app-secret').update(Buffer.from(req.body, 'utf8')).digest('hex')}`);
  t.false('x-twilio-signature' in req.headers);
  const body = JSON.parse(req.body);
  t.is(body.object, 'whatsapp_business_account');
  t.is(body.entry[0].id, '102290129340398');
  const change = body.entry[0].changes[0];
  t.is(change.field, 'messages');
  t.deepEqual(change.value.metadata, { display_phone_number: '15550783881', phone_number_id: '106540352242922' });
  t.deepEqual(change.value.contacts, [{ profile: { name: 'Simulated user' }, wa_id: '4791234567' }]);
  const [message] = change.value.messages;
  t.like(message, { from: '4791234567', type: 'text', text: { body: 'Hei ✓' } });
  t.regex(message.id, /^wamid\./);
  t.regex(message.timestamp, /^\d{10}$/);
  t.is(req.externalId, `wamid:${message.id}`);

  // A customer who hides their number is known by their business-scoped user id alone.
  const hidden = JSON.parse((await buildSimulation('whatsapp', config({ META_APP_SECRET: 'app-secret' }), tenants(), { tenant: cloudTenant, text: 'x', baseUrl: 'http://x', from: 'US.13491208655302741918' })).body);
  t.deepEqual(hidden.entry[0].changes[0].value.contacts, [{ profile: { name: 'Simulated user' }, user_id: 'US.13491208655302741918' }]);
  t.is(hidden.entry[0].changes[0].value.messages[0].from_user_id, 'US.13491208655302741918');
  t.false('from' in hidden.entry[0].changes[0].value.messages[0]);

  await t.throwsAsync(buildSimulation('whatsapp', config({ TWILIO_AUTH_TOKEN: 'global-token-0123456789' }), tenants(), { tenant: cloudTenant, text: 'x', baseUrl: 'http://x' }), { message: /META_APP_SECRET/ });
  await t.throwsAsync(buildSimulation('whatsapp', config({ META_APP_SECRET: 'app-secret' }), tenants(), { tenant: cloudTenant, text: 'x', baseUrl: 'http://x', from: 'not a number' }), { message: /--from/ });
});

test('stripe: the Stripe-Signature verifies with the SDK for the connected account, using the Connect secret', async (t) => {
  const { default: Stripe } = await import('stripe');
  const req = await buildSimulation('stripe', config({ STRIPE_WEBHOOK_SECRET: 'whsec_platform', STRIPE_CONNECT_WEBHOOK_SECRET: 'whsec_connect' }), tenants(), { tenant, text: 'x', baseUrl: 'http://127.0.0.1:9', orderId: 'ord_1' });
  const event = Stripe.webhooks.constructEvent(req.body, req.headers['stripe-signature']!, 'whsec_connect');
  t.is(event.type, 'checkout.session.completed');
  t.is(event.account, 'acct_123');
  t.is((event.data.object as { metadata: Record<string, string> }).metadata.order_id, 'ord_1');
  t.throws(() => Stripe.webhooks.constructEvent(req.body, req.headers['stripe-signature']!, 'whsec_platform'));
});

test('outbound signature: t=…,v1=HMAC-SHA256("t.body"); other bytes, another secret or an old timestamp fail', (t) => {
  const now = 1_800_000_000;
  const header = signPayload('s3cret-s3cret-s3cret', '{"a":1}', now);
  t.is(header, `t=${now},v1=${createHmac('sha256', 's3cret-s3cret-s3cret').update(`${now}.{"a":1}`).digest('hex')}`);
  t.true(verifySignature('s3cret-s3cret-s3cret', '{"a":1}', header, 300, now + 10));
  t.false(verifySignature('s3cret-s3cret-s3cret', '{"a":2}', header, 300, now));
  t.false(verifySignature('another-secret-000000', '{"a":1}', header, 300, now));
  t.false(verifySignature('s3cret-s3cret-s3cret', '{"a":1}', header, 300, now + 301));
  t.false(verifySignature('s3cret-s3cret-s3cret', '{"a":1}', undefined, 300, now));
  t.false(verifySignature('s3cret-s3cret-s3cret', '{"a":1}', 't=x,v1=zz', 300, now));
});
