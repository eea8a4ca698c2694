import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ADMIN_KEY, baseEnv } from '../helpers/app.js';
import { parseSse } from '../helpers/chat.js';
import { BIN, spawnServe } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import { FakeOpenAI } from '../fakes/openai-server.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'zia-ops-'));

async function tenant(url: string, slug: string): Promise<void> {
  const res = await fetch(`${url}/v1/tenants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
    body: JSON.stringify({ slug, name: 'Shop' }),
  });
  if (res.status !== 201) throw new Error(`tenant: ${res.status}`);
}

test('SIGTERM during a slow chat stream: /readyz answers 503 while the stream finishes, then zia serve exits 0', async (t) => {
  // Eight fragments 400 ms apart: the stream outlives the SIGTERM by about three seconds.
  const fake = await new FakeOpenAI({ apiKey: 'test', chunkDelayMs: 400 }).start();
  const db = await freshDatabase('sqlite');
  const server = await spawnServe({ env: { ...baseEnv({ OPENAI_API_KEY: 'test', OPENAI_BASE_URL: fake.url }), ...db.env }, cwd: tmp() });
  try {
    await tenant(server.url, 'shop');
    t.is((await fetch(`${server.url}/readyz`)).status, 200);
    fake.enqueue({ kind: 'reply', content: ['One ', 'two ', 'three ', 'four ', 'five ', 'six ', 'seven ', 'eight.'] });
    const res = await fetch(`${server.url}/v1/chat/stream?tenant=shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'count' }) });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let raw = '';
    while (!raw.includes('event: token')) raw += decoder.decode((await reader.read()).value);
    const exited = server.stop('SIGTERM');
    const ready = await waitFor('/readyz to report the drain', async () => {
      const r = await fetch(`${server.url}/readyz`);
      return r.status === 503 ? r : undefined;
    }).then((r) => r!);
    t.is(((await ready.json()) as any).error.code, 'draining');
    t.is(ready.headers.get('connection'), 'close', 'kept-alive clients are told to go elsewhere');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      raw += decoder.decode(value);
    }
    const events = parseSse(raw).events;
    t.is(events.at(-1)?.event, 'done', 'the stream in flight finished its reply');
    t.is(events.at(-1)?.data.reply, 'One two three four five six seven eight.');
    t.is(await exited, 0);
    // Not a TTY: every log line on stdout is pino JSON (the one "listening" banner aside).
    const lines = server.output().split('\n').filter((l) => l.startsWith('{'));
    const messages = lines.map((l) => JSON.parse(l).msg as string);
    t.true(messages.some((m) => m.startsWith('draining')));
    t.is(messages.at(-1), 'stopped');
  } finally {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await fake.close();
    await db.cleanup();
  }
});

test('ZIA_METRICS_PORT serves /metrics on its own port (token required), and the main port no longer does', async (t) => {
  const db = await freshDatabase('sqlite');
  const token = 'scrape-token-0123456789';
  const server = await spawnServe({ env: { ...baseEnv({ ZIA_METRICS_PORT: '0', ZIA_METRICS_TOKEN: token }), ...db.env }, cwd: tmp() });
  try {
    const url = (await waitFor('the metrics line', () => /zia metrics on (http:\/\/\S+)/.exec(server.output())?.[1]))!;
    t.is((await fetch(`${server.url}/metrics`)).status, 404, 'not on the public port');
    t.is((await fetch(url)).status, 401);
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    t.is(res.status, 200);
    const text = await res.text();
    t.regex(text, /^zia_jobs\{state="queued"\} 0$/m);
    t.regex(text, /^zia_sse_streams_open 0$/m);
    t.is((await fetch(url.replace('/metrics', '/healthz'))).status, 404, 'only /metrics on that port');
  } finally {
    t.is(await server.stop('SIGTERM'), 0);
    await db.cleanup();
  }
});

test('logs are readable lines, not JSON, when stdout is a terminal', async (t) => {
  const db = await freshDatabase('sqlite');
  // script(1) gives the process a pseudo-terminal as stdout.
  const command = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} serve --port 0 --host 127.0.0.1`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: tmp(), env: { PATH: process.env.PATH ?? '', ...baseEnv({ NO_COLOR: '1' }), ...db.env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  try {
    await waitFor('the ready log line', () => /INFO.*ready/.test(out), 20_000);
    t.false(/^\{"level"/m.test(out), 'no JSON lines on a terminal');
    t.regex(out, /INFO.*: ready/);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await db.cleanup();
  }
});
