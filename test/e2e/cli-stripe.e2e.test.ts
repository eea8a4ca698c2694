import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { FakeStripe } from '../fakes/stripe-api.js';
import { baseEnv } from '../helpers/app.js';
import { runBin, spawnServe } from '../helpers/cli.js';
import { dialects, freshDatabase } from '../helpers/db.js';
import { CONNECT_SECRET, PLANS, WEBHOOK_SECRET, decodePng, decodeTerminalQr } from '../helpers/stripe.js';

for (const dialect of dialects()) {
  test(`${dialect}: zia stripe onboard prints a link, a signed account.updated enables charges, zia checkout prints a scannable link`, async (t) => {
    const fake = await new FakeStripe().start();
    const db = await freshDatabase(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-stripe-'));
    const env = {
      ...baseEnv({ SITE_URL: 'https://bot.example.com' }),
      ...db.env,
      STRIPE_SECRET_KEY: fake.secretKey,
      STRIPE_API_URL: fake.url,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_CONNECT_WEBHOOK_SECRET: CONNECT_SECRET,
    };
    const zia = (args: string[]) => runBin(args, { env, cwd });
    try {
      t.is((await zia(['migrate'])).code, 0, 'only serve, worker, init and migrate create a database');
      let r = await zia(['tenant', 'create', 'shop', '--name', 'The Shop', '--set', `plans=${JSON.stringify(PLANS)}`, '--json']);
      t.is(r.code, 0, r.stderr);
      const tenantId = JSON.parse(r.stdout).id;

      r = await zia(['stripe', 'onboard', 'shop']);
      t.is(r.code, 0, r.stderr);
      const printed = /(https:\/\/connect\.stripe\.com\/setup\/e\/(acct_\w+)\/\S+)/.exec(r.stdout);
      t.truthy(printed, r.stdout);
      const accountId = printed![2]!;
      const [created] = fake.seen('POST', '/v1/accounts');
      t.is(created!.idempotencyKey, `zia-connect-account-${tenantId}`);
      t.is(created!.stripeVersion, Stripe.API_VERSION);
      t.is(created!.body.type, 'express');
      const [link] = fake.seen('POST', '/v1/account_links');
      t.like(link!.body, { account: accountId, type: 'account_onboarding', refresh_url: 'https://bot.example.com/stripe/connect/refresh?tenant=shop', return_url: 'https://bot.example.com/stripe/connect/return?tenant=shop' });

      r = await zia(['stripe', 'onboard', 'shop', '--json', '--qr']);
      t.is(r.code, 0, r.stderr);
      const again = JSON.parse(r.stdout);
      t.like(again, { tenant: 'shop', account_id: accountId, account_created: false, charges_enabled: false });
      t.is(decodeTerminalQr(r.stderr), again.url, 'with --json the terminal QR goes to stderr, and it scans');
      t.is(fake.seen('POST', '/v1/accounts').length, 1, 'the account is created once');

      r = await zia(['checkout', 'shop', '--plan', 'basic']);
      t.is(r.code, 1);
      t.regex(r.stderr, /zia stripe onboard shop/);

      // The tenant finishes onboarding on Stripe; Stripe tells zia at its Connect endpoint.
      const server = await spawnServe({ env, cwd });
      try {
        const event = fake.event('account.updated', fake.completeOnboarding(accountId), { account: accountId });
        const res = await FakeStripe.deliver(`${server.url}/v1/stripe/webhook`, event, { secret: CONNECT_SECRET });
        t.is(res.status, 200, await res.clone().text());
        const page = await fetch(`${server.url}/stripe/connect/return?tenant=shop`);
        t.regex(await page.text(), /Payments are enabled/);
      } finally {
        await server.stop();
      }
      r = await zia(['tenant', 'show', 'shop', '--json']);
      t.deepEqual(JSON.parse(r.stdout).stripe, { account_id: accountId, charges_enabled: true, details_submitted: true });

      r = await zia(['checkout', 'shop', '--plan', 'basic', '--json', '--png', 'qr.png']);
      t.is(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      t.like(out, { kind: 'plan', name: 'Basic coffee club', amount: 1900, currency: 'nok', png: path.join(cwd, 'qr.png') });
      t.is(decodePng(readFileSync(path.join(cwd, 'qr.png'))), out.url);
      t.is(fake.sessions.get(out.session_id)!._account, accountId, 'created on the connected account');

      r = await zia(['checkout', 'shop', '--plan', 'pro', '--qr']);
      t.is(r.code, 0, r.stderr);
      const url = /(https:\/\/checkout\.stripe\.com\/\S+)/.exec(r.stdout)![1];
      t.is(decodeTerminalQr(r.stdout), url);

      r = await zia(['checkout', 'shop', '--item', 'mug']);
      t.is(r.code, 1);
      t.regex(r.stderr, /no catalog configured/);
      r = await zia(['checkout', 'shop', '--plan', 'basic', '--send-wa', '+4791234567']);
      t.is(r.code, 1);
      t.regex(r.stderr, /WhatsApp not configured/);
      for (const args of [[], ['--plan', 'a', '--item', 'b'], ['--item', 'mug', '--qty', '100'], ['--plan', 'basic', '--qty', '2'], ['--plan', 'basic', '--send-wa', '4791234567']]) {
        r = await zia(['checkout', 'shop', ...args]);
        t.is(r.code, 2, `usage: ${args.join(' ')}`);
        t.is(r.stderr.trim().split('\n').length, 1);
      }
      t.is(fake.seen('POST', '/v1/checkout/sessions').length, 2);
      for (const s of [r.stdout, r.stderr]) t.false(s.includes(fake.secretKey));
    } finally {
      await fake.stop();
      await db.cleanup();
    }
  });
}
