import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import test from 'ava';
import { startFakeShop } from '../fakes/catalog-server.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { startLeadFlow } from '../../src/features/leads/lead-flow.js';
import { startApp } from '../helpers/app.js';
import { chat, chatStream, createTenant } from '../helpers/chat.js';
import { dialects } from '../helpers/db.js';
import { connectedTenant, PLANS, startPayments } from '../helpers/stripe.js';

/** The operator's switches for OpenAI-compatible servers: tools off, a server refusing tools, proxies. */

const systemText = (body: any) => (body.messages as any[]).filter((m) => m.role === 'system').map((m) => m.content).join('\n');

/** A loopback HTTP proxy (CONNECT tunnels and absolute-URI forwarding) that counts what goes through it. */
async function startCountingProxy(): Promise<{ url: string; count: () => number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    count++;
    const target = new URL(req.url!);
    const upstream = httpRequest({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  server.on('connect', (req, client: Socket, head) => {
    count++;
    const [host, port] = req.url!.split(':');
    const upstream = connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: () => count,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

for (const dialect of dialects()) {
  test(`${dialect}: OPENAI_TOOLS=off: no tools are sent; catalog prices and checkout links reach the model in the prompt; the lead flow takes contacts`, async (t) => {
    const shop = await startFakeShop();
    shop.json('/catalog.json', { products: [{ id: 'grinder', name: 'Burr Coffee Grinder', price: '89.00', currency: 'EUR', stock: 3 }] });
    const fake = await new FakeOpenAI().start();
    const h = await startPayments(dialect, { env: { ZIA_CATALOG_ALLOW_PRIVATE: 'true', OPENAI_API_KEY: 'test', OPENAI_BASE_URL: fake.url, OPENAI_TOOLS: 'off' } });
    try {
      await connectedTenant(h, 'roastery', { catalog_url: `${shop.url}/catalog.json`, plans: PLANS, locale: 'en', lead: { mode: 'intent' } });
      fake.enqueue({ kind: 'reply', content: ['The grinder is €89.00.'] });
      const price = await chat(h.app, 'roastery', { message: 'How much is the coffee grinder?' });
      t.is(price.json.reply, 'The grinder is €89.00.');
      const asked = fake.requests[0]!.body;
      t.false('tools' in asked);
      t.false('tool_choice' in asked);
      t.regex(systemText(asked), /Burr Coffee Grinder: €89\.00, in stock/);
      t.regex(systemText(asked), /You cannot call tools/);

      fake.enqueue({ kind: 'reply', content: ['Here you go.'] });
      const buy = await chat(h.app, 'roastery', { message: 'I want to buy the grinder', conversation_id: price.json.conversation_id });
      t.truthy(buy.json.checkout_url, 'the link zia made is part of the turn');
      t.true(systemText(fake.requests[1]!.body).includes(buy.json.checkout_url), 'and the model was given that exact link');
      t.is(h.fake.seen('POST', '/v1/checkout/sessions').length, 1);

      // Contact details go through zia's own lead flow, which needs no model.
      const contact = await chat(h.app, 'roastery', { message: 'Please contact me', conversation_id: price.json.conversation_id });
      t.is(contact.json.reply, startLeadFlow().reply, 'the lead flow asks for the name');
      t.is(fake.requests.length, 2, 'the lead flow answered without the model');
    } finally {
      await h.close();
      await fake.close();
      await shop.close();
    }
  });

  test(`${dialect}: a server that refuses tools: the turn is asked again without them, later turns skip them, logged once`, async (t) => {
    // Ollama's answer for a model without tool support.
    const fake = await new FakeOpenAI({
      apiKey: null,
      fallback: (req) =>
        req.body.tools
          ? { kind: 'error', status: 400, type: 'api_error', message: 'registry.ollama.ai/library/gemma3:4b does not support tools' }
          : { kind: 'reply', content: ['Hello', ' there'] },
    }).start();
    const app = await startApp(dialect, { OPENAI_BASE_URL: fake.url, OPENAI_MODEL: 'gemma3:4b', OPENAI_MAX_TOKENS_PARAM: 'max_tokens' });
    try {
      t.is(app.config.aiProvider, 'openai', 'a base URL without a key selects the openai provider');
      await createTenant(app, 'acme');
      const s = await chatStream(app, 'acme', { message: 'hi' });
      t.deepEqual(s.events.map((e) => e.event), ['meta', 'token', 'token', 'done']);
      t.is(fake.requests.length, 2);
      t.truthy(fake.requests[0]!.body.tools);
      t.false('tools' in fake.requests[1]!.body);
      t.regex(systemText(fake.requests[1]!.body), /You cannot call tools/);

      const again = await chat(app, 'acme', { message: 'and again' });
      t.is(again.json.reply, 'Hello there');
      t.is(fake.requests.length, 3, 'one request: tools are no longer offered to this model');
      t.is(app.logs.text.split('refused tools').length - 1, 1, 'logged once for the model');
      t.is((await app.services.db.knex('events').where({ type: 'ai_error' })).length, 0);
    } finally {
      await app.close();
      await fake.close();
    }
  });

  test(`${dialect}: a tenant with ai_tools=off gets no tools while others keep them`, async (t) => {
    const fake = await new FakeOpenAI().start();
    const app = await startApp(dialect, { OPENAI_API_KEY: 'test', OPENAI_BASE_URL: fake.url });
    try {
      await createTenant(app, 'plain', { ai_tools: 'off' });
      await createTenant(app, 'full');
      await chat(app, 'plain', { message: 'hi' });
      await chat(app, 'full', { message: 'hi' });
      t.false('tools' in fake.requests[0]!.body);
      t.is(fake.requests[1]!.body.tools.length, 3);
    } finally {
      await app.close();
      await fake.close();
    }
  });

  test(`${dialect}: HTTP_PROXY carries the model requests; NO_PROXY names hosts that go direct`, async (t) => {
    const proxy = await startCountingProxy();
    const fake = await new FakeOpenAI().start();
    try {
      const proxied = await startApp(dialect, { OPENAI_API_KEY: 'test', OPENAI_BASE_URL: fake.url, HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,.internal.example' });
      try {
        await createTenant(proxied, 'acme');
        fake.enqueue({ kind: 'reply', content: ['via', ' proxy'] });
        const r = await chat(proxied, 'acme', { message: 'hi' });
        t.is(r.json.reply, 'via proxy');
        t.true(proxy.count() >= 1, 'the request went through the proxy');
      } finally {
        await proxied.close();
      }
      const before = proxy.count();
      const direct = await startApp(dialect, { OPENAI_API_KEY: 'test', OPENAI_BASE_URL: fake.url, http_proxy: proxy.url, no_proxy: '127.0.0.1' });
      try {
        await createTenant(direct, 'acme');
        fake.enqueue({ kind: 'reply', content: ['direct'] });
        t.is((await chat(direct, 'acme', { message: 'hi' })).json.reply, 'direct');
        t.is(proxy.count(), before, 'NO_PROXY matched: not through the proxy');
      } finally {
        await direct.close();
      }
    } finally {
      await fake.close();
      await proxy.close();
    }
  });
}
