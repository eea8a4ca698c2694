import test from 'ava';
import fc from 'fast-check';
import { ADMIN_KEY } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';
import { META_SECRET, PAGE_ID, dm, postSigned } from '../helpers/meta.js';
import { connectedTenant, fixedCatalog, PLANS, startPayments, type PaymentsHarness } from '../helpers/stripe.js';
import { ACCOUNT_SID, AUTH_TOKEN, BUSINESS } from '../helpers/twilio.js';
import { FakeTwilioApi } from '../fakes/twilio-api.js';

/**
 * Item 4 of the hardening issue: PostgreSQL refuses U+0000 in text and json, and years outside its range
 * in timestamps. Every documented route (from /openapi.json, so a new route is covered as soon as it is
 * declared) gets each of its string fields with a NUL and each date field at year 0 and 9999, with the
 * admin key and without, on a tenant with real rows behind every id: no answer may be a 5xx.
 */

const NUL = '\u0000';
const DATE_FIELDS = new Set(['since', 'until', 'from', 'to']);
const DATES = ['0000-01-01T00:00:00Z', '0000-01-01', '9999-12-31T23:59:59Z', '9999-12-31', '9999-12-31T23:59:59-14:00'];

type Json = Record<string, unknown>;
interface Ids {
  conversation: string;
  delivery: string;
  key: string;
  order: string;
  url: string;
}

/** Values that pass validation, so that the NUL in one field is what the request carries deep into the code. */
function baseline(field: string, ids: Ids, routePath: string): unknown {
  switch (field) {
    case 'tenant':
    case 'slug':
      return 'acme';
    case 'id':
      if (routePath.includes('conversations')) return ids.conversation;
      if (routePath.includes('keys')) return ids.key;
      return ids.delivery;
    case 'conversation_id':
      return ids.conversation;
    case 'order_id':
      return ids.order;
    case 'message':
    case 'text':
      return 'hello there';
    case 'name':
      return 'Ana';
    case 'email':
    case 'customer_email':
      return 'ana@example.com';
    case 'whatsapp':
    case 'to':
      return '+4791234567';
    case 'visitor_id':
      return 'visitor-1';
    case 'plan_id':
      return 'basic';
    case 'item_id':
      return 'beans-1';
    case 'url':
      return ids.url;
    case 'settings':
      return { tone: 'warm', greeting: 'Hi', faq: [{ q: 'Hours?', a: 'Nine to five' }], branding: { title: 'Acme' } };
    case 'provider':
      return routePath.includes('simulate') ? 'stripe' : 'meta';
    case 'country':
      return 'NO';
    default:
      return undefined;
  }
}

/** Every string leaf of a value, as a path and a setter. */
function stringLeaves(value: unknown, path: string[] = []): string[][] {
  if (typeof value === 'string') return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringLeaves(v, [...path, String(i)]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => stringLeaves(v, [...path, k]));
  return [];
}

function withLeaf(value: Json, path: string[], leaf: unknown): Json {
  const copy = structuredClone(value);
  let at: any = copy;
  for (const p of path.slice(0, -1)) at = at[p];
  at[path[path.length - 1]!] = leaf;
  return copy;
}

interface Variant {
  label: string;
  params: Json;
  query: Json;
  body: Json | undefined;
}

function variants(method: string, routePath: string, op: any, ids: Ids, nulStrings: string[]): Variant[] {
  const params: Json = {};
  const query: Json = {};
  for (const p of op.parameters as Array<{ in: string; name: string }>) {
    const v = baseline(p.name, ids, routePath);
    if (v !== undefined && !DATE_FIELDS.has(p.name)) (p.in === 'path' ? params : query)[p.name] = v;
  }
  let body: Json | undefined;
  if (op.requestBody) {
    body = {};
    for (const name of Object.keys(op.requestBody.content['application/json'].schema.properties ?? {})) {
      const v = baseline(name, ids, routePath);
      if (v !== undefined) body[name] = v;
    }
    // A QR or WhatsApp link needs exactly one source; the order made in setup is that source.
    if ('order_id' in body) {
      delete body.plan_id;
      delete body.item_id;
    }
  }
  const out: Variant[] = [];
  for (const p of op.parameters as Array<{ in: string; name: string }>) {
    const where = p.in === 'path' ? 'params' : 'query';
    const values = DATE_FIELDS.has(p.name) ? DATES : nulStrings.map((s) => (typeof (where === 'params' ? params : query)[p.name] === 'string' ? `${(where === 'params' ? params : query)[p.name]}${s}` : s)).concat(nulStrings);
    for (const v of values) {
      out.push({ label: `${where}.${p.name}=${JSON.stringify(v)}`, params: where === 'params' ? { ...params, [p.name]: v } : params, query: where === 'query' ? { ...query, [p.name]: v } : query, body });
    }
  }
  if (body) {
    const names = Object.keys(op.requestBody.content['application/json'].schema.properties ?? {});
    const leaves = stringLeaves(body);
    for (const name of names) if (!(name in body)) leaves.push([name]);
    for (const leaf of leaves) {
      const current = leaf.reduce<any>((v, k) => v?.[k], body);
      for (const s of nulStrings) {
        for (const v of typeof current === 'string' ? [s, `${current}${s}`, `${s}${current}`] : [s]) {
          out.push({ label: `body.${leaf.join('.')}=${JSON.stringify(v)}`, params, query, body: withLeaf(body, leaf, v) });
        }
      }
    }
  }
  if (out.length === 0 && method !== 'get') out.push({ label: 'body with a NUL key and value', params, query, body: { [`k${NUL}`]: `v${NUL}` } });
  return out;
}

async function setup(h: PaymentsHarness): Promise<Ids> {
  const app = h.app;
  await connectedTenant(h, 'acme', {
    plans: PLANS,
    fb_page_id: PAGE_ID,
    faq: [{ q: 'What are your hours?', a: 'Nine to five' }],
    twilio_account_sid: ACCOUNT_SID,
    twilio_auth_token: AUTH_TOKEN,
    twilio_whatsapp_from: BUSINESS,
  });
  const chat = (await (await fetch(`${app.url}/v1/chat?tenant=acme`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'hi', visitor_id: 'visitor-1' }) })).json()) as Json;
  const lead = await fetch(`${app.url}/v1/leads?tenant=acme`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ana', email: 'ana@example.com' }) });
  await lead.arrayBuffer();
  const order = (await (await fetch(`${app.url}/v1/stripe/checkout/by-plan?tenant=acme`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ plan_id: 'basic', conversation_id: chat.conversation_id }) })).json()) as Json;
  const key = (await (await app.admin('/v1/admin/tenants/acme/keys', { method: 'POST', body: JSON.stringify({ name: 'fuzz' }) })).json()) as Json;
  await (await postSigned(app.url, dm('m_setup', 'hello'))).arrayBuffer();
  const deliveries = (await (await app.admin('/v1/admin/webhooks/deliveries')).json()) as { deliveries: Json[] };
  const ids = { conversation: String(chat.conversation_id), delivery: String(deliveries.deliveries[0]?.id), key: String(key.id), order: String(order.order_id), url: app.url };
  for (const [k, v] of Object.entries(ids)) if (!v || v === 'undefined') throw new Error(`setup: no ${k} (${JSON.stringify({ chat, order, key, deliveries })})`);
  return ids;
}

for (const dialect of dialects()) {
  test(`${dialect}: a NUL in any string field and year 0 or 9999 in any date field never answers 5xx`, async (t) => {
    t.timeout(10 * 60_000, 'thousands of requests on a shared machine');
    const twilio = await FakeTwilioApi.start();
    twilio.allowAccount(ACCOUNT_SID, AUTH_TOKEN);
    const catalog = fixedCatalog([{ id: 'beans-1', name: 'Coffee beans', price: 12900, currency: 'nok' }]);
    const h = await startPayments(dialect, { env: { META_APP_SECRET: META_SECRET, TWILIO_API_URL: twilio.url }, services: { catalog } });
    try {
      const ids = await setup(h);
      const doc = (await (await fetch(`${h.app.url}/openapi.json`)).json()) as any;
      // Fixed shapes, then a few random strings around a NUL (fast-check, fixed seed so a failure repeats).
      const random = fc.sample(fc.tuple(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 })).map(([a, b]) => `${a}${NUL}${b}`), { numRuns: 2, seed: 20261203 });
      const nulStrings = [NUL, `a${NUL}b`, ...random];
      const failures: string[] = [];
      let requests = 0;
      let routes = 0;
      for (const [routePath, ops] of Object.entries<any>(doc.paths)) {
        for (const [method, op] of Object.entries<any>(ops)) {
          routes++;
          for (const v of variants(method, routePath, op, ids, nulStrings)) {
            for (const admin of [true, false]) {
              const path = routePath.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(String(v.params[name] ?? 'x')));
              const qs = new URLSearchParams(v.query as Record<string, string>).toString();
              const headers: Record<string, string> = { 'content-type': 'application/json' };
              if (admin) headers['x-api-key'] = ADMIN_KEY;
              const res = await fetch(`${h.app.url}${path}${qs ? `?${qs}` : ''}`, {
                method: method.toUpperCase(),
                headers,
                body: method === 'get' || v.body === undefined ? undefined : JSON.stringify(v.body),
                signal: AbortSignal.timeout(60_000),
              });
              const text = await res.text();
              requests++;
              // A stream answers 200 before it can fail: a failure then is an `error` event.
              const streamFailed = (res.headers.get('content-type') ?? '').startsWith('text/event-stream') && text.includes('event: error');
              if (res.status >= 500 || streamFailed) failures.push(`${method.toUpperCase()} ${routePath} ${v.label} ${admin ? 'admin' : 'anonymous'} → ${res.status} ${text.slice(0, 160)}`);
            }
          }
        }
      }
      t.log(`${requests} requests over ${routes} routes, ${failures.length} answered 5xx`);
      const byField = new Map<string, number>();
      for (const f of failures) {
        const key = f.replace(/=.*$/, '');
        byField.set(key, (byField.get(key) ?? 0) + 1);
      }
      for (const [k, n] of byField) t.log(`5xx: ${k} ×${n}`);
      t.true(routes >= 40, `${routes} routes documented`);
      t.deepEqual(failures.slice(0, 15), [], `${failures.length} of ${requests} requests answered 5xx`);
      t.is((await fetch(`${h.app.url}/healthz`)).status, 200, 'still alive');
    } finally {
      await h.close();
      await twilio.close();
    }
  });
}
