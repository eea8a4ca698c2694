import test from 'ava';
import fc from 'fast-check';
import { startApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';

/**
 * R5: every documented route, fed random bodies, queries, path parameters and headers, never answers
 * 5xx and the server keeps answering. Routes come from /openapi.json, so new routes are fuzzed as soon
 * as they are declared.
 */

const RUNS = Number(process.env.ZIA_FUZZ_RUNS ?? 25);

const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(fc.constantFrom('message', 'slug', 'name', 'settings', 'tenant', 'conversation_id', 'email', 'faq', 'plan_id', 'item_id', 'quantity', 'format'), fc.jsonValue({ maxDepth: 2 })),
);
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', 'acme', '../../etc/passwd', '%00', "' or 1=1 --", '<script>', '9'.repeat(40), 'ACME', '-1', 'true'));
const rawBody = fc.oneof(
  jsonish.map((v) => ({ type: 'application/json', body: JSON.stringify(v) })),
  fc.string({ maxLength: 200 }).map((s) => ({ type: 'application/json', body: s })),
  fc.string({ maxLength: 200 }).map((s) => ({ type: 'application/x-www-form-urlencoded', body: s })),
  fc.string({ maxLength: 100 }).map((s) => ({ type: 'text/plain', body: s })),
);

for (const dialect of dialects()) {
  test(`${dialect}: fuzzing every route never produces a 5xx`, async (t) => {
    const app = await startApp(dialect);
    try {
      await app.services.tenants.create({ slug: 'acme', name: 'Acme', settings: { faq: [{ q: 'What are your hours?', a: '9 to 5' }] } });
      const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as any;
      const routes: Array<{ method: string; path: string; op: any }> = [];
      for (const [path, ops] of Object.entries<any>(doc.paths)) for (const [method, op] of Object.entries<any>(ops)) routes.push({ method, path, op });
      t.true(routes.length >= 10, `${routes.length} routes documented`);
      const failures: string[] = [];
      let requests = 0;
      for (const route of routes) {
        const queryNames: string[] = route.op.parameters.filter((p: any) => p.in === 'query').map((p: any) => p.name);
        await fc.assert(
          fc.asyncProperty(
            fc.dictionary(fc.constantFrom(...queryNames, 'tenant', 'x', 'limit'), text, { maxKeys: 4 }),
            fc.array(text, { minLength: 3, maxLength: 3 }),
            rawBody,
            fc.boolean(),
            fc.option(fc.constantFrom('x-api-key', 'x-hub-signature-256', 'x-twilio-signature', 'stripe-signature', 'origin', 'x-request-id'), { nil: undefined }),
            text,
            async (query, params, body, useAdmin, header, headerValue) => {
              let i = 0;
              const path = route.path.replace(/\{\w+\}/g, () => encodeURIComponent(params[i++] || 'acme'));
              const qs = new URLSearchParams(query).toString();
              const headers: Record<string, string> = { 'content-type': body.type };
              if (useAdmin) headers['x-api-key'] = 'test-admin-key-0123456789';
              if (header) headers[header] = headerValue.replace(/[^\x20-\x7e]/g, '');
              const controller = new AbortController();
              const timer = setTimeout(() => controller.abort(), 10_000);
              try {
                const res = await fetch(`${app.url}${path}${qs ? `?${qs}` : ''}`, {
                  method: route.method.toUpperCase(),
                  headers,
                  body: route.method === 'get' ? undefined : body.body,
                  signal: controller.signal,
                });
                // A stream that opened answered 200; its body may never end (the live feeds).
                if (res.status === 200 && res.headers.get('content-type')?.startsWith('text/event-stream')) await res.body?.cancel();
                else await res.arrayBuffer();
                requests++;
                if (res.status >= 500 && res.status !== 503) failures.push(`${route.method.toUpperCase()} ${path}?${qs} → ${res.status}`);
              } finally {
                clearTimeout(timer);
              }
            },
          ),
          { numRuns: RUNS, seed: 20261126 },
        );
      }
      t.deepEqual(failures.slice(0, 10), [], `${failures.length} requests answered 5xx`);
      t.log(`${requests} fuzzed requests over ${routes.length} routes`);
      t.is((await fetch(`${app.url}/healthz`)).status, 200, 'still alive');
      t.false(app.logs.text.includes('"level":60'), 'no fatal log');
    } finally {
      await app.close();
    }
  });
}
