import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { createDb, type Db, type Dialect } from '../../src/db/create-db.js';
import { AuditLog } from '../../src/features/audit/audit-log.js';
import { AuditStore } from '../../src/features/audit/audit-store.js';
import { baseEnv, startApp, type TestApp } from '../helpers/app.js';
import { runBin } from '../helpers/cli.js';
import { dialects, freshDatabase, migratedDb } from '../helpers/db.js';

const PAGE_TOKEN = 'EAAB-AUDIT-PAGE-TOKEN-5d1e9a';
const TWILIO_TOKEN = 'twilio-audit-token-8c4f2b7e';

type Entry = {
  id: string;
  at: string;
  tenant_id: string | null;
  tenant_slug: string | null;
  actor_kind: string;
  actor: string;
  ip: string | null;
  request_id: string | null;
  action: string;
  target: string | null;
  details: Record<string, any>;
};

function openDb(dialect: Dialect, env: Record<string, string>): Db {
  return createDb({ dbClient: dialect, DATABASE_URL: env.DATABASE_URL, sqlitePath: path.join(env.ZIA_DATA_DIR ?? '', 'zia.sqlite') });
}

/** Every column of every audit row, as one text: what a secret must never be part of. */
async function auditText(db: Db): Promise<string> {
  return JSON.stringify(await db.knex('audit_log').select('*'));
}

async function entries(app: TestApp, query = '', key?: string): Promise<Entry[]> {
  const res = await app.admin(`/v1/admin/audit${query}`, key ? { headers: { 'x-api-key': key } } : {});
  if (res.status !== 200) throw new Error(`audit list answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { entries: Entry[] }).entries;
}

const newest = async (app: TestApp, action: string) => (await entries(app)).find((e) => e.action === action)!;

for (const dialect of dialects()) {
  test(`${dialect}: API writes are recorded with who, from where and which request; settings by name, never a value`, async (t) => {
    const app = await startApp(dialect);
    try {
      const post = (p: string, body: unknown, headers: Record<string, string> = {}) => app.admin(p, { method: 'POST', body: JSON.stringify(body), headers });
      let res = await post('/v1/tenants', { slug: 'acme', name: 'Acme', settings: { tone: 'warm', fb_page_token: PAGE_TOKEN, lead: { mode: 'intent' } } }, { 'x-request-id': 'req-create-acme' });
      t.is(res.status, 201);
      const acmeId = ((await res.json()) as any).tenant.id;
      let e = await newest(app, 'tenant.created');
      t.like(e, { actor_kind: 'admin', actor: 'admin', request_id: 'req-create-acme', tenant_id: acmeId, tenant_slug: 'acme', target: 'acme' });
      t.regex(e.ip ?? '', /127\.0\.0\.1$/);
      t.deepEqual(e.details.settings, ['fb_page_token', 'lead.mode', 'tone']);

      res = await app.admin('/v1/tenants/acme', { method: 'PATCH', body: JSON.stringify({ settings: { 'lead.mode': 'off', twilio_auth_token: TWILIO_TOKEN } }) });
      t.is(res.status, 200);
      e = await newest(app, 'tenant.updated');
      t.deepEqual(e.details, { fields: [], settings: ['lead.mode', 'twilio_auth_token'] });
      t.truthy(e.request_id, 'a request id is made when the caller sends none');

      res = await post('/v1/tenants', { slug: 'acme', name: 'Acme Coffee' });
      t.is(res.status, 200, 'posting the same slug updates');
      t.deepEqual((await newest(app, 'tenant.updated')).details, { fields: ['name'], settings: [] });

      const before = (await entries(app)).length;
      t.is((await post('/v1/tenants', { slug: 'acme', name: 'Acme', settings: { nonsense: 1 } })).status, 400);
      t.is((await entries(app)).length, before, 'a refused write records nothing');

      t.is((await post('/v1/tenants', { slug: 'other', name: 'Other' })).status, 201);
      res = await post('/v1/admin/tenants/acme/keys', { name: 'crm' });
      const key = (await res.json()) as { key: string; id: string };
      t.like(await newest(app, 'key.created'), { target: key.id, tenant_slug: 'acme', details: { name: 'crm' } });

      // A scoped key is its own actor, and its tenant is the entry's.
      res = await post('/v1/admin/leads?tenant=acme', { name: 'Ada', email: 'ada@example.com' }, { 'x-api-key': key.key, 'x-request-id': 'req-lead' });
      t.is(res.status, 201);
      const lead = (await res.json()) as any;
      t.like(await newest(app, 'lead.created'), { actor_kind: 'tenant-key', actor: key.id, tenant_id: acmeId, tenant_slug: 'acme', request_id: 'req-lead', target: lead.lead.id });
      res = await app.admin('/v1/admin/leads/export?tenant=acme&format=jsonl', { headers: { 'x-api-key': key.key } });
      t.is(res.status, 200);
      t.regex(await res.text(), /ada@example.com/);
      t.like(await newest(app, 'leads.exported'), { actor: key.id, tenant_slug: 'acme', details: { format: 'jsonl' } });

      // An admin acting on a conversation by id: the entry still names its tenant.
      res = await fetch(`${app.url}/v1/chat?tenant=other`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'hello' }) });
      const conversationId = ((await res.json()) as any).conversation_id;
      for (const action of ['pause', 'resume'] as const) t.is((await post(`/v1/admin/conversations/${conversationId}/${action}`, {})).status, 200);
      t.is((await post(`/v1/admin/conversations/${conversationId}/reply`, { text: 'A person here' })).status, 202);
      for (const action of ['conversation.paused', 'conversation.resumed', 'conversation.replied']) {
        t.like(await newest(app, action), { tenant_slug: 'other', target: conversationId, actor: 'admin' }, action);
      }
      t.false(JSON.stringify(await newest(app, 'conversation.replied')).includes('A person here'), 'the reply text is not logged');

      // A scoped key reads only its own tenant's entries.
      const own = await entries(app, '', key.key);
      t.true(own.length > 0);
      t.true(own.every((x) => x.tenant_id === acmeId));
      t.is((await app.admin('/v1/admin/audit?tenant=other', { headers: { 'x-api-key': key.key } })).status, 404);
      const others = await entries(app, '?tenant=other');
      t.true(others.length >= 4 && others.every((x) => x.tenant_slug === 'other'));

      // Newest first, keyset-paged.
      const all = await entries(app, '?limit=1000');
      res = await app.admin('/v1/admin/audit?limit=2');
      const first = (await res.json()) as { entries: Entry[]; next_cursor: string };
      t.deepEqual(first.entries.map((x) => x.id), all.slice(0, 2).map((x) => x.id));
      t.deepEqual((await entries(app, `?limit=2&before=${first.next_cursor}`)).map((x) => x.id), all.slice(2, 4).map((x) => x.id));
      t.true(all.every((x, i) => i === 0 || x.id < all[i - 1]!.id));
      t.is((await entries(app, '?since=2999-01-01')).length, 0);
      t.is((await entries(app, '?since=1d')).length, all.length);

      t.is((await app.admin(`/v1/admin/tenants/acme/keys/${key.id}`, { method: 'DELETE' })).status, 200);
      t.like(await newest(app, 'key.revoked'), { target: key.id, tenant_slug: 'acme' });
      t.is((await app.admin('/v1/tenants/acme', { method: 'DELETE' })).status, 200);
      t.like(await newest(app, 'tenant.deleted'), { tenant_id: acmeId, tenant_slug: 'acme', target: 'acme' });

      const kept = await entries(app, '?tenant=acme');
      t.true(kept.length >= 7, "the deleted tenant's entries are kept");
      t.true(kept.every((x) => x.tenant_id === acmeId));

      const text = await auditText(app.services.db);
      for (const secret of [PAGE_TOKEN, TWILIO_TOKEN, key.key]) t.false(text.includes(secret), 'no secret in any audit row');
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: CLI writes are recorded as cli:<user>; secrets never; entries outlive the tenant`, async (t) => {
    const db = await freshDatabase(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-audit-'));
    const env = { ...baseEnv(), ...db.env };
    const zia = async (...args: string[]) => {
      const r = await runBin(args, { env, cwd });
      t.is(r.code, 0, `zia ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    try {
      await zia('migrate');
      await zia('tenant', 'create', 'bakery', '--name', 'The Bakery', '--set', `fb_page_token=${PAGE_TOKEN}`, '--set', 'lead.mode=intent');
      await zia('tenant', 'update', 'bakery', '--set', 'lead.mode=off', '--set', `twilio_auth_token=${TWILIO_TOKEN}`, '--name', 'Bakery');
      const key = JSON.parse(await zia('tenant', 'key', 'create', 'bakery', '--json')) as { key: string; id: string };
      await zia('tenant', 'key', 'revoke', 'bakery', key.id);
      await zia('leads', 'export', 'bakery', '--format', 'jsonl');
      await zia('tenant', 'delete', 'bakery', '--yes');

      const listed = JSON.parse(await zia('audit', '--tenant', 'bakery', '--json')) as { entries: Entry[] };
      t.deepEqual(
        listed.entries.map((e) => e.action),
        ['tenant.deleted', 'leads.exported', 'key.revoked', 'key.created', 'tenant.updated', 'tenant.created'],
      );
      const user = userInfo().username;
      for (const e of listed.entries) t.like(e, { actor_kind: 'cli', actor: `cli:${user}`, ip: null, request_id: null, tenant_slug: 'bakery' });
      const tenantIds = new Set(listed.entries.map((e) => e.tenant_id));
      t.is(tenantIds.size, 1);
      t.truthy([...tenantIds][0]);
      const [deleted, , revoked, created, updated, made] = listed.entries;
      t.is(deleted!.target, 'bakery');
      t.is(revoked!.target, key.id);
      t.is(created!.target, key.id);
      t.deepEqual(updated!.details, { fields: ['name'], settings: ['lead.mode', 'twilio_auth_token'] });
      t.deepEqual(made!.details.settings, ['fb_page_token', 'lead.mode']);

      t.regex(await zia('audit', '--since', '7d'), /tenant\.deleted/);
      t.is(JSON.parse(await zia('audit', '--since', '2999-01-01', '--json')).entries.length, 0);
      t.is((await runBin(['audit', '--since', 'yesterday'], { env, cwd })).code, 2);

      const handle = openDb(dialect, db.env);
      try {
        const text = await auditText(handle);
        for (const secret of [PAGE_TOKEN, TWILIO_TOKEN, key.key]) t.false(text.includes(secret), 'no secret in any audit row');
      } finally {
        await handle.close();
      }
    } finally {
      await db.cleanup();
    }
  });

  test(`${dialect}: the database refuses to change or delete an audit entry`, async (t) => {
    const { db, cleanup } = await migratedDb(dialect);
    try {
      const log = new AuditLog({ store: new AuditStore(db), tenants: { getById: () => Promise.reject(new Error('none')), find: async () => undefined } });
      const entry = await log.record({ actor: { kind: 'admin' }, action: 'tenant.created', tenant: { slug: 'gone' }, target: 'gone' });
      await t.throwsAsync(db.knex('audit_log').where({ id: entry.id }).update({ action: 'tenant.viewed' }), { any: true, message: /cannot be changed or deleted/ });
      await t.throwsAsync(db.knex('audit_log').where({ id: entry.id }).delete(), { any: true, message: /cannot be changed or deleted/ });
      await t.throwsAsync(db.knex('audit_log').delete(), { any: true, message: /cannot be changed or deleted/ });
      const rows = await db.knex('audit_log').select('id', 'action');
      t.deepEqual(rows, [{ id: entry.id, action: 'tenant.created' }]);
    } finally {
      await cleanup();
    }
  });
}

test('every keyed write, and the lead export, names its audit action in /openapi.json', async (t) => {
  const app = await startApp('sqlite');
  try {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, any>> };
    const ops = Object.entries(doc.paths).flatMap(([p, methods]) => Object.entries(methods).map(([m, op]) => ({ key: `${m} ${p}`, op })));
    const keyedWrites = ops.filter(({ key, op }) => !key.startsWith('get ') && op.security.length > 0 && !key.includes('/metrics'));
    t.true(keyedWrites.length >= 20);
    for (const { key, op } of keyedWrites) t.regex(op['x-audit-action'] ?? '', /^[a-z]+\.[a-z]+$/, `${key} is audited`);
    t.is(ops.find((o) => o.key === 'get /v1/admin/leads/export')!.op['x-audit-action'], 'leads.exported');
    for (const { key, op } of ops.filter(({ op }) => op.security.length === 0)) t.is(op['x-audit-action'], undefined, `${key} is public: not audited`);
  } finally {
    await app.close();
  }
});
