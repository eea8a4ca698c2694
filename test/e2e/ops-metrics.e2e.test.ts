import ava from 'ava';
import { startApp, type TestApp } from '../helpers/app.js';
import { chatStream, createTenant } from '../helpers/chat.js';
import { dialects } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import { FakeOpenAI } from '../fakes/openai-server.js';

/** One sample of the Prometheus text format, e.g. sample(text, 'zia_jobs', {state: 'dead'}). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function scrape(app: TestApp, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${app.url}/metrics`, { headers });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: /metrics reports jobs by state (queued, running, failed, dead) and each finished job's duration`, async (t) => {
    const app = await startApp(dialect, { ZIA_JOB_BACKOFF_MS: '600000', ZIA_WORKER_CONCURRENCY: '4' });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const ran: string[] = [];
    app.services.jobs.register('test.metrics', async (p: { id: string }) => {
      ran.push(p.id);
      if (p.id === 'hold') await held;
      if (p.id === 'fail' || p.id === 'die') throw new Error(`job ${p.id} failed`);
    });
    const worker = await app.services.startWorker();
    try {
      await app.services.jobs.enqueue('test.metrics', { id: 'ok' });
      await app.services.jobs.enqueue('test.metrics', { id: 'hold' });
      await app.services.jobs.enqueue('test.metrics', { id: 'fail' }, { maxAttempts: 5 });
      await app.services.jobs.enqueue('test.metrics', { id: 'die' }, { maxAttempts: 1 });
      await app.services.jobs.enqueue('test.metrics', { id: 'later' }, { runAt: new Date(Date.now() + 3_600_000) });
      const text = await waitFor('every job to reach its state', async () => {
        const m = await scrape(app);
        const states = ['queued', 'running', 'failed', 'dead'].map((state) => sample(m, 'zia_jobs', { state }));
        return states.join() === '1,1,1,1' ? m : undefined;
      }).then((m) => m!);
      t.is(sample(text, 'zia_job_duration_seconds_count', { kind: 'test.metrics', outcome: 'ok' }), 1);
      t.is(sample(text, 'zia_job_duration_seconds_count', { kind: 'test.metrics', outcome: 'error' }), 2, 'one retried failure and one parked job');
      t.deepEqual(ran.sort(), ['die', 'fail', 'hold', 'ok']);
      release();
      const after = await waitFor('the held job to finish', async () => {
        const m = await scrape(app);
        return sample(m, 'zia_jobs', { state: 'running' }) === 0 ? m : undefined;
      }).then((m) => m!);
      t.is(sample(after, 'zia_job_duration_seconds_count', { kind: 'test.metrics', outcome: 'ok' }), 2);
      t.is(sample(after, 'zia_jobs', { state: 'queued' }), 1, 'the job due in an hour is still queued');
    } finally {
      release();
      await worker.stop();
      await app.close();
    }
  });

  test(`${dialect}: AI upstream latency, tokens and errors by class, and the open SSE streams gauge, appear in /metrics`, async (t) => {
    const fake = await new FakeOpenAI({ apiKey: 'test', holdEveryMs: 50 }).start();
    const app = await startApp(dialect, { OPENAI_API_KEY: 'test', OPENAI_BASE_URL: fake.url, OPENAI_MAX_RETRIES: '0' });
    try {
      await createTenant(app, 'acme');
      fake.enqueue({ kind: 'reply', content: ['Open ', '8-18.'], usage: { prompt: 21, completion: 5 } });
      const ok = await chatStream(app, 'acme', { message: 'hours?' });
      t.is(ok.events.at(-1)?.event, 'done');
      fake.enqueue({ kind: 'error', status: 503, message: 'overloaded' });
      const failed = await chatStream(app, 'acme', { message: 'again?' });
      t.is(failed.events.at(-1)?.event, 'error');
      t.is(failed.events.at(-1)?.data.code, 'upstream_error');

      fake.enqueue({ kind: 'hold', content: ['Thinking'] });
      const gone = new AbortController();
      const open = await fetch(`${app.url}/v1/chat/stream?tenant=acme`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'long one' }),
        signal: gone.signal,
      });
      const reader = open.body!.getReader();
      await reader.read();
      const during = await scrape(app);
      t.is(sample(during, 'zia_sse_streams_open'), 1);
      gone.abort();
      await waitFor('the stream to close', async () => sample(await scrape(app), 'zia_sse_streams_open') === 0);

      const text = await scrape(app);
      t.is(sample(text, 'zia_ai_request_duration_seconds_count', { provider: 'openai', outcome: 'ok' }), 1);
      t.is(sample(text, 'zia_ai_request_duration_seconds_count', { provider: 'openai', outcome: 'aborted' }), 1);
      t.is(sample(text, 'zia_ai_errors_total', { provider: 'openai', class: 'upstream_5xx' }), 1);
      t.true((sample(text, 'zia_ai_first_token_seconds_count', { provider: 'openai' }) ?? 0) >= 1);
      t.is(sample(text, 'zia_ai_tokens_total', { provider: 'openai', direction: 'in' }), 21);
      t.is(sample(text, 'zia_ai_tokens_total', { provider: 'openai', direction: 'out' }), 5);
      t.true((sample(text, 'zia_http_requests_total', { method: 'POST', route: '/v1/chat/stream', status: '200' }) ?? 0) >= 2);
    } finally {
      await app.close();
      await fake.close();
    }
  });

  test(`${dialect}: with ZIA_METRICS_TOKEN, /metrics needs that bearer token`, async (t) => {
    const token = 'metrics-token-0123456789abcdef';
    const app = await startApp(dialect, { ZIA_METRICS_TOKEN: token });
    try {
      const none = await fetch(`${app.url}/metrics`);
      t.is(none.status, 401);
      t.regex(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      t.is((await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${token}x` } })).status, 401);
      t.is((await fetch(`${app.url}/metrics`, { headers: { authorization: 'Bearer short' } })).status, 401);
      const text = await scrape(app, { authorization: `Bearer ${token}` });
      t.is(sample(text, 'zia_jobs', { state: 'dead' }), 0);
      t.regex(text, /process_resident_memory_bytes/);
    } finally {
      await app.close();
    }
  });
}

ava('GET / answers a page that says what this is and links the health check, the OpenAPI document and the docs; JSON when asked', async (t) => {
  const app = await startApp('sqlite');
  try {
    const html = await fetch(`${app.url}/`);
    t.is(html.status, 200);
    t.regex(html.headers.get('content-type') ?? '', /^text\/html/);
    const page = await html.text();
    t.regex(page, /multi-tenant chatbot backend/);
    for (const href of ['/healthz', '/openapi.json', '/docs', '/readyz', '/metrics']) t.true(page.includes(`href="${href}"`), href);
    const json = await fetch(`${app.url}/`, { headers: { accept: 'application/json' } });
    t.regex(json.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await json.json()) as any;
    t.is(body.name, 'zia');
    t.is(body.links.openapi, '/openapi.json');
    t.is(body.links.health, '/healthz');
    const docs = await (await fetch(`${app.url}/docs`)).text();
    t.regex(docs, /<code>\/v1\/chat\/stream<\/code>/);
    t.regex(docs, /<code>\/v1\/tenants\/\{slug\}<\/code>/);
    t.false(/<script/i.test(docs), 'nothing executable');
  } finally {
    await app.close();
  }
});
