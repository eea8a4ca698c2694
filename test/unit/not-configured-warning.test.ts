import test from 'ava';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { NotConfiguredError } from '../../src/errors.js';
import { errorHandler, NOT_CONFIGURED_PUBLIC_MESSAGE } from '../../src/http/middleware/error-handler.js';
import { createLogger } from '../../src/logger.js';
import { LogCapture } from '../helpers/app.js';

test('a missing setting is warned once per tenant and setting per interval, and named only to authenticated callers', async (t) => {
  const logs = new LogCapture();
  const app = express();
  app.post('/public', (_req, res, next) => {
    res.locals.auth = 'public';
    next(new NotConfiguredError('payments are disabled: set STRIPE_SECRET_KEY'));
  });
  app.post('/admin', (_req, res, next) => {
    res.locals.auth = 'admin';
    next(new NotConfiguredError('payments are disabled: set STRIPE_SECRET_KEY'));
  });
  app.use(errorHandler(createLogger('info', logs), 2000));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (path: string, tenant: string) => {
    const res = await fetch(`${url}${path}?tenant=${tenant}`, { method: 'POST' });
    return { status: res.status, body: (await res.json()) as any };
  };
  try {
    const pub = await call('/public', 'a');
    t.is(pub.status, 503);
    t.is(pub.body.error.code, 'not_configured');
    t.is(pub.body.error.message, NOT_CONFIGURED_PUBLIC_MESSAGE);
    t.regex((await call('/admin', 'a')).body.error.message, /STRIPE_SECRET_KEY/);
    await call('/public', 'a');
    await call('/public', 'b');
    const warned = () => logs.lines.filter((l) => l.includes('not configured: payments are disabled: set STRIPE_SECRET_KEY'));
    t.is(warned().length, 2, `tenants a and b, once each: ${logs.text}`);
    await new Promise((r) => setTimeout(r, 2100));
    await call('/public', 'a');
    t.is(warned().length, 3, 'again once the interval has passed');
  } finally {
    server.close();
  }
});
