import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseEnv } from '../helpers/app.js';
import { runBin } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/db.js';

test('zia webhooks urls prints provider URLs from SITE_URL; check names missing secrets and exits 1', async (t) => {
  const db = await freshDatabase('sqlite');
  const cwd = mkdtempSync(path.join(tmpdir(), 'zia-wh-'));
  const env = { ...baseEnv({ SITE_URL: 'https://bot.example.com' }), ...db.env };
  try {
    t.is((await runBin(['migrate'], { env, cwd })).code, 0, 'only serve, worker, init and migrate create a database');
    let r = await runBin(['webhooks', 'urls', 'acme', '--json'], { env, cwd });
    t.is(r.code, 0, r.stderr);
    const urls = JSON.parse(r.stdout);
    t.is(urls.meta.callback_url, 'https://bot.example.com/v1/meta/webhook');
    t.is(urls.twilio.incoming_url, 'https://bot.example.com/v1/twilio/whatsapp/webhook?tenant=acme');
    t.is(urls.stripe.endpoint_url, 'https://bot.example.com/v1/stripe/webhook');

    r = await runBin(['webhooks', 'check'], { env, cwd });
    t.is(r.code, 0, `nothing configured, nothing wrong: ${r.stdout}`);

    r = await runBin(['tenant', 'create', 'acme', '--name', 'Acme', '--set', 'fb_page_id=123456', '--set', 'twilio_whatsapp_from=whatsapp:+14155238886'], { env, cwd });
    t.is(r.code, 0, r.stderr);
    r = await runBin(['webhooks', 'check'], { env, cwd });
    t.is(r.code, 1);
    t.regex(r.stdout, /^error META_APP_SECRET: .* — fix: /m);
    t.regex(r.stdout, /^error tenant acme: has a Facebook\/Instagram id but no fb_page_token/m);
    t.regex(r.stdout, /^error tenant acme: has a WhatsApp number but no Twilio auth token/m);

    const fixed = { ...env, META_APP_SECRET: 'app-secret', META_VERIFY_TOKEN: 'verify', TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, TWILIO_AUTH_TOKEN: 'tok' };
    r = await runBin(['tenant', 'update', 'acme', '--set', 'fb_page_token=EAAB-page-token-123'], { env: fixed, cwd });
    t.is(r.code, 0, r.stderr);
    r = await runBin(['webhooks', 'check', '--json'], { env: fixed, cwd });
    t.is(r.code, 0, r.stdout);
    t.true(JSON.parse(r.stdout).ok);
  } finally {
    await db.cleanup();
  }
});
