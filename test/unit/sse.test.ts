import test from 'ava';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { createSse } from '../../src/http/sse.js';

test('SSE: headers, events, heartbeats, and the shutdown signal ends the stream', async (t) => {
  const shutdown = new AbortController();
  let aborted = false;
  const app = express();
  app.post('/s', (_req, res) => {
    const sse = createSse(res, { heartbeatMs: 10, shutdown: shutdown.signal });
    sse.signal.addEventListener('abort', () => (aborted = true));
    sse.send('meta', { conversation_id: 'c1' });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/s`, { method: 'POST' });
    t.is(res.headers.get('x-accel-buffering'), 'no');
    t.regex(res.headers.get('content-type')!, /^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes(': ping')) {
      const { value, done } = await reader.read();
      if (done) return t.fail('stream ended before a heartbeat');
      text += new TextDecoder().decode(value);
    }
    t.true(text.startsWith('event: meta\ndata: {"conversation_id":"c1"}\n\n'));
    shutdown.abort();
    while (!(await reader.read()).done);
    t.true(aborted, 'the stream signal fired on shutdown');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
