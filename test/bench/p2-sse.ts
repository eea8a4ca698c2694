import { setTimeout as sleep } from 'node:timers/promises';
import { benchDb } from './db.js';
import { fmt, percentile, startFakeOpenAI, startStreamingZia, type Row } from './lib.js';
import { chatStream } from './sse-client.js';

const STREAMS = 100;
const ROUNDS = 3;
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
    const { zia, url } = await startStreamingZia(db.env, fake.url);
    try {
      // Warm-up (SDK loaded, code paths compiled), not counted.
      await Promise.all(Array.from({ length: 10 }, (_, i) => chatStream(url, `warm up ${i}`).ended));

      const client = new Map<string, number>();
      const errors: string[] = [];
      await Promise.all(
        Array.from({ length: STREAMS }, async (_, slot) => {
          await sleep((slot * REPLY_MS) / STREAMS);
          for (let round = 0; round < ROUNDS; round++) {
            const message = `p2 probe ${round}-${slot}`;
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
      const added = [...client].filter(([k]) => upstream.has(k)).map(([k, ttft]) => ttft - upstream.get(k)!);
      const unpaired = client.size - added.length;
      const upstreamTtft = [...client.keys()].filter((k) => upstream.has(k)).map((k) => upstream.get(k)!);
      const p50 = percentile(added, 50);
      const p99 = percentile(added, 99);
      return [
        {
          id: 'P2',
          what: `SSE TTFT added over the upstream, ${STREAMS} concurrent streams, ${added.length} samples (${errors.length} errors${unpaired ? `, ${unpaired} unpaired` : ''})`,
          dialect,
          figure: `p99 ${fmt(p99, 1)} ms (p50 ${fmt(p50, 1)} ms)`,
          baseline: `upstream TTFT p50 ${fmt(percentile(upstreamTtft, 50), 1)} ms`,
          ratio: p99 / 5,
          target: '≤ 1.0 (5 ms)',
          pass: p99 <= 5 && errors.length === 0 && unpaired === 0 && added.length === STREAMS * ROUNDS,
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
