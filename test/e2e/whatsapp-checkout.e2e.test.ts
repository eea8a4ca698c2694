import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ava from 'ava';
import { newId, nowIso } from '../../src/db/dialect.js';
import { FakeTwilioApi } from '../fakes/twilio-api.js';
import { runCli } from '../helpers/cli.js';
import { dialects } from '../helpers/db.js';
import { connectedTenant, PLANS, startPayments } from '../helpers/stripe.js';
import { ACCOUNT_SID, AUTH_TOKEN, BUSINESS, CUSTOMER, PUBLIC_SITE } from '../helpers/twilio.js';
import { FakeCloudApi } from '../fakes/whatsapp-cloud-api.js';
import { CLOUD_TOKEN, DISPLAY_NUMBER, PHONE_NUMBER_ID, WABA_ID } from '../helpers/whatsapp-cloud.js';

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: send-wa (API and zia checkout --send-wa) sends the checkout link through Twilio, only inside the 24 h window`, async (t) => {
    const twilio = await FakeTwilioApi.start();
    twilio.allowAccount(ACCOUNT_SID, AUTH_TOKEN);
    const h = await startPayments(dialect, { env: { SITE_URL: PUBLIC_SITE, TWILIO_API_URL: twilio.url } });
    try {
      const tenant = await connectedTenant(h, 'shop', { plans: PLANS, twilio_account_sid: ACCOUNT_SID, twilio_auth_token: AUTH_TOKEN, twilio_whatsapp_from: BUSINESS });
      const sendWa = () => h.app.admin('/v1/stripe/checkout/send-wa?tenant=shop', { method: 'POST', body: JSON.stringify({ plan_id: 'basic', to: CUSTOMER }) });

      // Nobody at that number has written: WhatsApp would refuse free-form text, so zia does not send it.
      let res = await sendWa();
      t.is(res.status, 409);
      t.regex(((await res.json()) as any).error.message, /24 hours/);
      t.is(twilio.messages.length, 0);
      t.is(h.fake.seen('POST', '/v1/checkout/sessions').length, 0, 'refused before a link was made for nothing');

      const conversationId = newId();
      const now = nowIso();
      await h.app.services.db.knex('conversations').insert({ id: conversationId, tenant_id: tenant.id, channel: 'whatsapp', external_user_id: CUSTOMER, bot_paused: false, last_inbound_at: now, created_at: now, updated_at: now });
      res = await sendWa();
      t.is(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { message_id: string; url: string };
      t.is(twilio.messages.length, 1);
      const [sent] = twilio.messages;
      t.is(body.message_id, sent!.sid);
      t.is(sent!.to, `whatsapp:${CUSTOMER}`);
      t.is(sent!.from, `whatsapp:${BUSINESS}`);
      t.true(sent!.body!.includes(body.url));
      const stored = await h.app.services.db.knex('messages').where({ conversation_id: conversationId, provider_message_id: sent!.sid }).first();
      t.truthy(stored, 'the link is part of the conversation, with its delivery');

      const cwd = mkdtempSync(path.join(tmpdir(), 'zia-wa-'));
      const r = await runCli(['checkout', 'shop', '--plan', 'basic', '--send-wa', CUSTOMER], { env: h.app.env, cwd });
      t.is(r.code, 0, r.stderr);
      t.is(twilio.messages.length, 2);
      t.true(r.stdout.includes(`sent to ${CUSTOMER} over WhatsApp (message ${twilio.messages[1]!.sid})`), r.stdout);
      t.false(r.stdout.includes(AUTH_TOKEN) || r.stderr.includes(AUTH_TOKEN));

      // A day later the window is closed: a template could not carry the link, so nothing is sent.
      await h.app.services.db.knex('conversations').where({ id: conversationId }).update({ last_inbound_at: new Date(Date.now() - 25 * 3_600_000).toISOString() });
      await h.app.services.tenants.update('shop', { settings: { whatsapp_template: { content_sid: `HX${'cd'.repeat(16)}` } } });
      res = await sendWa();
      t.is(res.status, 409);
      t.is(twilio.messages.length, 2);
      t.is(h.fake.seen('POST', '/v1/checkout/sessions').length, 2);
    } finally {
      await h.close();
      await twilio.close();
    }
  });

  test(`${dialect}: on the Cloud API transport send-wa (API and CLI) sends the checkout link as a "Pay now" button from the tenant's number`, async (t) => {
    const cloud = await FakeCloudApi.start();
    cloud.addNumber(PHONE_NUMBER_ID, WABA_ID, DISPLAY_NUMBER, CLOUD_TOKEN);
    const h = await startPayments(dialect, { env: { SITE_URL: PUBLIC_SITE, META_GRAPH_URL: cloud.url, META_GRAPH_VERSION: cloud.version } });
    try {
      const tenant = await connectedTenant(h, 'shop', { plans: PLANS, whatsapp: { provider: 'cloud', phone_number_id: PHONE_NUMBER_ID, waba_id: WABA_ID }, whatsapp_access_token: CLOUD_TOKEN });
      const now = nowIso();
      await h.app.services.db.knex('conversations').insert({ id: newId(), tenant_id: tenant.id, channel: 'whatsapp', external_user_id: CUSTOMER, bot_paused: false, last_inbound_at: now, created_at: now, updated_at: now });
      const res = await h.app.admin('/v1/stripe/checkout/send-wa?tenant=shop', { method: 'POST', body: JSON.stringify({ plan_id: 'basic', to: CUSTOMER }) });
      t.is(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { message_id: string; url: string };
      t.is(cloud.sends.length, 1);
      const [sent] = cloud.sends;
      t.is(body.message_id, sent!.id);
      t.is(sent!.to, CUSTOMER.slice(1));
      t.is(sent!.token, CLOUD_TOKEN);
      t.deepEqual(sent!.body.interactive.action, { name: 'cta_url', parameters: { display_text: 'Pay now', url: body.url } });
      t.false(sent!.body.interactive.body.text.includes(body.url));
      t.regex(sent!.body.interactive.body.text, /checkout link for/);

      const r = await runCli(['checkout', 'shop', '--plan', 'basic', '--send-wa', CUSTOMER], { env: h.app.env, cwd: mkdtempSync(path.join(tmpdir(), 'zia-wa-')) });
      t.is(r.code, 0, r.stderr);
      t.is(cloud.sends.length, 2);
      t.is(cloud.sends[1]!.body.interactive.type, 'cta_url');
      t.true(r.stdout.includes(`(message ${cloud.sends[1]!.id})`), r.stdout);
      t.false(r.stdout.includes(CLOUD_TOKEN) || r.stderr.includes(CLOUD_TOKEN));
    } finally {
      await h.close();
      await cloud.close();
    }
  });
}
