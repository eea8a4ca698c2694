import type OpenAI from 'openai';
import type { ChatCompletionCreateParamsStreaming, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import type { Config, ProxySettings } from '../../config.js';
import { AppError, RateLimitError, UpstreamError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { AiUsageStore } from './ai-usage-store.js';
import { createOpenAiTransport, retryAfterMs, type OpenAiTransport } from './openai-transport.js';
import type { AiProvider, GenerateRequest, GenerateResult, ToolSpec } from './provider.js';
import { ToolCallAssembler, type AssembledCall } from './tool-call-assembler.js';
import { toolFreeFacts } from './tool-free-facts.js';

export interface OpenAiSettings {
  /** Unset for a local server that needs none: then no Authorization header is sent. */
  apiKey?: string;
  baseURL?: string;
  model: string;
  timeoutMs: number;
  maxRetries: number;
  maxTokens: number;
  /** Which name the reply limit goes under: OpenAI's current one, or the older one most local servers read. */
  maxTokensParam: 'max_completion_tokens' | 'max_tokens';
  /** `off`: no tools are sent; catalog matches and checkout links reach the model in the prompt. */
  tools: 'auto' | 'off';
  /** A 429 asking for a longer wait than this is not waited out: the caller gets a 429 instead. */
  retryAfterMaxMs: number;
  proxy: ProxySettings;
}

/** The provider's settings as the configuration gives them. */
export function openAiSettings(config: Config): OpenAiSettings {
  return {
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    model: config.OPENAI_MODEL,
    timeoutMs: config.OPENAI_TIMEOUT_MS,
    maxRetries: config.OPENAI_MAX_RETRIES,
    maxTokens: config.OPENAI_MAX_TOKENS,
    maxTokensParam: config.OPENAI_MAX_TOKENS_PARAM,
    tools: config.OPENAI_TOOLS,
    retryAfterMaxMs: config.OPENAI_RETRY_AFTER_MAX_MS,
    proxy: config.proxy,
  };
}

/**
 * The SDK's client over zia's transport, as the provider and `zia doctor ai` use it. The SDK is
 * imported here, on first use, so the CLI starts without loading it.
 */
export async function createOpenAiClient(settings: OpenAiSettings, logger: Logger): Promise<{ sdk: typeof import('openai'); client: OpenAI; transport: OpenAiTransport }> {
  const sdk = await import('openai');
  const transport = await createOpenAiTransport({ proxy: settings.proxy, retryAfterMaxMs: settings.retryAfterMaxMs });
  const client = new sdk.default({
    // The SDK wants a key; without one the Authorization header is left out below.
    apiKey: settings.apiKey ?? 'none',
    baseURL: settings.baseURL ?? 'https://api.openai.com/v1',
    timeout: settings.timeoutMs,
    maxRetries: settings.maxRetries,
    fetch: transport.fetch,
    fetchOptions: { dispatcher: transport.dispatcher } as object,
    ...(settings.apiKey ? {} : { defaultHeaders: { Authorization: null } }),
    logLevel: 'warn',
    logger: {
      error: (msg: string) => logger.error(msg),
      warn: (msg: string) => logger.warn(msg),
      info: (msg: string) => logger.info(msg),
      debug: (msg: string) => logger.debug(msg),
    },
  });
  return { sdk, client, transport };
}

/** Tool rounds per turn: the last round forbids tools so a turn always ends with text. */
const MAX_ROUNDS = 4;

interface Round {
  text: string;
  toolCalls: AssembledCall[];
  tokens: number;
  /** Prompt and completion tokens, when the server reports the split. */
  input: number;
  output: number;
}

/** The tools in the request's form, made once per list of specs (the list is the same for every turn). */
const toolParamsOf = new WeakMap<readonly ToolSpec[], ChatCompletionTool[]>();
function toolParams(specs: readonly ToolSpec[]): ChatCompletionTool[] {
  let params = toolParamsOf.get(specs);
  if (!params) {
    params = specs.map((s) => ({ type: 'function' as const, function: { name: s.name, description: s.description, parameters: s.parameters } }));
    toolParamsOf.set(specs, params);
  }
  return params;
}

/** A 400 (or 422) whose message is about tools: the model or server does not take them. */
export function refusesTools(err: unknown): boolean {
  const e = err as { status?: number; message?: string; error?: { message?: string } };
  if (e?.status !== 400 && e?.status !== 422) return false;
  return /tool/i.test(`${e.message ?? ''} ${e.error?.message ?? ''}`);
}

export class OpenAiProvider implements AiProvider {
  readonly usesHistory = true;
  readonly name = 'openai' as const;
  private sdk?: typeof import('openai');
  private client?: OpenAI;
  private transport?: OpenAiTransport;
  /** Models whose server refused tools once: later turns go without them (logged once per model). */
  private readonly toolless = new Set<string>();

  constructor(
    private readonly settings: OpenAiSettings,
    private readonly usage: AiUsageStore,
    private readonly logger: Logger,
  ) {}

  private async getClient(): Promise<OpenAI> {
    if (!this.client) {
      const made = await createOpenAiClient(this.settings, this.logger);
      this.sdk = made.sdk;
      this.transport = made.transport;
      this.client = made.client;
    }
    return this.client;
  }

  async close(): Promise<void> {
    await this.transport?.close();
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const quota = req.tenant.settings.daily_token_quota;
    const day = AiUsageStore.today();
    // Under a quota a turn holds what it may spend (the prompt, about 4 characters a token, and the
    // reply's cap) before it asks, so turns at once cannot all pass a quota that only one fits in.
    const reserved = quota ? this.settings.maxTokens + Math.ceil([req.system, ...req.messages.map((m) => m.content)].join('').length / 4) : 0;
    if (quota && !(await this.usage.reserve(req.tenant.id, day, reserved, quota))) {
      const midnight = new Date(`${day}T00:00:00.000Z`).getTime() + 86_400_000;
      throw new RateLimitError("today's AI token quota for this assistant is spent", Math.ceil((midnight - Date.now()) / 1000));
    }
    const client = await this.getClient();
    const messages: ChatCompletionMessageParam[] = [{ role: 'system', content: req.system }];
    let tools = this.toolsFor(req);
    if (!tools) messages.push(...(await toolFreeFacts(req)));
    messages.push(...req.messages);
    let text = '';
    let tokens = 0;
    const usage = { input: 0, output: 0 };
    let requests = 0;
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        let r: Round;
        try {
          r = await this.round(client, messages, req, tools && round === MAX_ROUNDS - 1 ? 'none' : tools ? 'auto' : undefined);
        } catch (err) {
          if (!tools || round > 0 || !refusesTools(err)) throw err;
          // The server takes no tools (a model without tool support, vLLM without auto tool choice):
          // the turn is asked again without them, and so is every later one.
          this.toolsRefused(err);
          tools = false;
          messages.splice(1, 0, ...(await toolFreeFacts(req)));
          r = await this.round(client, messages, req, undefined);
        }
        requests++;
        text += r.text;
        tokens += r.tokens;
        usage.input += r.input;
        usage.output += r.output;
        // Calls the model makes up without having been offered tools are not run.
        if (!tools || r.toolCalls.length === 0) break;
        await this.runTools(r, messages, req);
      }
    } catch (err) {
      throw this.toAppError(err);
    } finally {
      await this.usage.add(req.tenant.id, day, tokens - reserved, { model: this.settings.model, requests, ...usage });
    }
    return { text, tokens, usage };
  }

  /** Whether this turn sends tools: not when the operator, the tenant or the server said no. */
  private toolsFor(req: GenerateRequest): boolean {
    return this.settings.tools === 'auto' && req.tenant.settings.ai_tools !== 'off' && !this.toolless.has(this.settings.model);
  }

  private toolsRefused(err: unknown): void {
    const model = this.settings.model;
    if (this.toolless.has(model)) return;
    this.toolless.add(model);
    this.logger.warn(
      { model, status: (err as { status?: number }).status, reason: describe(err) },
      'the AI server refused tools for this model; answering without them from now on (set OPENAI_TOOLS=off to skip the first attempt)',
    );
  }

  /** The round's tool calls and their results, added to the messages for the next round. */
  private async runTools(r: Round, messages: ChatCompletionMessageParam[], req: GenerateRequest): Promise<void> {
    messages.push({
      role: 'assistant',
      content: r.text || null,
      tool_calls: r.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })),
    });
    for (const call of r.toolCalls) {
      const result = await req.tools.run(call.name, call.arguments);
      messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
    }
  }

  /** The request body of one round; `toolChoice` undefined sends no tools at all. */
  private requestBody(messages: ChatCompletionMessageParam[], specs: readonly ToolSpec[], toolChoice: 'auto' | 'none' | undefined): ChatCompletionCreateParamsStreaming {
    return {
      model: this.settings.model,
      messages,
      ...(toolChoice ? { tools: toolParams(specs), tool_choice: toolChoice } : {}),
      stream: true,
      stream_options: { include_usage: true },
      [this.settings.maxTokensParam]: this.settings.maxTokens,
    };
  }

  /**
   * One request and its streamed answer, read with the SDK's own stream. The SDK retries what failed
   * before the stream started; silence after it started is cut off by the idle timer below, which
   * every chunk restarts. The round ends when the stream does: a missing finish_reason is no failure
   * (several servers leave it out), while a connection cut mid-stream is an error from the transport.
   */
  private async round(client: OpenAI, messages: ChatCompletionMessageParam[], req: GenerateRequest, toolChoice: 'auto' | 'none' | undefined): Promise<Round> {
    const stream = await client.chat.completions.create(this.requestBody(messages, req.tools.specs, toolChoice), { signal: req.signal });
    let timedOut = false;
    const idle = setTimeout(() => {
      timedOut = true;
      stream.controller.abort();
    }, this.settings.timeoutMs);
    const calls = new ToolCallAssembler();
    let text = '';
    let tokens = 0;
    let input = 0;
    let output = 0;
    try {
      for await (const chunk of stream) {
        idle.refresh();
        if (chunk.usage) {
          input = chunk.usage.prompt_tokens ?? input;
          output = chunk.usage.completion_tokens ?? output;
          tokens = chunk.usage.total_tokens ?? input + output;
        }
        const delta = chunk.choices?.[0]?.delta;
        if (!delta) continue;
        if (typeof delta.content === 'string' && delta.content !== '') {
          text += delta.content;
          req.onToken(delta.content);
        }
        calls.push(delta.tool_calls);
      }
    } catch (err) {
      throw text ? new StreamBroke(err) : err;
    } finally {
      clearTimeout(idle);
    }
    // The SDK ends the iteration quietly when the request is aborted, by the client or the idle timer.
    if (req.signal?.aborted) throw req.signal.reason ?? new Error('aborted');
    if (timedOut) throw new UpstreamError(`the AI provider did not answer within ${this.settings.timeoutMs} ms`);
    return { text, tokens, input, output, toolCalls: calls.result() };
  }

  private toAppError(err: unknown): unknown {
    if (err instanceof AppError) return err;
    const sdk = this.sdk!;
    if (err instanceof StreamBroke) return new UpstreamError('the AI provider stream broke off', { cause: describe(err.cause) });
    if (err instanceof sdk.APIConnectionTimeoutError) return new UpstreamError(`the AI provider did not answer within ${this.settings.timeoutMs} ms`);
    if (err instanceof sdk.APIUserAbortError) return err;
    if (err instanceof sdk.APIError && err.status === 429) {
      const asked = retryAfterMs(err.headers);
      if (asked !== undefined && asked > this.settings.retryAfterMaxMs) {
        return new RateLimitError('the AI provider is rate limited; try again later', Math.ceil(asked / 1000));
      }
      return new UpstreamError('the AI provider refused the request (rate limit or quota)', { status: 429 });
    }
    if (err instanceof sdk.APIError && err.status !== undefined) {
      return new UpstreamError(`the AI provider answered ${err.status}`, { status: err.status });
    }
    if (err instanceof sdk.APIError) return new UpstreamError('the AI provider reported an error in its stream', { cause: describe(err) });
    return new UpstreamError('the AI provider could not be reached', { cause: describe(err) });
  }
}

/** A stream that failed after text went out: reported as broken off, whatever broke it. */
class StreamBroke extends Error {
  constructor(override readonly cause: unknown) {
    super('stream broke');
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200);
}
