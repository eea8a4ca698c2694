import { createHmac, randomBytes } from 'node:crypto';
import test from 'ava';
import twilio from 'twilio';
import { FakeTwilioApi } from '../fakes/twilio-api.js';
import { startApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';
import { ACCOUNT_SID, AUTH_TOKEN, BUSINESS, inbound, messageSid, postTwilio, PUBLIC_SITE } from '../helpers/twilio.js';
import { waitFor } from '../helpers/wait.js';

/**
 * R2 for WhatsApp: forged, altered and unsigned Twilio webhooks and status callbacks are all rejected,
 * with nothing stored, enqueued, sent or changed. Requests arrive over plain http on loopback while
 * Twilio signs the public https URL, as behind a proxy.
 */

const HOOK = '/v1/twilio/whatsapp/webhook?tenant=shop';
const STATUS = '/v1/twilio/whatsapp/status?tenant=shop';
const OTHER_TOKEN = randomBytes(16).toString('hex');

interface Case {
  name: string;
  send: () => Promise<Response>;
}

function webhookCases(url: string): Case[] {
  const params = inbound(messageSid(), 'I would like to buy everything');
  const signed = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_SITE}${HOOK}`, params);
  const withTag = { ...params, Tag: ['a', 'b'] };
  return [
    { name: 'no signature', send: () => postTwilio(url, HOOK, params, { signature: null }) },
    { name: 'empty signature', send: () => postTwilio(url, HOOK, params, { signature: '' }) },
    { name: 'signed with another auth token', send: () => postTwilio(url, HOOK, params, { token: OTHER_TOKEN }) },
    { name: 'Body altered after signing', send: () => postTwilio(url, HOOK, params, { send: { ...params, Body: 'I would like to buy nothing' } }) },
    { name: 'From changed after signing (impersonation)', send: () => postTwilio(url, HOOK, params, { send: { ...params, From: 'whatsapp:+4790000000' } }) },
    { name: 'a parameter added after signing', send: () => postTwilio(url, HOOK, params, { send: { ...params, NumMedia: '1', MediaUrl0: 'https://evil.example/x.jpg' } }) },
    { name: 'a parameter removed after signing', send: () => postTwilio(url, HOOK, params, { send: { ...params, ProfileName: [] } }) },
    { name: 'one value of a repeated key dropped', send: () => postTwilio(url, HOOK, withTag, { send: { ...withTag, Tag: 'a' } }) },
    { name: 'signed for the loopback URL it arrived on', send: () => postTwilio(url, HOOK, params, { signedUrl: `${url}${HOOK}` }) },
    { name: 'signed for http:// instead of https://', send: () => postTwilio(url, HOOK, params, { signedUrl: `${PUBLIC_SITE.replace('https', 'http')}${HOOK}` }) },
    { name: 'signed for another host', send: () => postTwilio(url, HOOK, params, { signedUrl: `https://evil.example.com${HOOK}` }) },
    { name: 'signed for another tenant', send: () => postTwilio(url, HOOK, params, { signedUrl: `${PUBLIC_SITE}/v1/twilio/whatsapp/webhook?tenant=other` }) },
    { name: 'signed without the query string', send: () => postTwilio(url, HOOK, params, { signedUrl: `${PUBLIC_SITE}/v1/twilio/whatsapp/webhook` }) },
    { name: 'signature of another message', send: () => postTwilio(url, HOOK, params, { signature: twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_SITE}${HOOK}`, inbound(messageSid(), 'hi')) }) },
    { name: 'truncated signature', send: () => postTwilio(url, HOOK, params, { signature: signed.slice(0, -4) }) },
    { name: 'HMAC-SHA256 instead of SHA1', send: () => postTwilio(url, HOOK, params, { signature: createHmac('sha256', AUTH_TOKEN).update(`${PUBLIC_SITE}${HOOK}${Object.keys(params).sort().map((k) => k + params[k]).join('')}`).digest('base64') }) },
    { name: 'garbage signature', send: () => postTwilio(url, HOOK, params, { signature: 'not-a-signature' }) },
    {
      name: 'the signed form sent as JSON',
      send: () => fetch(`${url}${HOOK}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-twilio-signature': signed }, body: JSON.stringify({ ...params, Body: 'changed' }) }),
    },
  ];
}

function statusCases(url: string, sid: string): Case[] {
  const params = { MessageSid: sid, MessageStatus: 'failed', ErrorCode: '30008', AccountSid: ACCOUNT_SID, From: `whatsapp:${BUSINESS}`, To: 'whatsapp:+4791234567' };
  return [
    { name: 'status: no signature', send: () => postTwilio(url, STATUS, params, { signature: null }) },
    { name: 'status: signed with another tenant\'s token', send: () => postTwilio(url, STATUS, params, { token: OTHER_TOKEN }) },
    { name: 'status: MessageStatus changed after signing', send: () => postTwilio(url, STATUS, params, { send: { ...params, MessageStatus: 'read' } }) },
    { name: 'status: ErrorCode changed after signing', send: () => postTwilio(url, STATUS, params, { send: { ...params, ErrorCode: '63016' } }) },
    { name: 'status: signed for the webhook path', send: () => postTwilio(url, STATUS, params, { signedUrl: `${PUBLIC_SITE}${HOOK}` }) },
    { name: 'status: signed for the other tenant\'s URL, with its token', send: () => postTwilio(url, STATUS, params, { token: OTHER_TOKEN, signedUrl: `${PUBLIC_SITE}/v1/twilio/whatsapp/status?tenant=other` }) },
    { name: 'status: unknown tenant', send: () => postTwilio(url, '/v1/twilio/whatsapp/status?tenant=nobody', params, { signedUrl: `${PUBLIC_SITE}/v1/twilio/whatsapp/status?tenant=nobody` }) },
  ];
}

for (const dialect of dialects()) {
  const run = dialect === 'pg' ? test.serial : test;
  run(`${dialect}: forged, altered and unsigned WhatsApp webhooks and status callbacks are rejected with no side effects`, async (t) => {
    const fake = await FakeTwilioApi.start();
    fake.allowAccount(ACCOUNT_SID, AUTH_TOKEN);
    const app = await startApp(dialect, { SITE_URL: PUBLIC_SITE, TWILIO_API_URL: fake.url, ZIA_JOB_BACKOFF_MS: '30' });
    try {
      const settings = { twilio_account_sid: ACCOUNT_SID, twilio_auth_token: AUTH_TOKEN, twilio_whatsapp_from: BUSINESS };
      await app.services.tenants.create({ slug: 'shop', name: 'Shop', settings });
      await app.services.tenants.create({ slug: 'other', name: 'Other', settings: { ...settings, twilio_auth_token: OTHER_TOKEN, twilio_whatsapp_from: '+14155550001' } });
      const worker = await app.services.startWorker();
      // One genuine exchange, so forged status callbacks have a real message to aim at.
      t.is((await postTwilio(app.url, HOOK, inbound(messageSid(), 'hello'))).status, 200);
      await waitFor('the genuine reply', () => fake.messages.length === 1);
      const sid = fake.messages[0]!.sid;
      const k = app.services.db.knex;
      await waitFor('reply recorded', async () => Boolean(await k('messages').where({ provider_message_id: sid }).first()));
      const snapshot = async () =>
        JSON.stringify({
          deliveries: await k('webhook_deliveries').select('provider', 'external_id', 'status', 'duplicates').orderBy('external_id'),
          jobs: await k('jobs').count({ n: '*' }),
          messages: await k('messages').select('id', 'delivery_status', 'error_code').orderBy('id'),
          conversations: await k('conversations').count({ n: '*' }),
          events: await k('events').select('type').orderBy('id'),
          sends: await k('outbound_sends').select('idempotency_key', 'status').orderBy('idempotency_key'),
        });
      const before = await snapshot();
      const cases = [...webhookCases(app.url), ...statusCases(app.url, sid)];
      t.true(cases.length >= 25, `${cases.length} cases`);
      for (const c of cases) {
        const res = await c.send();
        t.true(res.status >= 400 && res.status < 500, `${c.name}: ${res.status}`);
      }
      await new Promise((r) => setTimeout(r, 300));
      t.is(await snapshot(), before, 'nothing stored, enqueued or changed');
      t.is(fake.messages.length, 1, 'nothing sent to Twilio');
      for (const secret of [AUTH_TOKEN, OTHER_TOKEN]) t.false(app.logs.text.includes(secret));
      await worker.stop();
    } finally {
      await app.close();
      await fake.close();
    }
  });
}
