import test from 'ava';
import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpServer } from '../../src/http/server.js';

test('http server: requests and responses are built on the app prototypes, before Express sees them', async (t) => {
  const app = express();
  app.use(express.json());
  app.post('/echo', (req, res) => {
    res.status(201).json({ got: req.body, type: req.get('content-type'), same: req.app === app });
  });
  const server = createHttpServer(app);
  const built: boolean[] = [];
  // Runs before the app's own listener: what the server constructed, untouched by Express.
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    built.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/echo`;
    for (let i = 0; i < 2; i++) {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' });
      t.is(res.status, 201);
      t.deepEqual(await res.json(), { got: { n: 1 }, type: 'application/json', same: true });
    }
    t.deepEqual(built, [true, true]);
    t.true(app.request instanceof http.IncomingMessage && app.response instanceof http.ServerResponse);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
