import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLeanFetch, RawHeaders } from '../../src/features/ai/lean-fetch.js';

/** A server whose handler the test picks per request; it records when a client's socket closes. */
async function server(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const closed: Array<() => void> = [];
  const s = http.createServer((req, res) => {
    req.socket.once('close', () => closed.shift()?.());
    handler(req, res);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    socketClosed: () => new Promise<void>((r) => closed.push(r)),
    close: () => {
      s.closeAllConnections();
      s.close();
    },
  };
}

test('lean fetch: method, headers and body go out; status, headers and a streamed body come back', async (t) => {
  const srv = await server((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d)).on('end', () => {
      res.writeHead(429, { 'retry-after': '2', 'content-type': 'application/json' });
      res.write(JSON.stringify({ method: req.method, auth: req.headers.authorization, length: req.headers['content-length'], host: req.headers.host === new URL(srv.url).host }));
      setTimeout(() => res.end(`|${body}`), 20);
    });
  });
  try {
    const fetch = createLeanFetch();
    const res = await fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', headers: new Headers({ authorization: 'Bearer k' }), body: '{"a":"é"}' });
    t.is(res.status, 429);
    t.is(res.headers.get('retry-after'), '2');
    t.is(await res.text(), `${JSON.stringify({ method: 'POST', auth: 'Bearer k', length: '10', host: true })}|{"a":"é"}`);
  } finally {
    srv.close();
  }
});

test('lean fetch: an abort before the headers rejects and closes the socket', async (t) => {
  const srv = await server(() => undefined); // never answers
  try {
    const ctrl = new AbortController();
    const closed = srv.socketClosed();
    const pending = createLeanFetch()(`${srv.url}/stall`, { signal: ctrl.signal });
    setTimeout(() => ctrl.abort(), 30);
    // Like undici's fetch: the signal's reason, by default a DOMException named AbortError.
    const err = await pending.then(
      () => undefined,
      (e: unknown) => e as { name?: string },
    );
    t.is(err?.name, 'AbortError');
    await closed;
  } finally {
    srv.close();
  }
});

test('lean fetch: an abort while the body streams ends the body with an error and closes the socket', async (t) => {
  const srv = await server((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: first\n\n'); // and never ends
  });
  try {
    const ctrl = new AbortController();
    const closed = srv.socketClosed();
    const res = await createLeanFetch()(`${srv.url}/stream`, { signal: ctrl.signal });
    // The body is what the SDK iterates: an async iterable of bytes.
    const chunks = (res.body as unknown as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
    const first = await chunks.next();
    t.is(String(first.value), 'data: first\n\n');
    ctrl.abort();
    const failed = await chunks.next().then(
      () => undefined,
      (e: unknown) => e as { name?: string },
    );
    t.is(failed?.name, 'AbortError');
    await closed;
  } finally {
    srv.close();
  }
});

test('lean fetch: response headers read from the raw list behave as a Response\'s Headers', (t) => {
  const raw = ['Content-Type', 'text/event-stream', 'X-Multi', 'a', 'set-cookie', 'c=1', 'x-multi', 'b', 'Set-Cookie', 'd=2', 'Retry-After', '2'];
  const h = new RawHeaders(raw);
  // The project's lib has DOM without DOM.Iterable: Headers' iterators are typed here.
  type Iterating = Headers & Iterable<[string, string]> & { entries(): Iterable<[string, string]>; keys(): Iterable<string>; values(): Iterable<string> };
  const reference = new Headers() as Iterating;
  for (let i = 0; i < raw.length; i += 2) reference.append(raw[i]!, raw[i + 1]!);
  for (const name of ['content-type', 'X-MULTI', 'set-cookie', 'retry-after', 'missing']) {
    t.is(h.get(name), reference.get(name), name);
    t.is(h.has(name), reference.has(name), name);
  }
  t.deepEqual([...h.entries()], [...reference.entries()]);
  t.deepEqual([...h], [...reference]);
  t.deepEqual([...h.keys()], [...reference.keys()]);
  t.deepEqual([...h.values()], [...reference.values()]);
  t.deepEqual(h.getSetCookie(), reference.getSetCookie());
  const seen: string[] = [];
  h.forEach((value, name) => seen.push(`${name}=${value}`));
  t.deepEqual(seen, [...reference.entries()].map(([n, v]) => `${n}=${v}`));
  t.throws(() => h.set(), { instanceOf: TypeError });
});

test('lean fetch: the body comes as text chunks in order, a character split across writes intact; return() closes the socket', async (t) => {
  const euro = Buffer.from('€');
  const srv = await server((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < 40; i++) res.write(`data: ${i}\n\n`);
    res.write(euro.subarray(0, 1));
    setTimeout(() => {
      res.write(euro.subarray(1));
      res.write('\n\nmore'); // and stays open
    }, 20);
  });
  try {
    const closed = srv.socketClosed();
    const res = await createLeanFetch()(`${srv.url}/stream`);
    const chunks = (res.body as unknown as AsyncIterable<string>)[Symbol.asyncIterator]();
    let text = '';
    // A slow reader: the response is paused while the queue is long, and nothing is lost.
    await new Promise((r) => setTimeout(r, 50));
    while (!text.includes('more')) {
      const next = await chunks.next();
      if (next.done) return t.fail('ended early');
      t.is(typeof next.value, 'string');
      text += next.value;
    }
    t.is(text, `${Array.from({ length: 40 }, (_, i) => `data: ${i}\n\n`).join('')}€\n\nmore`);
    await chunks.return!();
    await closed;
    t.deepEqual(await chunks.next(), { value: undefined, done: true });
  } finally {
    srv.close();
  }
});
