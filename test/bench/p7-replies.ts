import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { benchDb } from './db.js';
import { ADMIN_KEY, ROOT, SECRET_KEY, createTenant, fmt, percentile, startFakeOpenAI, startZia, type Row, type Started } from './lib.js';

const APP_SECRET = 'bench-meta-app-secret';
const PAGE_ID = '100200300400';

interface Load {
  elapsed: number;
  latencies: number[];
  errors: number;
  sent: Array<{ page: string; sender: string; at: number }>;
}

function runLoad(url: string, pages: string[], rate: number, seconds: number, warmup: number, senders: number, prefix = 'PSID'): Promise<Load> {
  return new Promise((resolve, reject) => {
    const args = [url, APP_SECRET, pages.join(','), String(rate), String(seconds), String(warmup), String(senders), prefix];
    const child = spawn(process.execPath, ['--import=tsx', path.join(ROOT, 'test/bench/webhook-load.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}`))));
  });
}

/** Meta's Send API as the bench sees it: answers at once and notes when each recipient's reply came. */
class ReplyClock {
  readonly replies = new Map<string, number[]>();
  count = 0;
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const at = Date.now();
      const recipient = (JSON.parse(body) as { recipient?: { id?: string } }).recipient?.id ?? '?';
      const list = this.replies.get(recipient) ?? [];
      list.push(at);
      this.replies.set(recipient, list);
      this.count++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ recipient_id: recipient, message_id: `m_reply_${this.count}` }));
    });
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
  /** Waits until `n` replies arrived, or `ms` passed with none. */
  async until(n: number, idleMs: number): Promise<void> {
    let last = this.count;
    let quietSince = Date.now();
    while (this.count < n) {
      await new Promise((r) => setTimeout(r, 100));
      if (this.count !== last) [last, quietSince] = [this.count, Date.now()];
      else if (Date.now() - quietSince > idleMs) return;
    }
  }
  /** Replies to senders whose ids start with `prefix`. */
  repliesTo(prefix: string): number {
    let n = 0;
    for (const [recipient, list] of this.replies) if (recipient.startsWith(prefix)) n += list.length;
    return n;
  }

  /** Waits until `n` replies to senders starting with `prefix` arrived, or `ms` passed. */
  async untilTo(prefix: string, n: number, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.repliesTo(prefix) < n && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  }

  /** Webhook-to-reply times: a customer's k-th reply answers their k-th message (answers are in order). */
  delays(sent: Load['sent']): number[] {
    const seen = new Map<string, number>();
    const out: number[] = [];
    for (const s of sent) {
      const k = seen.get(s.sender) ?? 0;
      seen.set(s.sender, k + 1);
      const reply = this.replies.get(s.sender)?.[k];
      out.push(reply === undefined ? Infinity : reply - s.at);
    }
    return out;
  }
}

async function withZia<T>(dialect: 'sqlite' | 'pg', env: Record<string, string>, pages: string[], fn: (zia: Started, clock: ReplyClock) => Promise<T>): Promise<T> {
  const db = await benchDb(dialect);
  const clock = new ReplyClock();
  await clock.start();
  try {
    // ZIA_WORKER_CONCURRENCY or ZIA_TENANT_CONCURRENCY in the bench's environment compares a setting against the default.
    const concurrency: Record<string, string> = {};
    for (const name of ['ZIA_WORKER_CONCURRENCY', 'ZIA_TENANT_CONCURRENCY']) if (process.env[name]) concurrency[name] = process.env[name]!;
    const zia = await startZia({ ...db.env, ADMIN_KEY, ZIA_SECRET_KEY: SECRET_KEY, META_APP_SECRET: APP_SECRET, META_VERIFY_TOKEN: 'bench', META_GRAPH_URL: clock.url, ...concurrency, ...env });
    try {
      for (const [i, page] of pages.entries()) {
        await createTenant(zia.url, { slug: `shop${i}`, name: `Shop ${i}`, settings: { fb_page_id: page, fb_page_token: `EAAB-bench-page-token-${i}`, lead: { mode: 'off' } } });
      }
      return await fn(zia, clock);
    } finally {
      await zia.stop();
    }
  } finally {
    await clock.close();
    await db.drop();
  }
}

/**
 * P7: signed Meta DMs at an even 500/s for 10 s after a 3 s warm-up (997 customers of one page), to one
 * `zia serve` with its worker, offline AI, the Send API answering at once. Every message must be
 * answered within 5 s of the last one's arrival, acknowledgements p99 ≤ 50 ms throughout.
 */
export async function p7(dialect: 'sqlite' | 'pg'): Promise<Row[]> {
  const [rate, seconds, warmup] = [500, 10, 3];
  return withZia(dialect, {}, [PAGE_ID], async (zia, clock) => {
    const load = await runLoad(`${zia.url}/v1/meta/webhook`, [PAGE_ID], rate, seconds, warmup, 997);
    const lastSent = Math.max(...load.sent.map((s) => s.at));
    await clock.until(load.sent.length, 30_000);
    const lastReply = Math.max(...[...clock.replies.values()].flat());
    const after = (lastReply - lastSent) / 1000;
    const all = clock.count === load.sent.length;
    const p99 = percentile(load.latencies, 99);
    return [
      {
        id: 'P7',
        what: `Meta DMs at ${rate}/s × ${seconds} s after ${warmup} s warm-up, one zia serve with its worker, offline AI (${fmt(load.sent.length)} sent, ${fmt(clock.count)} answered, ack p99 ${fmt(p99, 1)} ms, ${load.errors} errors)`,
        dialect,
        figure: `last reply ${fmt(after, 1)} s after the last message`,
        baseline: '5 s',
        ratio: after / 5,
        target: '≤ 1.0, all answered, ack p99 ≤ 50 ms',
        pass: all && after <= 5 && p99 <= 50 && load.errors === 0,
      },
    ];
  });
}

/**
 * P8: a model that takes 1 s per answer (the fake OpenAI), 50 DMs/s for 20 s from 200 customers of 10
 * shops; p99 time from a webhook to its reply at the Send API, default settings.
 */
export async function p8(dialect: 'sqlite' | 'pg'): Promise<Row[]> {
  const fake = await startFakeOpenAI(['reply', '1000']);
  try {
    const pages = Array.from({ length: 10 }, (_, i) => `${PAGE_ID}${i}`);
    return await withZia(dialect, { OPENAI_API_KEY: 'test', OPENAI_BASE_URL: fake.url }, pages, async (_zia, clock) => {
      const load = await runLoad(`${_zia.url}/v1/meta/webhook`, pages, 50, 20, 0, 200);
      await clock.until(load.sent.length, 30_000);
      const delays = clock.delays(load.sent);
      const p99 = percentile(delays, 99) / 1000;
      const p50 = percentile(delays, 50) / 1000;
      return [
        {
          id: 'P8',
          what: `Meta DMs at 50/s × 20 s, 200 customers of 10 shops, model answers after 1 s, default settings (${fmt(load.sent.length)} sent, ${fmt(clock.count)} answered)`,
          dialect,
          figure: `webhook-to-reply p99 ${Number.isFinite(p99) ? fmt(p99, 2) : 'unanswered'} s (p50 ${fmt(p50, 2)} s)`,
          baseline: '3 s',
          ratio: Number.isFinite(p99) ? p99 / 3 : null,
          target: '≤ 1.0',
          pass: p99 <= 3,
        },
      ];
    });
  } finally {
    await fake.stop();
  }
}

/**
 * P9, fairness: the model answers after 1 s; shop B sends 5 DMs/s for 10 s alone (its unloaded
 * figure), then again while shop A floods 400 DMs/s. B's p99 webhook-to-reply must stay within 2× the
 * unloaded one, default settings. A's backlog is not waited for.
 */
export async function p9(dialect: 'sqlite' | 'pg'): Promise<Row[]> {
  const fake = await startFakeOpenAI(['reply', '1000']);
  try {
    const [pageA, pageB] = [`${PAGE_ID}1`, `${PAGE_ID}2`];
    return await withZia(dialect, { OPENAI_API_KEY: 'test', OPENAI_BASE_URL: fake.url }, [pageA, pageB], async (zia, clock) => {
      const url = `${zia.url}/v1/meta/webhook`;
      const quiet = async (prefix: string, alongside?: Promise<Load>) => {
        const load = await runLoad(url, [pageB], 5, 10, 0, 20, prefix);
        await clock.untilTo(prefix, load.sent.length, 60_000);
        const delays = clock.delays(load.sent);
        await alongside;
        return { p99: percentile(delays, 99) / 1000, answered: clock.repliesTo(prefix), sent: load.sent.length };
      };
      const alone = await quiet('B1-');
      const flood = runLoad(url, [pageA], 400, 10, 0, 997, 'A-');
      const loaded = await quiet('B2-', flood);
      const floodSent = (await flood).sent.length;
      const ratio = loaded.p99 / alone.p99;
      return [
        {
          id: 'P9',
          what: `shop B at 5 DMs/s × 10 s alone, then beside shop A at 400/s (${fmt(floodSent)} sent by A, ${fmt(clock.repliesTo('A-'))} answered by then); model answers after 1 s; default settings; B answered ${loaded.answered}/${loaded.sent}`,
          dialect,
          figure: `B's p99 ${Number.isFinite(loaded.p99) ? fmt(loaded.p99, 2) : 'unanswered'} s beside the flood`,
          baseline: `alone: ${fmt(alone.p99, 2)} s`,
          ratio: Number.isFinite(ratio) ? ratio : null,
          target: '≤ 2.0',
          pass: ratio <= 2,
        },
      ];
    });
  } finally {
    await fake.stop();
  }
}
