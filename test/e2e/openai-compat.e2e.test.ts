import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { chatStream, createTenant } from '../helpers/chat.js';
import { dialects } from '../helpers/db.js';
import type { Behaviour } from '../fakes/openai-server.js';
import { startWithFakeOpenAI } from '../helpers/openai.js';

/**
 * Contract tests: streams in the wire formats of the servers zia is pointed at, replayed byte for byte
 * (in 29-byte pieces) by a loopback server through the real provider and the real HTTP API. Each case
 * checks the reply text, the tools that ran (their results in the follow-up request, the lead row) and
 * the SSE events the client saw. The fixtures are in test/fixtures/openai-streams/; where each shape
 * comes from:
 *
 * - OpenAI: the streaming wire format in /work/shared/PROTOCOLS.md §5 (role chunk, `obfuscation`,
 *   tool call fragments by `index` with id and name in the first only, `choices: []` usage chunk),
 *   the in-stream `{"error":…}` object the SDK's Stream throws on, and the 429 body with
 *   `code: rate_limit_exceeded`. `openai-no-finish-reason.sse` is the stream issue 18 describes
 *   (`[DONE]` without a finish_reason), as some proxies send it.
 * - Ollama: no `index` on streamed tool calls, whole call in one chunk, finish_reason "stop"
 *   (github.com/ollama/ollama/issues/7881, /issues/5796); `index` present but 0 for every call, with
 *   distinct ids (github.com/ollama/ollama/issues/15457, /issues/15497); `system_fingerprint:
 *   "fp_ollama"`, no `logprobs`.
 * - vLLM: `chatcmpl-tool-…` ids, every call on index 0 with the first fragment naming it and later
 *   ones carrying arguments only (github.com/InternLM/lmdeploy/issues/3412, which compares vLLM's
 *   output), `stop_reason` beside finish_reason, the error object vLLM puts in a stream
 *   (`object: "error"`, numeric code).
 * - llama.cpp server (`--jinja`): id on the tool call, name once, empty arguments in the first delta
 *   (github.com/ggml-org/llama.cpp/pull/13800), `content: null` role chunk, usage and `timings` in the
 * finishing chunk.
 * - LM Studio: later tool call fragments repeat `id: ""` and `name: ""`
 *   (github.com/0xPlaygrounds/rig/pull/442, github.com/lmstudio-ai/lmstudio-bug-tracker/issues/649);
 *   CRLF line endings.
 * - Gemini's OpenAI compatibility endpoint: tool calls without `index`, `id: ""`, whole arguments,
 *   `extra_content.google.thought_signature` (github.com/meilisearch/meilisearch/pull/5712,
 *   github.com/THU-MAIC/OpenMAIC/issues/1556), finish_reason "stop" after tool calls
 *   (github.com/googleapis/python-genai/issues/2868), usage in the finishing chunk, and a 429 whose
 *   body is a list of errors.
 */

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/openai-streams');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');
const replay = (name: string, extra: Partial<Extract<Behaviour, { kind: 'raw' }>> = {}): Behaviour => ({ kind: 'raw', body: fixture(name), ...extra });

/** The content fragments a fixture streams, in order: what the client must see as token events. */
function contentOf(name: string): string[] {
  const out: string[] = [];
  for (const line of fixture(name).split(/\r?\n/)) {
    if (!line.startsWith('data: {')) continue;
    const content = JSON.parse(line.slice(6)).choices?.[0]?.delta?.content;
    if (typeof content === 'string' && content !== '') out.push(content);
  }
  return out;
}

interface Server {
  name: string;
  /** Settings an operator uses for this server (README "OpenAI-compatible servers"). */
  env: Record<string, string>;
  /** The bearer key the server wants; null: none. */
  apiKey: string | null;
  text: string;
  textReply: string;
  /** Tool call fixture, and the names of the tools it calls, in order. */
  tools: { file: string; names: string[] };
  errorMidStream?: string;
  rateLimit?: Behaviour;
}

const SERVERS: Server[] = [
  {
    name: 'OpenAI',
    env: { OPENAI_API_KEY: 'sk-test' },
    apiKey: 'sk-test',
    text: 'openai-text.sse',
    textReply: 'We open at 8 on weekdays.',
    tools: { file: 'openai-two-tools.sse', names: ['capture_lead', 'search_catalog'] },
    errorMidStream: 'openai-error-mid-stream.sse',
    rateLimit: { kind: 'raw', status: 429, headers: { 'retry-after': '1' }, body: fixture('openai-429.json') },
  },
  {
    name: 'Ollama (tool call without index)',
    env: { OPENAI_MAX_TOKENS_PARAM: 'max_tokens' },
    apiKey: null,
    text: 'ollama-text.sse',
    textReply: 'We open at 8.',
    tools: { file: 'ollama-tool-no-index.sse', names: ['capture_lead'] },
  },
  {
    name: 'Ollama (two calls, both index 0)',
    env: { OPENAI_MAX_TOKENS_PARAM: 'max_tokens' },
    apiKey: null,
    text: 'ollama-text.sse',
    textReply: 'We open at 8.',
    tools: { file: 'ollama-two-tools-index-0.sse', names: ['capture_lead', 'search_catalog'] },
  },
  {
    name: 'vLLM',
    env: { OPENAI_API_KEY: 'token-abc123' },
    apiKey: 'token-abc123',
    text: 'vllm-text.sse',
    textReply: 'We open at 8.',
    tools: { file: 'vllm-two-tools.sse', names: ['capture_lead', 'search_catalog'] },
    errorMidStream: 'vllm-error-mid-stream.sse',
  },
  {
    name: 'llama.cpp server',
    env: { OPENAI_MAX_TOKENS_PARAM: 'max_tokens' },
    apiKey: null,
    text: 'llamacpp-text.sse',
    textReply: 'We open at 8.',
    tools: { file: 'llamacpp-tool.sse', names: ['capture_lead'] },
  },
  {
    name: 'LM Studio',
    env: { OPENAI_MAX_TOKENS_PARAM: 'max_tokens' },
    apiKey: null,
    text: 'lmstudio-text.sse',
    textReply: 'We open at 8.',
    tools: { file: 'lmstudio-tool.sse', names: ['capture_lead'] },
  },
  {
    name: "Gemini's OpenAI endpoint",
    env: { OPENAI_API_KEY: 'gemini-key' },
    apiKey: 'gemini-key',
    text: 'gemini-text.sse',
    textReply: 'We open at 8 on weekdays.',
    tools: { file: 'gemini-two-tools-no-index.sse', names: ['capture_lead', 'search_catalog'] },
    rateLimit: { kind: 'raw', status: 429, headers: { 'retry-after-ms': '300' }, body: fixture('gemini-429.json') },
  },
];

async function setup(dialect: 'sqlite' | 'pg', server: Server) {
  const started = await startWithFakeOpenAI(dialect, { OPENAI_RETRY_AFTER_MAX_MS: '5000', ...server.env }, { apiKey: server.apiKey });
  await createTenant(started.app, 'acme');
  return started;
}

for (const dialect of dialects()) {
  for (const server of SERVERS) {
    const covered = ['text', server.tools.names.length > 1 ? 'two tool calls' : 'a tool call', server.errorMidStream && 'an error mid-stream', server.rateLimit && 'a 429'];
    test(`${dialect}: ${server.name}: ${covered.filter(Boolean).join(', ')} reach the client as they should`, async (t) => {
      const { fake, app, close } = await setup(dialect, server);
      try {
        // Text: every content fragment is one token event, in order, and the reply is their sum.
        fake.enqueue(replay(server.text));
        const s = await chatStream(app, 'acme', { message: 'When do you open?' });
        const tokens = contentOf(server.text);
        t.deepEqual(s.events.map((e) => e.event), ['meta', ...tokens.map(() => 'token'), 'done']);
        t.deepEqual(s.events.filter((e) => e.event === 'token').map((e) => e.data.text), tokens);
        t.is(s.events.at(-1)!.data.reply, server.textReply);
        const first = fake.requests[0]!;
        t.is(first.headers.authorization, server.apiKey ? `Bearer ${server.apiKey}` : undefined, 'a key only where one is configured');
        const param = server.env.OPENAI_MAX_TOKENS_PARAM ?? 'max_completion_tokens';
        t.is(first.body[param], 800);
        t.false((param === 'max_tokens' ? 'max_completion_tokens' : 'max_tokens') in first.body);
        t.true(first.body.stream);

        // Tool calls: each runs once, with its arguments, and its result answers its own call id.
        const before = fake.requests.length;
        fake.enqueue(replay(server.tools.file), replay(server.text));
        const withTools = await chatStream(app, 'acme', { message: "I'm Ada Lovelace, ada@example.com; do you sell mugs?" });
        t.deepEqual(withTools.events.map((e) => e.event), ['meta', ...tokens.map(() => 'token'), 'done']);
        t.is(withTools.events.at(-1)!.data.reply, server.textReply);
        t.is(fake.requests.length, before + 2, 'one request with the tool calls, one with their results');
        const follow = fake.requests.at(-1)!.body.messages as any[];
        const asked = follow.find((m) => m.role === 'assistant' && m.tool_calls);
        t.deepEqual(asked.tool_calls.map((c: any) => c.function.name), server.tools.names);
        const ids = asked.tool_calls.map((c: any) => c.id);
        t.is(new Set(ids).size, ids.length, 'every call has an id of its own');
        const results = follow.filter((m) => m.role === 'tool');
        t.deepEqual(results.map((m) => m.tool_call_id), ids);
        t.true(JSON.parse(results[0].content).ok, 'capture_lead succeeded');
        t.deepEqual(JSON.parse(asked.tool_calls[0].function.arguments), { name: 'Ada Lovelace', email: 'ada@example.com' });
        if (server.tools.names[1] === 'search_catalog') t.is(JSON.parse(results[1].content).error, 'not_configured');
        const leads = await app.services.db.knex('leads');
        t.is(leads.length, 1);
        t.is(leads[0].email, 'ada@example.com');

        if (server.errorMidStream) {
          fake.enqueue(replay(server.errorMidStream));
          const failed = await chatStream(app, 'acme', { message: 'hi' });
          t.deepEqual(failed.events.map((e) => e.event), ['meta', ...contentOf(server.errorMidStream).map(() => 'token'), 'error']);
          t.is(failed.events.at(-1)!.data.code, 'upstream_error');
        }

        if (server.rateLimit) {
          const n = fake.requests.length;
          fake.enqueue(server.rateLimit, replay(server.text));
          const waited = await chatStream(app, 'acme', { message: 'hi again' });
          t.is(waited.events.at(-1)!.event, 'done');
          t.is(waited.events.at(-1)!.data.reply, server.textReply);
          t.is(fake.requests.length, n + 2, 'the 429 was retried once');
          const asked429 = Number(server.rateLimit.kind === 'raw' && server.rateLimit.headers?.['retry-after'] ? 1000 : 300);
          t.true(fake.requests[n + 1]!.receivedAt - fake.requests[n]!.receivedAt >= asked429 - 50, 'after the wait the server asked for');
        }
      } finally {
        await close();
      }
    });
  }

  test(`${dialect}: a stream that ends with [DONE] but no finish_reason is a normal reply`, async (t) => {
    const { fake, app, close } = await setup(dialect, SERVERS[0]!);
    try {
      fake.enqueue(replay('openai-no-finish-reason.sse'));
      const s = await chatStream(app, 'acme', { message: 'hi' });
      t.deepEqual(s.events.map((e) => e.event), ['meta', 'token', 'token', 'done']);
      t.is(s.events.at(-1)!.data.reply, 'Cut short but complete.');
      t.is((await app.services.db.knex('events').where({ type: 'ai_error' })).length, 0);
    } finally {
      await close();
    }
  });
}
