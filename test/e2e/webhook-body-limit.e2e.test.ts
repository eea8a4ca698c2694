import ava from 'ava';
import net from 'node:net';
import { startApp, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';
import { FakeStripe } from '../fakes/stripe-api.js';
import { dm, META_SECRET, PAGE_ID, PAGE_TOKEN, postSigned, sign } from '../helpers/meta.js';
import { ACCOUNT_SID, AUTH_TOKEN, BUSINESS, inbound, messageSid, postTwilio, PUBLIC_SITE } from '../helpers/twilio.js';
import { WEBHOOK_SECRET } from '../helpers/stripe.js';

/**
 * Webhook bodies are capped at 1 MB: a larger one is refused with 413 JSON, correctly signed or not,
 * before it is read (announced length) or as soon as it passes the cap (chunked), and nothing is stored.
 */

const MB = 1024 * 1024;

async function setup(dialect: 'sqlite' | 'pg'): Promise<TestApp> {
  const app = await startApp(dialect, { META_APP_SECRET: META_SECRET, SITE_URL: PUBLIC_SITE, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_SECRET_KEY: 'sk_test_unused' });
  await app.services.tenants.create({
    slug: 'shop',
    name: 'Shop',
    settings: { fb_page_id: PAGE_ID, fb_page_token: PAGE_TOKEN, twilio_account_sid: ACCOUNT_SID, twilio_auth_token: AUTH_TOKEN, twilio_whatsapp_from: BUSINESS },
  });
  return app;
}

const stored = async (app: TestApp) => Number((await app.services.db.knex('webhook_deliveries').count({ n: '*' }))[0]!.n);

/** Writes a request over a raw socket and returns the status line and whether the server closed the connection. */
function rawRequest(port: number, head: string[], body: (socket: net.Socket) => void): Promise<{ status: string; response: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let response = '';
    const timer = setTimeout(() => reject(new Error(`no answer; got ${JSON.stringify(response.slice(0, 200))}`)), 10_000);
    socket.on('data', (d) => (response += d.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ status: response.split('\r\n')[0] ?? '', response, closed: true });
    });
    socket.on('connect', () => {
      socket.write(`${head.join('\r\n')}\r\n\r\n`);
      body(socket);
    });
  });
}

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: a correctly signed Meta webhook over 1 MB gets 413 JSON and nothing is stored`, async (t) => {
    const app = await setup(dialect);
    try {
      const big = JSON.stringify(dm('m_big', 'x'.repeat(MB + 10)));
      const res = await postSigned(app.url, big);
      t.is(res.status, 413);
      const body = (await res.json()) as { error: { code: string; request_id: string } };
      t.is(body.error.code, 'payload_too_large');
      t.truthy(body.error.request_id);
      t.is(await stored(app), 0);
      // Just under the cap is read and checked as before.
      const ok = await postSigned(app.url, dm('m_small', 'hello'));
      t.is(ok.status, 200);
      t.is(await stored(app), 1);
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: an announced 4 MB body is refused before it is sent, and a chunked one once it passes the cap`, async (t) => {
    const app = await setup(dialect);
    try {
      const port = Number(new URL(app.url).port);
      const signature = sign('whatever');
      // Only the headers go out: the answer comes without the server waiting for a byte of the body.
      const announced = await rawRequest(port, ['POST /v1/meta/webhook HTTP/1.1', 'Host: x', 'Content-Type: application/json', `Content-Length: ${4 * MB}`, `X-Hub-Signature-256: ${signature}`], () => undefined);
      t.is(announced.status, 'HTTP/1.1 413 Payload Too Large');
      t.regex(announced.response, /"code":"payload_too_large"/);
      t.true(announced.closed, 'the connection is closed after the answer');
      // Chunked: 1.25 MB goes out and the connection is held; the server answers and closes without the rest.
      const chunked = await rawRequest(port, ['POST /v1/meta/webhook HTTP/1.1', 'Host: x', 'Content-Type: application/json', 'Transfer-Encoding: chunked', `X-Hub-Signature-256: ${signature}`], (socket) => {
        const piece = Buffer.alloc(64 * 1024, 0x20);
        for (let i = 0; i < 20; i++) socket.write(Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]));
      });
      t.is(chunked.status, 'HTTP/1.1 413 Payload Too Large');
      // An unsigned one is refused on its headers alone.
      const unsigned = await rawRequest(port, ['POST /v1/meta/webhook HTTP/1.1', 'Host: x', 'Content-Type: application/json', `Content-Length: ${MB / 2}`], () => undefined);
      t.is(unsigned.status, 'HTTP/1.1 401 Unauthorized');
      t.is(await stored(app), 0);
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: Twilio and Stripe webhooks over 1 MB get 413 and nothing is stored`, async (t) => {
    const app = await setup(dialect);
    try {
      const twilio = await postTwilio(app.url, '/v1/twilio/whatsapp/webhook?tenant=shop', inbound(messageSid(), 'y'.repeat(MB + 10)));
      t.is(twilio.status, 413);
      t.is(((await twilio.json()) as { error: { code: string } }).error.code, 'payload_too_large');
      const event = { id: 'evt_big', object: 'event', type: 'checkout.session.completed', data: { object: { id: 'cs_1', metadata: { pad: 'z'.repeat(MB + 10) } } } };
      const stripe = await FakeStripe.deliver(`${app.url}/v1/stripe/webhook`, event, { secret: WEBHOOK_SECRET });
      t.is(stripe.status, 413);
      t.is(await stored(app), 0);
      // A normal signed form is still read and stored.
      const ok = await postTwilio(app.url, '/v1/twilio/whatsapp/webhook?tenant=shop', inbound(messageSid(), 'hello'));
      t.is(ok.status, 200, await ok.clone().text());
      t.is(await stored(app), 1);
    } finally {
      await app.close();
    }
  });
}
