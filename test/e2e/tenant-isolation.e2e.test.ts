import test from 'ava';
import { startApp, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';

/**
 * R3: every documented route, called under tenant B (B's scoped key, or ?tenant=B on public routes)
 * with tenant A's slug and object ids, is denied — and no response, header or log line ever carries a
 * tenant's secret. Routes come from /openapi.json, so new routes are covered when they are declared.
 */

const CANARY = { alpha: 'EAAB-CANARY-ALPHA-5f1e2d3c4b5a6978', beta: 'EAAB-CANARY-BETA-0a9b8c7d6e5f4031' };
const TWILIO_CANARY = 'twilio-canary-alpha-0123456789abcdef';

async function seedTenant(app: TestApp, slug: 'alpha' | 'beta') {
  const res = await app.admin('/v1/tenants', {
    method: 'POST',
    body: JSON.stringify({
      slug,
      name: slug.toUpperCase(),
      settings: {
        faq: [{ q: 'What are your hours?', a: `${slug} opens at nine` }],
        fb_page_id: slug === 'alpha' ? '111111' : '222222',
        fb_page_token: CANARY[slug],
        ...(slug === 'alpha' ? { twilio_auth_token: TWILIO_CANARY, outbound_webhook_secret: `${CANARY.alpha}-hook` } : {}),
        lead: { mode: 'off', form_enabled: true },
      },
    }),
  });
  const tenant = ((await res.json()) as any).tenant;
  const chat = (await (await fetch(`${app.url}/v1/chat?tenant=${slug}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'What are your hours?', visitor_id: `${slug}-visitor` }) })).json()) as any;
  await fetch(`${app.url}/v1/leads?tenant=${slug}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Lead', email: `lead@${slug}.example.com`, conversation_id: chat.conversation_id }) });
  const key = (await (await app.admin(`/v1/admin/tenants/${slug}/keys`, { method: 'POST', body: JSON.stringify({ name: 'r3' }) })).json()) as any;
  return { tenant, conversationId: chat.conversation_id as string, key: key.key as string, keyId: key.id as string };
}

function headerText(headers: Headers): string {
  let out = '';
  headers.forEach((v, k) => (out += `${k}: ${v}\n`));
  return out;
}

for (const dialect of dialects()) {
  test(`${dialect}: tenant B cannot reach tenant A through any route; secrets appear nowhere`, async (t) => {
    const app = await startApp(dialect);
    try {
      const a = await seedTenant(app, 'alpha');
      const b = await seedTenant(app, 'beta');
      const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as any;
      const aIds = [a.conversationId, a.keyId, a.tenant.id, 'alpha'];
      const seen: string[] = [];
      let checked = 0;
      for (const [path, ops] of Object.entries<any>(doc.paths)) {
        for (const [method, op] of Object.entries<any>(ops)) {
          const isPublic = !op.security?.length; // public operations say `security: []`
          if (path.includes('/webhook')) continue; // provider webhooks: signatures, covered by the forged-webhook tests
          const params = op.parameters as Array<{ name: string; in: string }>;
          const urlPath = path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'slug' ? 'alpha' : name === 'id' ? a.conversationId : 'alpha'));
          const query = new URLSearchParams();
          if (params.some((p) => p.in === 'query' && p.name === 'tenant')) query.set('tenant', isPublic ? 'beta' : 'alpha');
          if (params.some((p) => p.in === 'query' && p.name === 'conversation_id')) query.set('conversation_id', a.conversationId);
          const body = method === 'get' ? undefined : JSON.stringify({ tenant: isPublic ? 'beta' : 'alpha', conversation_id: a.conversationId, message: 'hi', order_id: a.conversationId, plan_id: 'x', item_id: 'x', name: 'N', email: 'n@example.com', text: 'hello', to: '+4791234567' });
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (!isPublic) headers['x-api-key'] = b.key;
          const res = await fetch(`${app.url}${urlPath}${query.size ? `?${query}` : ''}`, { method: method.toUpperCase(), headers, body });
          const text = await res.text();
          seen.push(text, headerText(res.headers));
          checked++;
          const touchesA = urlPath.includes('alpha') || query.get('tenant') === 'alpha' || urlPath.includes(a.conversationId) || body?.includes(a.conversationId);
          if (touchesA && res.status < 400) {
            // Allowed only when nothing of A's came back (e.g. a public page, or B's own data).
            for (const id of aIds.slice(0, 3)) t.false(text.includes(id), `${method.toUpperCase()} ${urlPath} answered ${res.status} with A's id`);
            t.false(text.includes('lead@alpha.example.com'), `${method.toUpperCase()} ${urlPath} leaked A's lead`);
          }
          if (!isPublic && (urlPath.includes('alpha') || query.get('tenant') === 'alpha')) {
            t.true([400, 401, 403, 404].includes(res.status), `${method.toUpperCase()} ${urlPath}${query.size ? `?${query}` : ''} under B's key: ${res.status}`);
          }
        }
      }
      t.true(checked >= 20, `${checked} routes called`);
      // Secrets: never in any response to anyone, admin included, nor in any log line.
      for (const p of ['/v1/tenants', '/v1/tenants/alpha', '/v1/admin/tenants/alpha', '/v1/admin/leads/export?tenant=alpha', '/v1/admin/events?tenant=alpha', '/v1/widget/bootstrap?tenant=alpha']) {
        const res = await app.admin(p);
        seen.push(await res.text(), headerText(res.headers));
      }
      const all = seen.join('\n') + app.logs.text;
      for (const secret of [CANARY.alpha, CANARY.beta, TWILIO_CANARY, `${CANARY.alpha}-hook`]) t.false(all.includes(secret), 'a canary secret leaked');
    } finally {
      await app.close();
    }
  });
}
