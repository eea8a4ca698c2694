import type OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { AppError, RateLimitError, UpstreamError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { AiUsageStore } from './ai-usage-store.js';
import { createLeanFetch } from './lean-fetch.js';
import type { AiProvider, GenerateRequest, GenerateResult, ToolSpec } from './provider.js';
import { SseEvents } from './sse-events.js';

export interface OpenAiSettings {
  apiKey: string;
  baseURL?: string;
  model: string;
  timeoutMs: number;
  maxRetries: number;
  maxTokens: number;
  /** A 429 asking for a longer wait than this is not waited out: the caller gets a 429 instead. */
  retryAfterMaxMs: number;
}

/** Tool rounds per turn: the last round forbids tools so a turn always ends with text. */
const MAX_ROUNDS = 4;

interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

interface Round {
  text: string;
  toolCalls: ToolCall[];
  tokens: number;
}

/**
 * A round's answer put together from the pieces of a streamed chat completion: text relayed as it comes,
 * tool calls assembled by index, usage, whether it finished. Kept apart from the loop that reads the
 * response, so that the loop's frame, which lives as long as the stream, stays small.
 */
class RoundReader {
  text = '';
  tokens = 0;
  /** A finish_reason arrived. */
  finished = false;
  /** Text went out to the client: the round can no longer be retried. */
  started = false;
  private readonly calls: ToolCall[] = [];
  private readonly sse = new SseEvents();
  /** Only for a fetch that hands over bytes; lean fetch's chunks are text already. */
  private decoder?: TextDecoder;
  private done = false;

  constructor(
    private readonly onToken: (text: string) => void,
    /** The error for an error object sent inside the stream, after a 200 (as the SDK's reader reports it). */
    private readonly streamError: (error: object) => Error,
  ) {}

  push(piece: string | Uint8Array): void {
    const text = typeof piece === 'string' ? piece : (this.decoder ??= new TextDecoder()).decode(piece, { stream: true });
    for (const { data } of this.sse.push(text)) this.data(data);
  }

  private data(data: string): void {
    if (this.done) return;
    if (data.startsWith('[DONE]')) {
      this.done = true;
      return;
    }
    const chunk = JSON.parse(data) as ChatCompletionChunk & { error?: object };
    if (chunk?.error) throw this.streamError(chunk.error);
    if (chunk.usage) this.tokens = chunk.usage.total_tokens ?? 0;
    const choice = chunk.choices?.[0];
    if (!choice) return;
    if (choice.finish_reason) this.finished = true;
    const delta = choice.delta ?? {};
    if (delta.content) {
      this.started = true;
      this.text += delta.content;
      this.onToken(delta.content);
    }
    for (const tc of delta.tool_calls ?? []) {
      // id and name arrive in the first fragment of each index; arguments are split anywhere.
      const call = (this.calls[tc.index] ??= { id: '', name: '', arguments: '' });
      if (tc.id) call.id = tc.id;
      if (tc.function?.name) call.name += tc.function.name;
      if (tc.function?.arguments) call.arguments += tc.function.arguments;
    }
  }

  result(): Round {
    return { text: this.text, tokens: this.tokens, toolCalls: this.calls.filter((c) => c && c.name).map((c, i) => ({ ...c, id: c.id || `call_${i}` })) };
  }
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

/** Raised when a stream broke after tokens were relayed: it cannot be retried without repeating them. */
class BrokenStream extends Error {
  constructor(override readonly cause: unknown) {
    super('stream broke');
  }
}

export class OpenAiProvider implements AiProvider {
  readonly usesHistory = true;
  readonly name = 'openai' as const;
  private sdk?: typeof import('openai');
  private client?: OpenAI;

  constructor(
    private readonly settings: OpenAiSettings,
    private readonly usage: AiUsageStore,
    private readonly logger: Logger,
  ) {}

  private async getClient(): Promise<OpenAI> {
    if (!this.client) {
      // Imported on first use so the CLI starts without loading the SDK.
      this.sdk = await import('openai');
      // Retries are ours (capped retry-after, never after a stream started), so the SDK's are off.
      this.client = new this.sdk.default({
        apiKey: this.settings.apiKey,
        baseURL: this.settings.baseURL,
        timeout: this.settings.timeoutMs,
        maxRetries: 0,
        fetch: createLeanFetch(),
      });
    }
    return this.client;
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const quota = req.tenant.settings.daily_token_quota;
    const day = AiUsageStore.today();
    if (quota && (await this.usage.tokens(req.tenant.id, day)) >= quota) {
      const midnight = new Date(`${day}T00:00:00.000Z`).getTime() + 86_400_000;
      throw new RateLimitError("today's AI token quota for this assistant is spent", Math.ceil((midnight - Date.now()) / 1000));
    }
    const client = await this.getClient();
    const messages: ChatCompletionMessageParam[] = [{ role: 'system', content: req.system }, ...req.messages];
    let text = '';
    let tokens = 0;
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const r = await this.roundWithRetries(client, messages, req, round === MAX_ROUNDS - 1);
        text += r.text;
        tokens += r.tokens;
        if (r.toolCalls.length === 0) break;
        await this.runTools(r, messages, req);
      }
    } finally {
      await this.usage.add(req.tenant.id, day, tokens);
    }
    return { text, tokens };
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

  /**
   * A round, again after a failure worth retrying. A chain of promises rather than an awaiting loop: an
   * open stream would otherwise keep this frame, as well as round's, for its whole life.
   */
  private roundWithRetries(client: OpenAI, messages: ChatCompletionMessageParam[], req: GenerateRequest, last: boolean, attempt = 0): Promise<Round> {
    return this.round(client, messages, req, last).catch(async (err: unknown) => {
      if (req.signal?.aborted) throw err;
      if (err instanceof BrokenStream) throw new UpstreamError('the AI provider stream broke off', { cause: describe(err.cause) });
      const delay = this.retryDelay(err, attempt);
      if (delay === undefined || attempt >= this.settings.maxRetries) throw this.toAppError(err);
      this.logger.warn({ attempt: attempt + 1, delay_ms: delay, status: (err as { status?: number }).status }, 'AI provider request failed, retrying');
      await sleep(delay, req.signal);
      return this.roundWithRetries(client, messages, req, last, attempt + 1);
    });
  }

  /**
   * One request and its streamed answer. The SDK builds and sends the request and turns an error status
   * into its APIError; the stream itself is read here (asResponse), from the text chunks of lean fetch:
   * the SDK's own reader stacks seven async generators and a byte decoder per open stream, and per chunk
   * it copies the text to bytes and back (a quarter of what a relayed token allocated).
   */
  private async round(client: OpenAI, messages: ChatCompletionMessageParam[], req: GenerateRequest, last: boolean): Promise<Round> {
    // The turn's signal goes to the SDK as it is: a client that goes away aborts the request. Silence is
    // cut off by the SDK's timeout until the response starts, then by the idle timer below, which every
    // chunk restarts and which closes the response. (No controller of our own per attempt: with
    // thousands of streams held open, each is an AbortSignal, its listeners and maps.)
    let idle: NodeJS.Timeout | undefined;
    let timedOut = false;
    let reader: RoundReader | undefined;
    try {
      const response = await client.chat.completions
        .create(
          {
            model: this.settings.model,
            messages,
            tools: toolParams(req.tools.specs),
            tool_choice: last ? 'none' : 'auto',
            stream: true,
            stream_options: { include_usage: true },
            max_completion_tokens: this.settings.maxTokens,
          },
          { signal: req.signal },
        )
        .asResponse();
      const body = response.body as unknown as AsyncIterableIterator<string | Uint8Array> | null;
      if (!body) throw new UpstreamError('the AI provider answered without a body');
      idle = setTimeout(() => {
        timedOut = true;
        void body.return?.();
      }, this.settings.timeoutMs);
      reader = new RoundReader(req.onToken, (error) => new this.sdk!.APIError(undefined, error, undefined, response.headers));
      for await (const piece of body) {
        idle.refresh();
        reader.push(piece);
      }
      // A connection cut before finish_reason can end the iteration quietly; it is still a failure.
      if (!reader.finished) throw new UpstreamError('the AI provider stream ended before the reply was finished');
      return reader.result();
    } catch (err) {
      if ((timedOut || err instanceof this.sdk!.APIConnectionTimeoutError) && !req.signal?.aborted) {
        const timeout = new UpstreamError(`the AI provider did not answer within ${this.settings.timeoutMs} ms`);
        throw reader?.started ? new BrokenStream(timeout) : timeout;
      }
      throw reader?.started ? new BrokenStream(err) : err;
    } finally {
      clearTimeout(idle);
    }
  }

  /** Milliseconds to wait before retrying, or undefined when the error is not worth retrying. */
  private retryDelay(err: unknown, attempt: number): number | undefined {
    const sdk = this.sdk!;
    const backoff = Math.min(8000, 500 * 2 ** attempt) * (1 - Math.random() * 0.25);
    if (err instanceof UpstreamError) return backoff; // our own idle timeout
    if (err instanceof sdk.APIConnectionError) return backoff;
    if (!(err instanceof sdk.APIError) || err.status === undefined) return undefined;
    const should = err.headers?.get('x-should-retry');
    if (should === 'false') return undefined;
    if (err.status === 429 && (err.code === 'insufficient_quota' || (err.error as { type?: string } | undefined)?.type === 'insufficient_quota')) return undefined;
    if (should !== 'true' && ![408, 409, 429].includes(err.status) && err.status < 500) return undefined;
    const asked = retryAfterMs(err.headers);
    if (asked !== undefined) return asked > this.settings.retryAfterMaxMs ? undefined : asked;
    return backoff;
  }

  private toAppError(err: unknown): unknown {
    if (err instanceof AppError) return err;
    const sdk = this.sdk!;
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
    return new UpstreamError('the AI provider could not be reached', { cause: describe(err) });
  }
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const after = headers?.get('retry-after');
  if (!after) return undefined;
  if (/^\d+(\.\d+)?$/.test(after.trim())) return Number(after) * 1000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
