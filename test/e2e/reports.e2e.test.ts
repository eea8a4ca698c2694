import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { startApp, type TestApp } from '../helpers/app.js';
import { runBin } from '../helpers/cli.js';
import { dialects } from '../helpers/db.js';
import { insertLeads } from '../helpers/fixtures.js';
import { encodeTime } from 'ulid';

const tricky = [
  { name: 'Smith, John', email: 'john@example.com', whatsapp: '+4791234567' },
  { name: 'Ana "the boss" K', email: 'ana@example.com' },
  { name: 'Line\nbreak', email: 'lb@example.com' },
  { name: 'Zoë 🚀 Café', email: 'zoe@example.com' },
  { name: '=HYPERLINK("http://evil.example","x")', email: 'f1@example.com' },
  { name: '+1+1', email: 'f2@example.com' },
  { name: '-2+3', email: 'f3@example.com' },
  { name: '@SUM(A1)', email: 'f4@example.com' },
];

async function twoTenants(app: TestApp) {
  const a = await app.services.tenants.create({ slug: 'alpha', name: 'Alpha' });
  const b = await app.services.tenants.create({ slug: 'beta', name: 'Beta' });
  return { a, b };
}

for (const dialect of dialects()) {
  test(`${dialect}: lead list is keyset-paged and stable under inserts; CSV round-trips, neutralised`, async (t) => {
    const app = await startApp(dialect);
    try {
      const { a, b } = await twoTenants(app);
      await insertLeads(app.services.db, a.id, tricky);
      await insertLeads(app.services.db, b.id, [{ email: 'other@example.com' }]);

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await app.admin(`/v1/admin/leads?tenant=alpha&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        t.is(res.status, 200);
        const page = (await res.json()) as any;
        seen.push(...page.leads.map((l: any) => l.email));
        cursor = page.next_cursor;
        if (pages++ === 0) {
          // A lead arriving mid-pagination lands at the end; nothing is skipped or repeated.
          await insertLeads(app.services.db, a.id, [{ email: 'late@example.com' }], Date.parse('2026-06-01T00:00:00Z'));
        }
      } while (cursor);
      t.deepEqual(seen, [...tricky.map((l) => l.email), 'late@example.com']);

      const res = await app.admin('/v1/admin/leads/export?tenant=alpha&format=csv');
      t.is(res.status, 200);
      t.regex(res.headers.get('content-type')!, /^text\/csv/);
      const text = await res.text();
      t.true(text.includes('\r\n'), 'CRLF line ends');
      const records = parse(text, { columns: true }) as Array<Record<string, string>>;
      t.is(records.length, tricky.length + 1);
      const byEmail = new Map(records.map((r) => [r.email, r]));
      t.is(byEmail.get('john@example.com')!.name, 'Smith, John');
      t.is(byEmail.get('ana@example.com')!.name, 'Ana "the boss" K');
      t.is(byEmail.get('lb@example.com')!.name, 'Line\nbreak');
      t.is(byEmail.get('zoe@example.com')!.name, 'Zoë 🚀 Café');
      for (const f of ['f1', 'f2', 'f3', 'f4']) {
        const name = byEmail.get(`${f}@example.com`)!.name!;
        t.true(name.startsWith("'"), `${name} neutralised`);
        t.is(name.slice(1), tricky.find((l) => l.email === `${f}@example.com`)!.name);
      }
      t.false(records.some((r) => r.email === 'other@example.com'), 'only the named tenant');

      const jsonl = await (await app.admin('/v1/admin/leads/export?tenant=beta&format=jsonl')).text();
      t.deepEqual(jsonl.trim().split('\n').map((l) => JSON.parse(l).email), ['other@example.com']);
      const all = await (await app.admin('/v1/admin/leads/export?format=jsonl')).text();
      t.is(all.trim().split('\n').length, tricky.length + 2, 'ADMIN_KEY without a tenant exports every tenant');

      // Rows are read in batches: an export over several of them has every row once, in order.
      const many = Array.from({ length: 1234 }, (_, i) => ({ email: `bulk${String(i).padStart(4, '0')}@example.com` }));
      await insertLeads(app.services.db, b.id, many, Date.parse('2026-07-01T00:00:00Z'));
      const bulk = (await (await app.admin('/v1/admin/leads/export?tenant=beta&format=csv')).text()).trim().split('\r\n').slice(1);
      t.deepEqual(bulk.map((line) => line.split(',')[3]), ['other@example.com', ...many.map((l) => l.email)]);

      const bad = await app.admin('/v1/admin/leads?since=yesterday');
      t.is(bad.status, 400);
      t.is(((await bad.json()) as any).error.details[0].path, 'query.since');
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: a tenant-scoped key reads its tenant and gets 404 for every route of another`, async (t) => {
    const app = await startApp(dialect);
    try {
      const { a, b } = await twoTenants(app);
      await insertLeads(app.services.db, a.id, [{ email: 'a@example.com' }]);
      await insertLeads(app.services.db, b.id, [{ email: 'b@example.com' }]);
      const created = (await (await app.admin('/v1/admin/tenants/alpha/keys', { method: 'POST', body: JSON.stringify({ name: 'crm' }) })).json()) as any;
      t.regex(created.key, /^zk_[a-z0-9]{8}_/);
      const withKey = (p: string, init: RequestInit = {}) => fetch(`${app.url}${p}`, { ...init, headers: { 'x-api-key': created.key, 'content-type': 'application/json' } });

      let res = await withKey('/v1/admin/leads');
      t.is(res.status, 200);
      t.deepEqual(((await res.json()) as any).leads.map((l: any) => l.email), ['a@example.com']);
      t.is((await withKey('/v1/admin/tenants/alpha')).status, 200);
      t.is((await withKey('/v1/admin/analytics')).status, 200);
      t.is((await withKey('/v1/admin/events')).status, 200);
      t.false((await (await withKey('/v1/admin/leads/export')).text()).includes('b@example.com'));

      for (const p of ['/v1/admin/leads?tenant=beta', '/v1/admin/leads/export?tenant=beta', '/v1/admin/tenants/beta', '/v1/tenants/beta', '/v1/admin/analytics?tenant=beta', '/v1/admin/events?tenant=beta']) {
        res = await withKey(p);
        t.is(res.status, 404, p);
        t.false((await res.text()).includes('b@example.com'));
      }
      // Admin-only routes stay closed to a scoped key.
      for (const [m, p] of [['GET', '/v1/tenants'], ['PATCH', '/v1/tenants/alpha'], ['DELETE', '/v1/tenants/alpha'], ['POST', '/v1/admin/tenants/alpha/keys']] as const) {
        res = await withKey(p, { method: m, body: m === 'GET' ? undefined : '{}' });
        t.is(res.status, 401, `${m} ${p}`);
      }
      const keys = (await (await app.admin('/v1/admin/tenants/alpha/keys')).json()) as any;
      t.false(JSON.stringify(keys).includes(created.key), 'the key itself is never listed');
      t.is((await app.admin(`/v1/admin/tenants/beta/keys/${created.id}`, { method: 'DELETE' })).status, 404, 'revoking needs the right tenant');
      t.is((await app.admin(`/v1/admin/tenants/alpha/keys/${created.prefix}`, { method: 'DELETE' })).status, 200);
      t.is((await withKey('/v1/admin/leads')).status, 401, 'a revoked key opens nothing');
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: analytics counts events per interval and computes the funnels`, async (t) => {
    const app = await startApp(dialect);
    try {
      const { a, b } = await twoTenants(app);
      const ev = app.services.events;
      for (let i = 0; i < 4; i++) await ev.record(a.id, 'conversation_started');
      for (let i = 0; i < 2; i++) await ev.record(a.id, 'lead_captured');
      await ev.record(a.id, 'checkout_created');
      await ev.record(b.id, 'conversation_started');
      const res = await app.admin('/v1/admin/analytics?tenant=alpha&interval=hour');
      t.is(res.status, 200);
      const body = (await res.json()) as any;
      t.deepEqual(body.totals, { conversation_started: 4, lead_captured: 2, checkout_created: 1 });
      t.deepEqual(body.funnels.sales.map((s: any) => [s.step, s.count, s.rate]), [
        ['conversation', 4, 1],
        ['lead', 2, 0.5],
        ['checkout', 1, 0.25],
        ['paid', 0, 0],
      ]);
      t.is(body.series.length, 1);
      t.regex(body.series[0].bucket, /^\d{4}-\d{2}-\d{2}T\d{2}$/);
      const week = (await (await app.admin('/v1/admin/analytics?tenant=alpha&interval=week')).json()) as any;
      const monday = new Date(week.series[0].bucket + 'T00:00:00Z');
      t.is(monday.getUTCDay(), 1, 'weeks start on Monday on both engines');
      const events = (await (await app.admin('/v1/admin/events?tenant=alpha&type=lead_captured')).json()) as any;
      t.is(events.events.length, 2);
      t.is((await app.admin('/v1/admin/analytics?tenant=alpha&from=2026-02-01&to=2026-01-01')).status, 400);
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: handoff figures: requests, time to the first human reply (p50/p90), conversations by the bot alone or with a person — API and zia stats`, async (t) => {
    const app = await startApp(dialect);
    try {
      const { a, b } = await twoTenants(app);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await app.services.chat.runTurn({ tenant: a, channel: 'web', externalUserId: `v${i}`, text: 'hello' })).conversationId);
      await app.services.chat.runTurn({ tenant: b, channel: 'web', externalUserId: 'vb', text: 'hello' });
      for (const id of ids.slice(0, 3)) await app.services.conversations.appendMessage(a.id, id, { role: 'operator', text: 'A person here.' });
      const base = Date.now() - 50 * 60_000;
      const at = (ms: number) => new Date(base + ms).toISOString();
      const event = (type: string, conversation: string, ms: number, tenant = a.id) => ({ id: `${encodeTime(base + ms, 10)}${String(ids.indexOf(conversation)).padStart(16, '0')}`, tenant_id: tenant, type, conversation_id: conversation, data: '{}', created_at: at(ms) });
      await app.services.db.knex('events').insert([
        event('operator_reply', ids[0]!, -60_000), // before the request: not its answer
        ...ids.slice(0, 4).map((id, i) => event('handoff_requested', id, i)),
        event('operator_reply', ids[0]!, 0 + 30_000),
        event('operator_reply', ids[1]!, 1 + 90_000),
        event('operator_reply', ids[2]!, 2 + 600_000),
      ]);
      const body = (await (await app.admin('/v1/admin/analytics?tenant=alpha')).json()) as any;
      t.deepEqual(body.handoff, {
        requests: 4,
        first_human_reply: { answered: 3, unanswered: 1, p50_seconds: 90, p90_seconds: 600 },
        conversations: { total: 5, bot_only: 2, with_human: 3 },
      });
      const other = (await (await app.admin('/v1/admin/analytics?tenant=beta')).json()) as any;
      t.deepEqual(other.handoff, { requests: 0, first_human_reply: { answered: 0, unanswered: 0, p50_seconds: null, p90_seconds: null }, conversations: { total: 1, bot_only: 1, with_human: 0 } });
      const r = await runBin(['stats', 'alpha'], { env: app.env, cwd: mkdtempSync(path.join(tmpdir(), 'zia-stats-')) });
      t.is(r.code, 0, r.stderr);
      t.regex(r.stdout, /requests for a person\s+4 \(3 answered, 1 not yet\)/);
      t.regex(r.stdout, /first human reply\s+p50 90 s, p90 10 min/);
      t.regex(r.stdout, /conversations\s+5: 2 by the bot alone, 3 with a person/);
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: zia leads export and zia stats from the built binary`, async (t) => {
    const app = await startApp(dialect);
    try {
      const { a } = await twoTenants(app);
      await insertLeads(app.services.db, a.id, tricky);
      await app.services.events.record(a.id, 'conversation_started');
      const cwd = mkdtempSync(path.join(tmpdir(), 'zia-leads-'));
      const env = app.env;
      let r = await runBin(['leads', 'export', 'alpha'], { env, cwd });
      t.is(r.code, 0, r.stderr);
      t.is((parse(r.stdout, { columns: true }) as unknown[]).length, tricky.length);
      r = await runBin(['leads', 'export', 'alpha', '--format', 'jsonl', '-o', 'out.jsonl'], { env, cwd });
      t.is(r.code, 0, r.stderr);
      const { readFileSync } = await import('node:fs');
      t.is(readFileSync(path.join(cwd, 'out.jsonl'), 'utf8').trim().split('\n').length, tricky.length);
      r = await runBin(['leads', 'export'], { env, cwd });
      t.is(r.code, 2);
      r = await runBin(['leads', 'list', 'alpha', '--limit', '3', '--json'], { env, cwd });
      t.is(r.code, 0);
      t.truthy(JSON.parse(r.stdout).next_cursor);
      r = await runBin(['stats', 'alpha'], { env, cwd });
      t.is(r.code, 0, r.stderr);
      t.regex(r.stdout, /conversation_started\s+█+\s+1/);
      r = await runBin(['tenant', 'key', 'create', 'alpha', '--json'], { env, cwd });
      t.is(r.code, 0, r.stderr);
      const { key } = JSON.parse(r.stdout);
      const res = await fetch(`${app.url}/v1/admin/leads`, { headers: { 'x-api-key': key } });
      t.is(res.status, 200);
    } finally {
      await app.close();
    }
  });
}
