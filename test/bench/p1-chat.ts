import path from 'node:path';
import { benchDb } from './db.js';
import { ADMIN_KEY, ROOT, SECRET_KEY, autocannon, createTenant, fmt, startProcess, startZia, type LoadResult, type Row } from './lib.js';

const CONNECTIONS = 50;
const SECONDS = Number(process.env.ZIA_BENCH_P1_SECONDS ?? 10);

const FAQ = [
  { q: 'What are your opening hours?', a: 'We are open Monday to Friday, 8:00 to 18:00, and Saturday 10:00 to 16:00.' },
  { q: 'Do you ship abroad?', a: 'Yes, we ship to all EU countries; delivery takes 3 to 5 working days.' },
  { q: 'What is your return policy?', a: 'Unused items can be returned within 30 days for a full refund.' },
  { q: 'Where is the shop?', a: 'Storgata 1 in Oslo, next to the central station.' },
  { q: 'Which payment methods do you accept?', a: 'Cards, Vipps and invoice for companies.' },
];

/**
 * The same load for both servers: 50 connections for SECONDS, each request a new message. autocannon's
 * [<id>] replacement puts a fresh random id into every body, so every request is a new visitor with a
 * new conversation (the realistic first message of a widget) and no two bodies are the same.
 */
function load(url: string): Promise<LoadResult> {
  const body = JSON.stringify({ message: 'Hi, what are your opening hours on Saturday? ref [<id>]', visitor_id: 'v-[<id>]' });
  return autocannon(['-c', String(CONNECTIONS), '-d', String(SECONDS), '-m', 'POST', '-H', 'content-type=application/json', '-b', body, '-I', url]);
}

/** P1: POST /v1/chat with the offline AI against a bare Express hello-world, the same load in the same run. */
export async function p1(dialect: 'sqlite' | 'pg'): Promise<Row[]> {
  const baselineServer = await startProcess(['--import=tsx', path.join(ROOT, 'test/bench/baselines.ts'), 'express'], {}, /listening on http:\/\/[^:]+:(\d+)/);
  let baseline: LoadResult;
  try {
    baseline = await load(`${baselineServer.url}/v1/chat`);
  } finally {
    await baselineServer.stop();
  }
  const db = await benchDb(dialect);
  try {
    // The per-IP rate limit would turn one load generator into 429s: it is off here, and said so.
    const zia = await startZia({ ...db.env, ADMIN_KEY, ZIA_SECRET_KEY: SECRET_KEY, ZIA_RATE_LIMIT_PER_MINUTE: '0' });
    try {
      await createTenant(zia.url, { slug: 'bench', name: 'Bench Shop', settings: { faq: FAQ } });
      // A sanity check that the FAQ answers, so the load measures the path it claims to.
      const probe = await fetch(`${zia.url}/v1/chat?tenant=bench`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'What are your opening hours?' }) });
      const answer = (await probe.json()) as { reply?: string };
      if (!answer.reply?.startsWith('We are open')) throw new Error(`unexpected reply: ${JSON.stringify(answer)}`);
      const r = await load(`${zia.url}/v1/chat?tenant=bench`);
      const ratio = r.rps / baseline.rps;
      const min = dialect === 'sqlite' ? 0.25 : 0.15;
      const clean = r.errors === 0 && r.non2xx === 0 && baseline.errors === 0 && baseline.non2xx === 0;
      return [
        {
          id: 'P1',
          what: `POST /v1/chat, offline AI, FAQ, ${CONNECTIONS} conns × ${SECONDS} s, rate limit off (${fmt(r.requests)} req, ${r.errors} errors, ${r.non2xx} non-2xx)`,
          dialect,
          figure: `${fmt(r.rps)} req/s (p99 ${fmt(r.p99)} ms)`,
          baseline: `express: ${fmt(baseline.rps)} req/s`,
          ratio,
          target: `≥ ${min.toFixed(2)}, 0 errors`,
          pass: ratio >= min && clean,
        },
      ];
    } finally {
      await zia.stop();
    }
  } finally {
    await db.drop();
  }
}
