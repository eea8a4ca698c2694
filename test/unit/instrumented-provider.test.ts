import test from 'ava';
import { InstrumentedProvider, errorClass } from '../../src/features/ai/instrumented-provider.js';
import type { AiProvider, GenerateRequest, GenerateResult } from '../../src/features/ai/provider.js';
import { RateLimitError, UpstreamError, NotFoundError } from '../../src/errors.js';
import { createMetrics } from '../../src/metrics.js';

function fakeProvider(run: (req: GenerateRequest) => Promise<GenerateResult>): AiProvider {
  return { name: 'openai', usesHistory: true, generate: run };
}

const request = (signal?: AbortSignal): GenerateRequest =>
  ({ tenant: {}, channel: 'web', conversationId: 'c1', system: '', messages: [], tools: { specs: [], run: async () => ({}) }, signal, onToken: () => undefined }) as unknown as GenerateRequest;

async function value(metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return match?.value;
}

test('a successful call is timed, its first token timed, and its tokens counted in and out', async (t) => {
  const metrics = createMetrics();
  const seen: string[] = [];
  const provider = new InstrumentedProvider(
    fakeProvider(async (req) => {
      req.onToken('Hel');
      req.onToken('lo');
      return { text: 'Hello', tokens: 42, usage: { input: 30, output: 12 } };
    }),
    metrics,
  );
  const result = await provider.generate({ ...request(), onToken: (s) => void seen.push(s) });
  t.is(result.text, 'Hello');
  t.deepEqual(seen, ['Hel', 'lo'], 'tokens still reach the caller');
  t.is(await value(metrics, 'zia_ai_tokens_total', { direction: 'in' }), 30);
  t.is(await value(metrics, 'zia_ai_tokens_total', { direction: 'out' }), 12);
  t.is(await value(metrics, 'zia_ai_request_duration_seconds', { provider: 'openai', outcome: 'ok', le: '+Inf' }), 1);
  t.is(await value(metrics, 'zia_ai_first_token_seconds', { provider: 'openai', le: '+Inf' }), 1, 'observed once, not per token');
});

test('failures are counted by class; a call the client abandoned is not an error', async (t) => {
  const metrics = createMetrics();
  const errors = [new UpstreamError('the AI provider answered 503', { status: 503 }), new RateLimitError('slow down', 3), new UpstreamError('the AI provider could not be reached')];
  const provider = new InstrumentedProvider(
    fakeProvider(async () => {
      throw errors.shift() ?? new Error('client went away');
    }),
    metrics,
  );
  for (let i = 0; i < 3; i++) await t.throwsAsync(provider.generate(request()));
  const gone = new AbortController();
  gone.abort();
  await t.throwsAsync(provider.generate(request(gone.signal)));
  t.is(await value(metrics, 'zia_ai_errors_total', { class: 'upstream_5xx' }), 1);
  t.is(await value(metrics, 'zia_ai_errors_total', { class: 'rate_limited' }), 1);
  t.is(await value(metrics, 'zia_ai_errors_total', { class: 'unreachable' }), 1);
  t.is(await value(metrics, 'zia_ai_errors_total', { class: 'internal' }), undefined, 'the abandoned call is not counted as an error');
  t.is(await value(metrics, 'zia_ai_request_duration_seconds', { outcome: 'aborted', le: '+Inf' }), 1);
  t.is(await value(metrics, 'zia_ai_request_duration_seconds', { outcome: 'error', le: '+Inf' }), 3);
});

test('error classes are a small fixed set', (t) => {
  t.is(errorClass(new UpstreamError('the AI provider answered 400', { status: 400 })), 'upstream_4xx');
  t.is(errorClass(new UpstreamError('refused', { status: 429 })), 'rate_limited');
  t.is(errorClass(new UpstreamError('the AI provider did not answer within 1000 ms')), 'timeout');
  t.is(errorClass(new UpstreamError('the AI provider stream broke off')), 'upstream');
  t.is(errorClass(new NotFoundError('x')), 'not_found');
  t.is(errorClass(new TypeError('bug')), 'internal');
});
