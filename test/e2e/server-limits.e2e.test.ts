import ava from 'ava';
import net from 'node:net';
import { newId } from '../../src/db/dialect.js';
import type { TurnRunner, TurnInput, TurnResult } from '../../src/features/chat/chat.types.js';
import { startApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';

/**
 * The server's own limits (ZIA_HEADERS_TIMEOUT_MS, ZIA_REQUEST_TIMEOUT_MS, ZIA_MAX_CONNECTIONS), set
 * short here: slow or silent clients are disconnected, while a chat stream that runs far longer than
 * either timeout, and an idle kept-alive connection, are left alone.
 */

const LIMITS = { ZIA_HEADERS_TIMEOUT_MS: '300', ZIA_REQUEST_TIMEOUT_MS: '600' };

/** Streams a token every 100 ms for `ms`: a turn far longer than the request timeout. */
class SlowStreamEngine implements TurnRunner {
  constructor(private readonly ms: number) {}
  async runTurn(input: TurnInput): Promise<TurnResult> {
    const conversationId = newId();
    input.onConversation?.(conversationId);
    const tokens: string[] = [];
    for (let at = 0; at < this.ms; at += 100) {
      await new Promise((r) => setTimeout(r, 100));
      tokens.push(`t${at} `);
      input.onToken?.(tokens[tokens.length - 1]!);
    }
    return { conversationId, duplicate: false, reply: tokens.join(''), replyMessageId: newId(), userMessageId: newId(), leadFlowActive: false };
  }
}

/** Connects, writes `first`, then `rest` after `delayMs` if still open; resolves when the server closes it. */
function connection(port: number, first: string, opts: { rest?: string; delayMs?: number } = {}): Promise<{ response: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let response = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept the connection for 10 s'));
    }, 10_000);
    socket.on('data', (d) => (response += d.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ response, closedAfterMs: Date.now() - started });
    });
    socket.on('connect', () => {
      socket.write(first);
      if (opts.rest !== undefined) setTimeout(() => !socket.destroyed && socket.write(opts.rest!), opts.delayMs ?? 0);
    });
  });
}

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: a client that never finishes its headers, or its body, is disconnected after the configured timeout`, async (t) => {
    const app = await startApp(dialect, LIMITS);
    try {
      const port = Number(new URL(app.url).port);
      const headers = await connection(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      t.true(headers.closedAfterMs >= 250 && headers.closedAfterMs < 3000, `closed after ${headers.closedAfterMs} ms`);
      t.regex(headers.response, /^HTTP\/1\.1 408/);
      const body = await connection(port, 'POST /v1/chat?tenant=x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"message":');
      t.true(body.closedAfterMs >= 500 && body.closedAfterMs < 3000, `closed after ${body.closedAfterMs} ms`);
      t.is((await fetch(`${app.url}/healthz`)).status, 200, 'others are served as before');
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: a chat stream lasting longer than both timeouts, and an idle kept-alive connection, survive`, async (t) => {
    const app = await startApp(dialect, LIMITS, { chat: new SlowStreamEngine(1500) });
    try {
      await app.services.tenants.create({ slug: 'acme', name: 'Acme' });
      const started = Date.now();
      const res = await fetch(`${app.url}/v1/chat/stream?tenant=acme`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'hello' }) });
      t.is(res.status, 200);
      const text = await res.text();
      t.true(Date.now() - started >= 1400, 'the stream ran its full length');
      t.regex(text, /event: done/);
      t.is(text.match(/event: token/g)?.length, 15);
      // A kept-alive connection idle for longer than the headers timeout still takes its next request.
      const port = Number(new URL(app.url).port);
      const request = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
      const kept = await connection(port, request, { rest: 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', delayMs: 900 });
      t.is(kept.response.match(/HTTP\/1\.1 200/g)?.length, 2, kept.response);
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: connections past ZIA_MAX_CONNECTIONS are closed at once`, async (t) => {
    const app = await startApp(dialect, { ZIA_MAX_CONNECTIONS: '3' });
    const held: net.Socket[] = [];
    try {
      const port = Number(new URL(app.url).port);
      for (let i = 0; i < 3; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        await new Promise((r) => s.once('connect', r));
        held.push(s);
      }
      await new Promise((r) => setTimeout(r, 100));
      const refused = await connection(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      t.is(refused.response, '', 'closed without an answer');
      held.pop()!.destroy();
      await new Promise((r) => setTimeout(r, 100));
      t.is((await fetch(`${app.url}/healthz`, { headers: { connection: 'close' } })).status, 200, 'served again once one is free');
    } finally {
      for (const s of held) s.destroy();
      await app.close();
    }
  });
}
