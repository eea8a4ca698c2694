import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { benchDb } from './db.js';
import { ROOT, fmt, rssOf, startFakeOpenAI, startStreamingZia, type Row } from './lib.js';

const STREAMS = Number(process.env.ZIA_BENCH_STREAMS ?? 5000);
const LIMIT_KB = 64;

/** zia's V8 heap in use, from its own /metrics: beside RSS, it tells live objects from heap the GC has not handed back. */
async function heapUsed(ziaUrl: string): Promise<number> {
  const text = await (await fetch(`${ziaUrl}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Opens `n` streams from a child process; resolves once all have their first token, with a closer. */
function openStreams(url: string, n: number): Promise<{ ok: number; failed: number; firstError: string; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', path.join(ROOT, 'test/bench/open-streams.ts'), url, String(n)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^open (\d+) (\d+) ?(.*)\n/m.exec(out);
      if (!m) return;
      resolve({
        ok: Number(m[1]),
        failed: Number(m[2]),
        firstError: m[3] ?? '',
        close: () =>
          new Promise<void>((r) => {
            if (child.exitCode !== null) return r();
            child.once('exit', () => r());
            child.stdin.end();
          }),
      });
    });
    child.on('exit', (code) => reject(new Error(`stream opener exited ${code}: ${out}`)));
  });
}

/**
 * P4: streams held open in one zia process, and the memory each costs: RSS with STREAMS streams open
 * minus RSS idle, divided by STREAMS. The fake OpenAI server (own process) holds every upstream stream
 * open with a fragment every 5 s; the clients live in another process, so only zia's own cost is counted.
 * Each stream is a whole chat turn: a client socket, a conversation and messages written, an upstream
 * request in flight. Descriptors: zia needs two per stream (client and upstream), within `ulimit -n`.
 */
export async function p4(dialect: 'sqlite' | 'pg'): Promise<Row[]> {
  // zia inherits this process's limit; say so plainly instead of failing on EMFILE half-way.
  const soft = Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
  if (soft < 2 * STREAMS + 1000) throw new Error(`ulimit -n is ${soft}; ${STREAMS} streams need ${2 * STREAMS + 1000} (zia holds a client and an upstream socket per stream)`);
  const fake = await startFakeOpenAI(['hold', '0', '0', '5000']);
  const db = await benchDb(dialect);
  try {
    const { zia, url } = await startStreamingZia(db.env, fake.url);
    try {
      const pid = zia.child.pid!;
      // Warm-up: the SDK loaded and the paths compiled before "idle" is read, as in a server that has run.
      const warm = await openStreams(url, 20);
      await warm.close();
      await sleep(1000);
      const idle = rssOf(pid);
      const idleHeap = await heapUsed(zia.url);
      const started = performance.now();
      const held = await openStreams(url, STREAMS);
      const openSeconds = (performance.now() - started) / 1000;
      try {
        await sleep(1000);
        const open = rssOf(pid);
        const perStream = (open - idle) / 1024 / Math.max(1, held.ok);
        const heapPerStream = ((await heapUsed(zia.url)) - idleHeap) / 1024 / Math.max(1, held.ok);
        const complete = held.ok === STREAMS && held.failed === 0;
        return [
          {
            id: 'P4',
            what: `${fmt(held.ok)} SSE streams held in one process (opened in ${fmt(openSeconds, 1)} s; RSS ${fmt(idle / 1048576)} → ${fmt(open / 1048576)} MB; V8 heap in use ${fmt(heapPerStream, 1)} KB/stream)${held.failed ? `; ${held.failed} failed: ${held.firstError}` : ''}`,
            dialect,
            figure: `${fmt(perStream, 1)} KB/stream`,
            baseline: `${LIMIT_KB} KB/stream`,
            ratio: perStream / LIMIT_KB,
            target: `≤ 1.0, ${fmt(STREAMS)} open`,
            pass: complete && perStream <= LIMIT_KB,
          },
        ];
      } finally {
        await held.close();
      }
    } finally {
      await zia.stop();
    }
  } finally {
    await db.drop();
    await fake.stop();
  }
}
