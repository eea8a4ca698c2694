import type OpenAI from 'openai';
import type { ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';
import type { Logger } from '../../logger.js';
import { createOpenAiClient, refusesTools, type OpenAiSettings } from './openai-provider.js';
import { ToolCallAssembler, type ToolCallFragment } from './tool-call-assembler.js';

/**
 * `zia doctor ai`: a tiny streamed request with one tool to the configured server, then a tiny one
 * under a small token limit, and what they show about the settings this server needs.
 */

export interface CheckLine {
  name: 'server' | 'streaming' | 'tools' | 'token limit';
  ok: boolean;
  detail: string;
}

export interface AiCheckReport {
  baseURL: string;
  model: string;
  keySent: boolean;
  proxy?: string;
  lines: CheckLine[];
  /** The settings to use with this server, as environment variables. */
  settings: Record<string, string>;
  /** Streaming replies work, which is what zia needs to answer at all. */
  ok: boolean;
}

type Param = OpenAiSettings['maxTokensParam'];
const OTHER: Record<Param, Param> = { max_completion_tokens: 'max_tokens', max_tokens: 'max_completion_tokens' };
const LIMIT = 16;
const PING = {
  type: 'function' as const,
  function: { name: 'ping', description: 'Answers pong. Call it when asked to.', parameters: { type: 'object', properties: { word: { type: 'string' } }, required: ['word'] } },
};

interface Streamed {
  chunks: number;
  firstChunkMs: number;
  text: string;
  calls: ReturnType<ToolCallAssembler['result']>;
  withoutIndex: boolean;
  finish?: string;
  completionTokens?: number;
}

async function stream(client: OpenAI, body: ChatCompletionCreateParamsStreaming): Promise<Streamed> {
  const started = performance.now();
  const s = await client.chat.completions.create(body);
  const out: Streamed = { chunks: 0, firstChunkMs: 0, text: '', calls: [], withoutIndex: false };
  const calls = new ToolCallAssembler();
  for await (const chunk of s) {
    if (out.chunks++ === 0) out.firstChunkMs = performance.now() - started;
    if (chunk.usage?.completion_tokens !== undefined) out.completionTokens = chunk.usage.completion_tokens;
    const choice = chunk.choices?.[0];
    if (choice?.finish_reason) out.finish = choice.finish_reason;
    if (typeof choice?.delta?.content === 'string') out.text += choice.delta.content;
    const fragments = (choice?.delta?.tool_calls ?? []) as ToolCallFragment[];
    if (fragments.some((f) => typeof f.index !== 'number')) out.withoutIndex = true;
    calls.push(fragments);
  }
  out.calls = calls.result();
  return out;
}

function explain(err: unknown, settings: OpenAiSettings): string {
  const e = err as { status?: number; message?: string };
  const message = (e.message ?? String(err)).split('\n')[0]!.replace(/^\d{3} /, '').slice(0, 160);
  if (e.status === 401 || e.status === 403) return `${e.status}: the key was refused (${settings.apiKey ? 'check OPENAI_API_KEY' : 'this server wants OPENAI_API_KEY'})`;
  if (e.status === 404) return `404: no such model or path (check OPENAI_MODEL, and that OPENAI_BASE_URL ends in /v1): ${message}`;
  if (e.status !== undefined) return `${e.status}: ${message}`;
  return `cannot reach ${settings.baseURL ?? 'the API'}: ${message}`;
}

function mentionsParam(err: unknown, param: Param): boolean {
  const e = err as { status?: number; message?: string };
  return (e.status === 400 || e.status === 422) && (e.message ?? '').includes(param);
}

export async function checkAi(settings: OpenAiSettings, logger: Logger): Promise<AiCheckReport> {
  // One attempt, and no long wait: the operator is looking at the screen.
  const { client, transport } = await createOpenAiClient({ ...settings, maxRetries: 0, timeoutMs: Math.min(settings.timeoutMs, 30_000) }, logger);
  const report: AiCheckReport = {
    baseURL: settings.baseURL ?? 'https://api.openai.com/v1',
    model: settings.model,
    keySent: Boolean(settings.apiKey),
    proxy: settings.proxy.https ?? settings.proxy.http,
    lines: [],
    settings: {},
    ok: false,
  };
  let param = settings.maxTokensParam;
  let tools: 'auto' | 'off' = 'auto';
  const body = (withTools: boolean, limit: number, prompt: string): ChatCompletionCreateParamsStreaming => ({
    model: settings.model,
    messages: [{ role: 'system', content: 'This is a connection check.' }, { role: 'user', content: prompt }],
    ...(withTools ? { tools: [PING], tool_choice: 'auto' as const } : {}),
    stream: true,
    stream_options: { include_usage: true },
    [param]: limit,
  });
  try {
    let first: Streamed | undefined;
    for (let attempt = 0; attempt < 3 && !first; attempt++) {
      try {
        first = await stream(client, body(tools === 'auto', 64, 'Call the ping tool with the word "pong".'));
      } catch (err) {
        if (tools === 'auto' && refusesTools(err)) {
          tools = 'off';
          report.lines.push({ name: 'tools', ok: false, detail: `refused by the server (${explain(err, settings)}); zia answers without them` });
        } else if (mentionsParam(err, param)) {
          param = OTHER[param];
        } else {
          report.lines.unshift({ name: 'server', ok: false, detail: explain(err, settings) });
          return report;
        }
      }
    }
    if (!first) return report;
    report.lines.unshift({ name: 'server', ok: true, detail: `answered; ${report.keySent ? 'API key sent' : 'no API key sent'}${report.proxy ? `, through ${report.proxy}` : ''}` });
    report.lines.splice(1, 0, {
      name: 'streaming',
      ok: first.chunks > 0,
      detail: `${first.chunks} chunks, the first after ${Math.round(first.firstChunkMs)} ms${first.finish ? '' : ', no finish_reason (zia copes)'}`,
    });
    if (tools === 'auto') {
      const call = first.calls[0];
      report.lines.push(
        call
          ? { name: 'tools', ok: true, detail: `the model called ${call.name}(${call.arguments.slice(0, 40)})${first.withoutIndex ? ' without index (zia copes)' : ''}` }
          : { name: 'tools', ok: false, detail: 'accepted, but the model did not call the tool; a model with tool support answers catalog and checkout questions better (or OPENAI_TOOLS=off)' },
      );
      if (!call) tools = 'off';
    }
    report.ok = first.chunks > 0;
    const limit = await tokenLimit(client, (p) => ((param = p), body(false, LIMIT, 'Count from 1 to 200, separated by spaces.')), param);
    report.lines.push(limit.line);
    report.settings = {
      OPENAI_BASE_URL: report.baseURL,
      OPENAI_MODEL: settings.model,
      OPENAI_TOOLS: tools,
      OPENAI_MAX_TOKENS_PARAM: limit.works ?? settings.maxTokensParam,
    };
    return report;
  } finally {
    await transport.close();
  }
}

/** Whether a small limit under this name ends the reply early; if not, whether the other name does. */
async function tokenLimit(client: OpenAI, body: (p: Param) => ChatCompletionCreateParamsStreaming, configured: Param): Promise<{ line: CheckLine; works?: Param }> {
  const held = async (p: Param): Promise<boolean | undefined> => {
    try {
      const r = await stream(client, body(p));
      const tokens = r.completionTokens ?? Math.ceil(r.text.length / 4);
      return r.finish === 'length' || tokens <= LIMIT * 1.5;
    } catch {
      return undefined;
    }
  };
  if (await held(configured)) return { works: configured, line: { name: 'token limit', ok: true, detail: `${configured} is honoured` } };
  const other = OTHER[configured];
  if (await held(other)) return { works: other, line: { name: 'token limit', ok: true, detail: `${other} is honoured (${configured} is not)` } };
  return { line: { name: 'token limit', ok: false, detail: 'neither max_completion_tokens nor max_tokens limited the reply; OPENAI_MAX_TOKENS has no effect on this server' } };
}
