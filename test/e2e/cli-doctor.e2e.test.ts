import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { startCountingListener } from '../fakes/catalog-server.js';
import { runBin } from '../helpers/cli.js';

/** `zia doctor ai` against servers that behave as OpenAI and as a local server do, through the built binary. */

const cwd = mkdtempSync(path.join(tmpdir(), 'zia-doctor-'));
const PING = { name: 'ping', arguments: ['{"word":', '"pong"}'] };

test('doctor ai: an OpenAI-like server: streaming, tools and max_completion_tokens all work', async (t) => {
  const fake = await new FakeOpenAI({
    apiKey: 'sk-test',
    fallback: (req) =>
      req.body.tools
        ? { kind: 'reply', toolCalls: [PING] }
        : req.body.max_completion_tokens === 16
          ? { kind: 'reply', content: ['1 2 3 4 5 6 7 8'], finish: 'length', usage: { prompt: 20, completion: 16 } }
          : { kind: 'reply', content: ['?'] },
  }).start();
  try {
    const r = await runBin(['doctor', 'ai'], { env: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url, OPENAI_MODEL: 'gpt-4o-mini' }, cwd });
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /ok\s+server\s+answered; API key sent/);
    t.regex(r.stdout, /ok\s+streaming\s+\d+ chunks/);
    t.regex(r.stdout, /ok\s+tools\s+the model called ping\(\{"word":"pong"\}\)/);
    t.regex(r.stdout, /ok\s+token limit\s+max_completion_tokens is honoured/);
    t.regex(r.stdout, /OPENAI_TOOLS=auto\n/);
    t.regex(r.stdout, /OPENAI_MAX_TOKENS_PARAM=max_completion_tokens\n/);
    t.false(r.stdout.includes('sk-test'), 'the key is never printed');
    const first = fake.requests[0]!.body;
    t.true(first.stream);
    t.is(first.tools[0].function.name, 'ping');
  } finally {
    await fake.close();
  }
});

test('doctor ai: a local server that refuses tools and ignores max_completion_tokens: says which settings to use', async (t) => {
  const fake = await new FakeOpenAI({
    apiKey: null,
    fallback: (req) => {
      if (req.body.tools) return { kind: 'error', status: 400, type: 'api_error', message: 'registry.ollama.ai/library/gemma3:4b does not support tools' };
      if (req.body.max_tokens === 16) return { kind: 'reply', content: ['1 2 3 4 5 6 7 8'], finish: 'length', usage: { prompt: 20, completion: 16 } };
      return { kind: 'reply', content: Array.from({ length: 120 }, (_, i) => `${i + 1} `), usage: { prompt: 20, completion: 120 } };
    },
  }).start();
  try {
    const r = await runBin(['doctor', 'ai', '--json'], { env: { OPENAI_BASE_URL: fake.url, OPENAI_MODEL: 'gemma3:4b' }, cwd });
    t.is(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    t.false(report.keySent);
    t.is(fake.requests[0]!.headers.authorization, undefined, 'no key configured, none sent');
    t.deepEqual(report.lines.map((l: any) => [l.name, l.ok]), [['server', true], ['streaming', true], ['tools', false], ['token limit', true]]);
    t.regex(report.lines[2].detail, /does not support tools/);
    t.regex(report.lines[3].detail, /max_tokens is honoured \(max_completion_tokens is not\)/);
    t.deepEqual(report.settings, { OPENAI_BASE_URL: fake.url, OPENAI_MODEL: 'gemma3:4b', OPENAI_TOOLS: 'off', OPENAI_MAX_TOKENS_PARAM: 'max_tokens' });
  } finally {
    await fake.close();
  }
});

test('doctor ai: an unreachable server or a refused key fails with the reason; no server configured says so', async (t) => {
  const closed = await startCountingListener();
  const url = `http://127.0.0.1:${closed.port}/v1`;
  await closed.close();
  const down = await runBin(['doctor', 'ai'], { env: { OPENAI_BASE_URL: url }, cwd });
  t.is(down.code, 1);
  t.regex(down.stdout, /FAIL\s+server\s+cannot reach/);

  const fake = await new FakeOpenAI({ apiKey: 'right' }).start();
  try {
    const refused = await runBin(['doctor', 'ai'], { env: { OPENAI_API_KEY: 'wrong', OPENAI_BASE_URL: fake.url }, cwd });
    t.is(refused.code, 1);
    t.regex(refused.stdout, /FAIL\s+server\s+401: the key was refused \(check OPENAI_API_KEY\)/);
  } finally {
    await fake.close();
  }

  const offline = await runBin(['doctor', 'ai'], { env: {}, cwd });
  t.is(offline.code, 0);
  t.regex(offline.stdout, /offline assistant answers/);
});
