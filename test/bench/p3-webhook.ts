import { spawn } from 'node:child_process';
import path from 'node:path';
import { benchDb } from './db.js';
import { ADMIN_KEY, ROOT, SECRET_KEY, createTenant, fmt, percentile, startZia, type Row } from './lib.js';

const RATE = 500;
const SECONDS = Number(process.env.ZIA_BENCH_P3_SECONDS ?? 10);
/** Sent first at the same rate and not counted: connection pools, JIT and caches warm up, as in service. */
const WARMUP_SECONDS = 3;
const APP_SECRET = 'bench-meta-app-secret';
const PAGE_ID = '100200300400';

function runLoad(url: string): Promise<{ elapsed: number; latencies: number[]; errors: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', path.join(ROOT, 'test/bench/webhook-load.ts'), url, APP_SECRET, PAGE_ID, String(RATE), String(SECONDS), String(WARMUP_SECONDS)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}`))));
  });
}

/**
 * P3: signed Meta webhooks at a fixed 500 req/s (open loop, separate process); the figure is the p99
 * time to the 200 (signature check + inbox insert + job enqueue in one transaction). The server runs with
 * --no-worker, as an HTTP node of a scaled deployment does, so the figure is the acknowledgement alone.
 */
export async function p3(dialect: 'sqlite' | 'pg'): Promise<Row[]> {
  const db = await benchDb(dialect);
  try {
    const zia = await startZia({ ...db.env, ADMIN_KEY, ZIA_SECRET_KEY: SECRET_KEY, META_APP_SECRET: APP_SECRET, META_VERIFY_TOKEN: 'bench' }, ['--no-worker']);
    try {
      await createTenant(zia.url, { slug: 'bench', name: 'Bench', settings: { fb_page_id: PAGE_ID, fb_page_token: 'EAAB-bench-page-token' } });
      const r = await runLoad(`${zia.url}/v1/meta/webhook`);
      const stored = await fetch(`${zia.url}/v1/admin/webhooks/deliveries?provider=meta&limit=1`, { headers: { 'x-api-key': ADMIN_KEY } });
      if (stored.status !== 200) throw new Error(`delivery log answered ${stored.status}`);
      const p99 = percentile(r.latencies, 99);
      const p50 = percentile(r.latencies, 50);
      const achieved = r.latencies.length / r.elapsed;
      return [
        {
          id: 'P3',
          what: `signed Meta webhook ack at ${RATE} req/s × ${SECONDS} s after ${WARMUP_SECONDS} s warm-up, open loop, --no-worker (${fmt(r.latencies.length)} sent, ${fmt(achieved)} req/s achieved, ${r.errors} errors)`,
          dialect,
          figure: `p99 ${fmt(p99, 1)} ms (p50 ${fmt(p50, 1)} ms)`,
          baseline: '50 ms',
          ratio: p99 / 50,
          target: '≤ 1.0, 0 errors',
          pass: p99 <= 50 && r.errors === 0,
        },
      ];
    } finally {
      await zia.stop();
    }
  } finally {
    await db.drop();
  }
}
