import path from 'node:path';
import Database from 'better-sqlite3';
import knexFactory from 'knex';
import { benchDb, type BenchDb } from './db.js';
import { BIN, fmt, rssOf, startZia, type Row } from './lib.js';
import { spawnSync } from 'node:child_process';

const ROWS = Number(process.env.ZIA_BENCH_LEADS ?? 1_000_000);
const ADMIN_KEY = 'bench-admin-key-0123456789';
const T0 = Date.parse('2026-01-01T00:00:00Z');

async function seed(db: BenchDb): Promise<void> {
  const r = spawnSync(process.execPath, [BIN, 'migrate'], { env: { PATH: process.env.PATH ?? '', ...db.env } });
  if (r.status !== 0) throw new Error(`migrate failed: ${r.stderr}`);
  const now = new Date(T0).toISOString();
  if (db.dialect === 'sqlite') {
    const d = new Database(path.join(db.env.ZIA_DATA_DIR!, 'zia.sqlite'));
    d.prepare(`insert into tenants (id, slug, name, settings, created_at, updated_at) values ('T0000000000000000000000001','bench','Bench','{}',?,?)`).run(now, now);
    const ins = d.prepare('insert into leads (id, tenant_id, name, email, whatsapp, source_channel, created_at, updated_at) values (?,?,?,?,?,?,?,?)');
    const batch = d.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const at = new Date(T0 + i * 10).toISOString();
        ins.run(`L${String(i).padStart(25, '0')}`, 'T0000000000000000000000001', `Lead, "No." ${i}`, `lead${i}@example.com`, '+4791234567', 'web', at, at);
      }
    });
    for (let i = 0; i < ROWS; i += 100_000) batch(i, Math.min(ROWS, i + 100_000));
    d.close();
  } else {
    const k = knexFactory({ client: 'pg', connection: db.env.DATABASE_URL });
    await k.raw(`insert into tenants (id, slug, name, settings, created_at, updated_at) values ('T0000000000000000000000001','bench','Bench','{}',?,?)`, [now, now]);
    await k.raw(
      `insert into leads (id, tenant_id, name, email, whatsapp, source_channel, created_at, updated_at)
       select 'L' || lpad(i::text, 25, '0'), 'T0000000000000000000000001', 'Lead, "No." ' || i, 'lead' || i || '@example.com',
              '+4791234567', 'web', timestamptz '2026-01-01 00:00:00+00' + (i * interval '10 milliseconds'),
              timestamptz '2026-01-01 00:00:00+00' + (i * interval '10 milliseconds')
       from generate_series(0, ?) as i`,
      [ROWS - 1],
    );
    await k.raw('analyze leads');
    await k.destroy();
  }
}

/** P5: stream every lead as CSV over HTTP from a running `zia serve`; rows/s and the server's RSS growth. */
export async function p5(dialect: 'sqlite' | 'pg'): Promise<Row[]> {
  const db = await benchDb(dialect);
  try {
    await seed(db);
    const zia = await startZia({ ...db.env, ADMIN_KEY });
    try {
      const pid = zia.child.pid!;
      await fetch(`${zia.url}/healthz`);
      const before = rssOf(pid);
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
      const started = performance.now();
      const res = await fetch(`${zia.url}/v1/admin/leads/export?tenant=bench&format=csv`, { headers: { 'x-api-key': ADMIN_KEY } });
      let lines = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
      }
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      peak = Math.max(peak, rssOf(pid));
      const rows = lines - 1;
      if (rows !== ROWS) throw new Error(`export returned ${rows} rows, expected ${ROWS}`);
      const rate = rows / seconds;
      const growth = (peak - before) / 1024 / 1024;
      return [
        { id: 'P5', what: `lead export, ${fmt(ROWS)} rows (rows/s)`, dialect, figure: `${fmt(rate)} rows/s`, baseline: '100,000 rows/s', ratio: rate / 100_000, target: '≥ 1.0', pass: rate >= 100_000 },
        { id: 'P5', what: 'lead export RSS growth', dialect, figure: `${fmt(growth, 1)} MB`, baseline: '64 MB', ratio: growth / 64, target: '≤ 1.0', pass: growth <= 64 },
      ];
    } finally {
      await zia.stop();
    }
  } finally {
    await db.drop();
  }
}
