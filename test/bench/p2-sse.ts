import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { benchDb } from './db.js';
import { ROOT, fmt, percentile, startFakeOpenAI, startProcess, startStreamingZia, type Row } from './lib.js';
import { chatStream } from './sse-client.js';

const STREAMS = 100;
const ROUNDS = 10;
/**
 * The fake model waits FIRST_CHUNK_MS before answering, then sends a role chunk and 40 words CHUNK_MS
 * apart: its first content leaves ~150 ms after the request arrived and a reply lasts ~2 s.
 */
const FIRST_CHUNK_MS = 50;
const CHUNK_MS = 50;
const REPLY_MS = 40 * CHUNK_MS;

/**
 * P2: the time to first token zia adds over its upstream, with 100 streams open at once.
 *
 * How it is measured, in one run: the fake OpenAI server (its own process) times each request from its
 * arrival to the first content fragment it writes — the upstream's own time to first token. The client
 * here times the same request from writing it to zia to reading the first `event: token`. Each request
 * carries a unique message, which zia forwards as the last user message, so the two are paired exactly:
 * added = client TTFT − upstream TTFT. That difference is everything zia does before and around the
 * upstream (HTTP parsing, validation, tenant lookup, conversation and message writes, prompt building,
 * the SDK request, relaying the first token) plus the two loopback hops — never less than zia's share.
 *
 * The same level is first run against a bare relay (baselines.ts `relay`: node:http, one kept-alive
 * request upstream, each fragment written as a token), the least any server in zia's place must do. Its
 * added time is the box's share: four loopback hops and three processes waiting for two cores. zia's own
 * share is zia's added time minus the relay's, percentile by percentile, and that is what the target
 * holds to; the table shows both.
 *
 * "100 concurrent streams" is held as a level: 100 clients each run ROUNDS streams back to back, their
 * starts spread over one reply's length, so about 100 streams are always open while new ones arrive
 * (as in production). A burst of 100 chats starting in the same millisecond would measure queueing
 * behind 99 others' database writes instead, which is a throughput figure (P1), not added latency.
 */
export async function p2(dialect: 'sqlite' | 'pg'): Promise<Row[]> {
  const fake = await startFakeOpenAI(['reply', String(FIRST_CHUNK_MS), String(CHUNK_MS)]);
  const upstream = new Map<string, number>();
  let pending = '';
  fake.child.stdout!.on('data', (d: Buffer) => {
    pending += d.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const l of lines) {
      const m = /^ttft (\S+) ([\d.]+)$/.exec(l);
      if (m) upstream.set(m[1]!, Number(m[2]));
    }
  });
  const db = await benchDb(dialect);
  try {
    const relay = await startProcess(['--import=tsx', path.join(ROOT, 'test/bench/baselines.ts'), 'relay', fake.url], {}, /listening on http:\/\/[^:]+:(\d+)/);
    let base: Level;
    try {
      base = await level(`${relay.url}/v1/chat/stream`, 'relay', upstream);
    } finally {
      await relay.stop();
    }
    const { zia, url } = await startStreamingZia(db.env, fake.url);
    try {
      const r = await level(url, 'zia', upstream);
      const own50 = r.p50 - base.p50;
      const own99 = r.p99 - base.p99;
      const clean = [r, base].every((x) => x.errors.length === 0 && x.unpaired === 0 && x.samples === STREAMS * ROUNDS);
      return [
        {
          id: 'P2',
          what: `SSE TTFT added over the upstream, ${STREAMS} concurrent streams, ${r.samples} samples (${r.errors.length} errors${r.unpaired ? `, ${r.unpaired} unpaired` : ''}); zia's own share = zia − a bare relay under the same load`,
          dialect,
          figure: `zia's own p99 ${fmt(own99, 1)} ms (p50 ${fmt(own50, 1)}); added in all p99 ${fmt(r.p99, 1)} (p50 ${fmt(r.p50, 1)})`,
          baseline: `relay: added p99 ${fmt(base.p99, 1)} (p50 ${fmt(base.p50, 1)}); upstream TTFT p50 ${fmt(r.upstreamP50, 1)} ms`,
          ratio: own99 / 5,
          target: '≤ 1.0 (5 ms)',
          pass: own99 <= 5 && clean,
        },
      ];
    } finally {
      await zia.stop();
    }
  } finally {
    await db.drop();
    await fake.stop();
  }
}

interface Level {
  p50: number;
  p99: number;
  upstreamP50: number;
  samples: number;
  unpaired: number;
  errors: string[];
}

/** The 100-stream level against one server: added TTFT per stream, paired with the fake's own TTFT. */
async function level(url: string, tag: string, upstream: Map<string, number>): Promise<Level> {
  // Warm-up (SDK loaded, code paths compiled), not counted.
  await Promise.all(Array.from({ length: 10 }, (_, i) => chatStream(url, `warm up ${tag} ${i}`).ended));
  const client = new Map<string, number>();
  const errors: string[] = [];
  await Promise.all(
    Array.from({ length: STREAMS }, async (_, slot) => {
      await sleep((slot * REPLY_MS) / STREAMS);
      for (let round = 0; round < ROUNDS; round++) {
        const message = `p2 ${tag} ${round}-${slot}`;
        const s = chatStream(url, message);
        try {
          const ttft = await s.firstToken;
          await s.ended;
          client.set(message.replace(/\s/g, '_'), ttft);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    }),
  );
  // The fake's lines travel through a pipe; give the last ones a moment.
  for (let i = 0; i < 50 && [...client.keys()].some((k) => !upstream.has(k)); i++) await sleep(20);
  const paired = [...client].filter(([k]) => upstream.has(k));
  const added = paired.map(([k, ttft]) => ttft - upstream.get(k)!);
  return {
    p50: percentile(added, 50),
    p99: percentile(added, 99),
    upstreamP50: percentile(paired.map(([k]) => upstream.get(k)!), 50),
    samples: added.length,
    unpaired: client.size - added.length,
    errors,
  };
}
