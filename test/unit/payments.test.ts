import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.js';
import { formatMoney } from '../../src/features/payments/payment-service.js';
import { byItemBodySchema, qrBodySchema, sendWaBodySchema } from '../../src/features/payments/payments.schemas.js';
import { SignatureError, StripeGateway, splitApiUrl } from '../../src/features/payments/stripe-gateway.js';
import { parseStripeForm } from '../fakes/stripe-api.js';

const empty = mkdtempSync(path.join(tmpdir(), 'zia-pay-'));

test('STRIPE_API_URL is split into what the SDK takes; a path is refused at startup', (t) => {
  t.deepEqual(splitApiUrl('http://127.0.0.1:12111'), { host: '127.0.0.1', port: 12111, protocol: 'http' });
  t.deepEqual(splitApiUrl('https://stripe-proxy.internal/'), { host: 'stripe-proxy.internal', port: 443, protocol: 'https' });
  t.deepEqual(splitApiUrl('http://[::1]:8080'), { host: '::1', port: 8080, protocol: 'http' });
  t.is(loadConfig({ STRIPE_API_URL: 'http://127.0.0.1:12111' }, empty).STRIPE_API_URL, 'http://127.0.0.1:12111');
  const err = t.throws(() => loadConfig({ STRIPE_API_URL: 'https://proxy.example.com/stripe' }, empty), { instanceOf: ConfigError });
  t.regex(err!.message, /STRIPE_API_URL: must be http\(s\):\/\/host\[:port\] with no path/);
});

test('the webhook refuses to run without a secret, and refuses unsigned bodies', async (t) => {
  const none = new StripeGateway({ STRIPE_SECRET_KEY: undefined, STRIPE_API_URL: undefined, STRIPE_WEBHOOK_SECRET: undefined, STRIPE_CONNECT_WEBHOOK_SECRET: undefined });
  await t.throwsAsync(none.verifyEvent(Buffer.from('{}'), 't=1,v1=00'), { message: /STRIPE_WEBHOOK_SECRET/ });
  const one = new StripeGateway({ STRIPE_SECRET_KEY: 'sk_live_x', STRIPE_API_URL: undefined, STRIPE_WEBHOOK_SECRET: 'whsec_a', STRIPE_CONNECT_WEBHOOK_SECRET: undefined });
  await t.throwsAsync(one.verifyEvent(Buffer.from('{}'), undefined), { instanceOf: SignatureError });
  await t.throwsAsync(one.verifyEvent(Buffer.alloc(0), 't=1,v1=00'), { instanceOf: SignatureError });
  t.true(one.livemode);
  t.false(none.configured);
});

test('checkout bodies drop any price; quantity and link sources are bounded', (t) => {
  const item = byItemBodySchema.parse({ item_id: 'mug', price: 1, amount: 1, unit_amount: 1 });
  t.deepEqual(item, { item_id: 'mug', quantity: 1 });
  t.false(byItemBodySchema.safeParse({ item_id: 'mug', quantity: 100 }).success);
  t.false(byItemBodySchema.safeParse({ item_id: 'mug', quantity: 1.5 }).success);
  t.false(qrBodySchema.safeParse({ url: 'https://example.com' }).success, 'a QR needs a plan, an item or an order');
  t.false(qrBodySchema.safeParse({ plan_id: 'a', order_id: 'b' }).success);
  t.false(qrBodySchema.safeParse({ plan_id: 'a', quantity: 2 }).success);
  t.true(sendWaBodySchema.safeParse({ plan_id: 'a', to: '+4791234567' }).success);
  t.false(sendWaBodySchema.safeParse({ plan_id: 'a', to: '+0791234567' }).success);
});

test('money is formatted in the currency\'s own minor units', (t) => {
  t.is(formatMoney(1950, 'usd', 'en-US'), '$19.50');
  t.is(formatMoney(500, 'jpy', 'en-US'), '¥500');
  t.regex(formatMoney(34900, 'nok', 'en'), /NOK\s?349\.00/);
});

test('the fake parses Stripe\'s bracket-nested form bodies', (t) => {
  const body = 'mode=payment&line_items[0][price_data][currency]=nok&line_items[0][price_data][unit_amount]=100&line_items[0][quantity]=2'
    + '&line_items[1][price]=price_1&metadata[order_id]=01H&success_url=https%3A%2F%2Fx.example%2Fok%3Fs%3D%7BCHECKOUT_SESSION_ID%7D&name=a+b';
  t.deepEqual(parseStripeForm(body), {
    mode: 'payment',
    line_items: [{ price_data: { currency: 'nok', unit_amount: '100' }, quantity: '2' }, { price: 'price_1' }],
    metadata: { order_id: '01H' },
    success_url: 'https://x.example/ok?s={CHECKOUT_SESSION_ID}',
    name: 'a b',
  });
});
