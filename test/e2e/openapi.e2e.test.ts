import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Express } from 'express';
import { createApp } from '../../src/http/create-app.js';
import { startApp } from '../helpers/app.js';

const run = promisify(execFile);
const REDOCLY = path.resolve('node_modules/.bin/redocly');
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Every (method, path) Express would route, walking nested routers; paths in OpenAPI's {param} form. */
function expressRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: any[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) {
          if (METHODS.includes(method)) out.push(`${method} ${String(layer.route.path).replace(/:(\w+)/g, '{$1}')}`);
        }
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as any).router.stack);
  return out;
}

test('the OpenAPI document lints with 0 errors (Redocly CLI, recommended rules) and covers every route Express serves', async (t) => {
  const app = await startApp('sqlite', { ZIA_METRICS_TOKEN: 'metrics-token-0123456789' });
  try {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as any;
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'zia-openapi-')), 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    // Redocly exits non-zero when it finds errors; its JSON report is on stdout either way.
    const lint = await run(process.execPath, [REDOCLY, 'lint', file, '--format=json'], { maxBuffer: 16 << 20 }).catch((e) => e);
    const report = JSON.parse(lint.stdout);
    const errors = report.problems.filter((p: any) => p.severity === 'error').map((p: any) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`);
    t.deepEqual(errors, []);
    t.is(report.totals.errors, 0);

    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops as object).map((m) => `${m} ${p}`));
    const routes = expressRoutes(createApp(app.services));
    t.true(routes.length >= 45, `found ${routes.length} routes`);
    t.deepEqual(routes.filter((r) => !documented.includes(r)), [], 'every Express route is in the document');
    t.deepEqual(documented.filter((d) => !routes.includes(d)), [], 'nothing documented that is not served');
  } finally {
    await app.close();
  }
});

test('each operation has a unique operationId, a security requirement, a described success and its error responses', async (t) => {
  const app = await startApp('sqlite');
  try {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as any;
    t.is(doc.info.license.name, 'MIT');
    const ops = Object.entries(doc.paths).flatMap(([p, methods]) => Object.entries(methods as object).map(([m, op]) => ({ key: `${m} ${p}`, op: op as any })));
    const ids = ops.map((o) => o.op.operationId);
    t.is(new Set(ids).size, ids.length, 'operationIds are unique');
    for (const { key, op } of ops) {
      t.true(Array.isArray(op.security), `${key} has security`);
      const success = Object.keys(op.responses).filter((s) => s.startsWith('2'));
      t.true(success.length > 0, `${key} has a success response`);
      for (const s of success) if (s !== '204') t.truthy(op.responses[s].content, `${key} ${s} says what it returns`);
    }
    const byKey = Object.fromEntries(ops.map((o) => [o.key, o.op]));
    t.deepEqual(byKey['get /healthz'].security, [], 'public routes need no key');
    t.deepEqual(byKey['get /v1/tenants'].security, [{ apiKey: [] }]);
    t.deepEqual(Object.keys(byKey['post /v1/chat/stream'].responses['200'].content), ['text/event-stream']);
    t.truthy(byKey['post /v1/chat'].responses['200'].content['application/json'].schema.properties.reply);
    for (const status of ['400', '404', '413', '429', '502']) t.truthy(byKey['post /v1/chat'].responses[status], `chat documents ${status}`);
    t.truthy(byKey['post /v1/admin/webhooks/deliveries/{id}/replay'].responses['409']);
    t.truthy(byKey['get /v1/catalog'].responses['503']);
    t.truthy(byKey['get /readyz'].responses['503']);
    t.truthy(byKey['post /v1/tenants'].responses['201'] && byKey['post /v1/tenants'].responses['200']);

    // The statuses the document promises are the ones the server gives.
    const unknownTenant = await fetch(`${app.url}/v1/chat?tenant=nobody`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'hi' }) });
    t.is(unknownTenant.status, 404);
    const tooBig = await fetch(`${app.url}/v1/chat?tenant=nobody`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'x'.repeat(300_000) }) });
    t.is(tooBig.status, 413);
    const admin = await app.admin('/v1/tenants');
    const listed = ((await admin.json()) as any).tenants;
    t.true(Array.isArray(listed));
  } finally {
    await app.close();
  }
});
