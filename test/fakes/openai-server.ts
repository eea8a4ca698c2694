import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { stubEmbedding } from './embedding-stub.js';

/**
 * A small OpenAI-compatible Chat Completions server on 127.0.0.1. It checks requests the way the real
 * API does (bearer key, JSON body, model, messages, tool messages answering an assistant tool call),
 * streams chunks in the wire order of the real API, and can be told to fail in the ways the real one
 * does: 429 with retry-after, 5xx, a stall before the first byte, a dropped connection mid-stream.
 */

export interface FakeToolCall {
  id?: string;
  name: string;
  /** The arguments JSON, split into the fragments it is streamed in. */
  arguments: string[];
}

export type Behaviour =
  | { kind: 'reply'; content?: string[]; toolCalls?: FakeToolCall[]; usage?: { prompt: number; completion: number }; finish?: 'stop' | 'length'; delayMs?: number }
  | { kind: 'error'; status: number; type?: string; code?: string; message?: string; headers?: Record<string, string> }
  /** Accepts the request and never answers. */
  | { kind: 'stall' }
  /** Streams these fragments, then destroys the connection without finishing. */
  | { kind: 'drop'; content: string[] }
  /** Streams these fragments, then keeps the stream open until the client goes away. */
  | { kind: 'hold'; content: string[] }
  /** Streams these fragments, then an error object in the stream (as OpenAI reports a failure after a 200), and ends. */
  | { kind: 'streamError'; content: string[]; type: string; message: string }
  /**
   * A recorded response replayed byte for byte (a stream fixture or an error body), written in pieces
   * of `pieceBytes` (default 29) so that events and lines arrive split as they do over a network.
   */
  | { kind: 'raw'; status?: number; headers?: Record<string, string>; body: string; pieceBytes?: number };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
  receivedAt: number;
  /**
   * Milliseconds from the request's arrival (body read) to the first content fragment written: the
   * upstream's own time to first token, measured on the fake's clock. Undefined until one is written.
   */
  firstContentMs?: number;
  /** When the client closed the connection before the response ended; undefined otherwise. */
  closedEarlyAt?: number;
  /** Resolves when the response ends or the connection closes, whichever comes first. */
  settled: Promise<void>;
}

export interface FakeOpenAiOptions {
  /** The bearer key to require; null for a server that takes requests without one (Ollama, llama.cpp…). */
  apiKey?: string | null;
  /** Used when the queue is empty. */
  fallback?: (req: RecordedRequest) => Behaviour;
  /** Milliseconds between streamed chunks (0 = as fast as possible). */
  chunkDelayMs?: number;
  /** Milliseconds before the first chunk of a stream, as a model thinks before its first token. */
  firstChunkDelayMs?: number;
  /** In 'hold' mode, one more fragment this often (ms) until the client goes away; 0 = silent. */
  holdEveryMs?: number;
  /** Called once per request when its first content fragment is written (after firstContentMs is set). */
  onFirstContent?: (req: RecordedRequest) => void;
}

const ROLE_OK = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

export class FakeOpenAI {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: Behaviour[] = [];
  private readonly sockets = new Set<Socket>();
  private server?: Server;
  private port = 0;
  private seq = 0;

  constructor(private readonly options: FakeOpenAiOptions = {}) {}

  get apiKey(): string | null {
    return this.options.apiKey === undefined ? 'test' : this.options.apiKey;
  }

  /** The base URL to give the SDK (it includes /v1, as the real one does). */
  get url(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Behaviours for the next requests, in order. */
  enqueue(...behaviours: Behaviour[]): this {
    this.queue.push(...behaviours);
    return this;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const arrived = performance.now();
    let settle!: () => void;
    const rec: RecordedRequest = {
      method: req.method ?? '',
      path: (req.url ?? '').split('?')[0]!,
      headers: req.headers,
      body: undefined,
      receivedAt: Date.now(),
      settled: new Promise<void>((r) => (settle = r)),
    };
    res.on('close', () => {
      if (!res.writableFinished) rec.closedEarlyAt = Date.now();
      settle();
    });
    try {
      rec.body = raw ? JSON.parse(raw) : undefined;
    } catch {
      rec.body = raw;
    }
    this.requests.push(rec);

    if (rec.method === 'POST' && rec.path === '/v1/embeddings') return this.embeddings(req, res, rec);
    if (rec.method !== 'POST' || rec.path !== '/v1/chat/completions') {
      return this.error(res, { kind: 'error', status: 404, type: 'invalid_request_error', message: `Unknown request URL: ${rec.method} ${rec.path}` });
    }
    if (this.apiKey !== null && req.headers.authorization !== `Bearer ${this.apiKey}`) {
      return this.error(res, { kind: 'error', status: 401, type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' });
    }
    const problem = validate(rec.body);
    if (problem) return this.error(res, { kind: 'error', status: 400, type: 'invalid_request_error', message: problem });

    const behaviour = this.queue.shift() ?? this.options.fallback?.(rec) ?? { kind: 'reply', content: ['OK'] };
    switch (behaviour.kind) {
      case 'error':
        return this.error(res, behaviour);
      case 'stall':
        return; // the socket stays open until the client or close() ends it
      case 'reply':
        if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
        return rec.body.stream ? this.stream(res, rec, arrived, behaviour) : this.plain(res, rec.body, behaviour);
      case 'drop':
      case 'hold':
      case 'streamError':
        return this.partial(res, rec, arrived, behaviour);
      case 'raw':
        return this.raw(res, behaviour);
    }
  }

  private async raw(res: ServerResponse, b: Extract<Behaviour, { kind: 'raw' }>): Promise<void> {
    const status = b.status ?? 200;
    const type = status === 200 ? 'text/event-stream' : 'application/json';
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache', ...(b.headers ?? {}) });
    const bytes = Buffer.from(b.body, 'utf8');
    const step = b.pieceBytes ?? 29;
    for (let i = 0; i < bytes.length && !res.destroyed; i += step) {
      res.write(bytes.subarray(i, i + step));
      await new Promise((r) => setImmediate(r));
    }
    res.end();
  }

  /**
   * The Embeddings API (platform.openai.com/docs/api-reference/embeddings/create): `input` a string or
   * an array of strings, `encoding_format` float (arrays) or base64 (little-endian float32), one item
   * per input with its `index`. Vectors come from stubEmbedding.
   */
  private embeddings(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): void {
    if (this.apiKey !== null && req.headers.authorization !== `Bearer ${this.apiKey}`) {
      return this.error(res, { kind: 'error', status: 401, type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' });
    }
    const body = rec.body;
    const inputs: unknown[] = typeof body?.input === 'string' ? [body.input] : Array.isArray(body?.input) ? body.input : [];
    if (typeof body?.model !== 'string' || !body.model) return this.error(res, { kind: 'error', status: 400, type: 'invalid_request_error', message: "you must provide a model parameter" });
    if (inputs.length === 0 || inputs.some((i) => typeof i !== 'string' || i.length === 0)) {
      return this.error(res, { kind: 'error', status: 400, type: 'invalid_request_error', message: "'input' must be a non-empty string or array of non-empty strings" });
    }
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') return this.error(res, { kind: 'error', status: 400, type: 'invalid_request_error', message: "'encoding_format' must be float or base64" });
    const data = (inputs as string[]).map((text, index) => {
      const v = stubEmbedding(text);
      return { object: 'embedding', index, embedding: format === 'float' ? v : Buffer.from(Float32Array.from(v).buffer).toString('base64') };
    });
    const tokens = (inputs as string[]).reduce((n, t) => n + Math.ceil(t.length / 4), 0);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }));
  }

  private error(res: ServerResponse, b: Extract<Behaviour, { kind: 'error' }>): void {
    res.writeHead(b.status, { 'content-type': 'application/json', ...(b.headers ?? {}) });
    res.end(JSON.stringify({ error: { message: b.message ?? `error ${b.status}`, type: b.type ?? (b.status >= 500 ? 'server_error' : 'invalid_request_error'), param: null, code: b.code ?? null } }));
  }

  private base(body: any) {
    return { id: `chatcmpl-fake${++this.seq}`, created: Math.floor(Date.now() / 1000), model: body.model, system_fingerprint: 'fp_fake' };
  }

  private plain(res: ServerResponse, body: any, b: Extract<Behaviour, { kind: 'reply' }>): void {
    const toolCalls = (b.toolCalls ?? []).map((c, i) => ({ id: c.id ?? `call_${i + 1}`, type: 'function', function: { name: c.name, arguments: c.arguments.join('') } }));
    const usage = usageOf(b);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        ...this.base(body),
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: b.content ? b.content.join('') : null, refusal: null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
            finish_reason: toolCalls.length ? 'tool_calls' : (b.finish ?? 'stop'),
            logprobs: null,
          },
        ],
        usage,
      }),
    );
  }

  private async stream(res: ServerResponse, rec: RecordedRequest, arrived: number, b: Extract<Behaviour, { kind: 'reply' }>): Promise<void> {
    const body = rec.body;
    const base = this.base(body);
    const send = this.sender(res, base, rec, arrived);
    if (this.options.firstChunkDelayMs) await new Promise((r) => setTimeout(r, this.options.firstChunkDelayMs));
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    await send({ role: 'assistant', content: '', refusal: null });
    for (const c of b.content ?? []) await send({ content: c });
    for (const [index, call] of (b.toolCalls ?? []).entries()) {
      // The first fragment names the call; later ones carry only the index and more arguments.
      await send({ tool_calls: [{ index, id: call.id ?? `call_${index + 1}`, type: 'function', function: { name: call.name, arguments: '' } }] });
      for (const a of call.arguments) await send({ tool_calls: [{ index, function: { arguments: a } }] });
    }
    const finish = b.toolCalls?.length ? 'tool_calls' : (b.finish ?? 'stop');
    await send({}, finish);
    if (body.stream_options?.include_usage) this.write(res, { ...base, object: 'chat.completion.chunk', choices: [], usage: usageOf(b) });
    if (!res.writableEnded) res.end('data: [DONE]\n\n');
  }

  private async partial(res: ServerResponse, rec: RecordedRequest, arrived: number, b: Extract<Behaviour, { kind: 'drop' | 'hold' | 'streamError' }>): Promise<void> {
    const send = this.sender(res, this.base(rec.body), rec, arrived);
    if (this.options.firstChunkDelayMs) await new Promise((r) => setTimeout(r, this.options.firstChunkDelayMs));
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    await send({ role: 'assistant', content: '' });
    for (const c of b.content) await send({ content: c });
    if (b.kind === 'streamError') {
      this.write(res, { error: { message: b.message, type: b.type, param: null, code: null } });
      res.end();
      return;
    }
    if (b.kind === 'drop') {
      // Let the fragments reach the client first, then cut the connection as a crashed server would.
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
    }
    // 'hold': the client decides when it is over; meanwhile an occasional fragment, if asked for.
    if (b.kind === 'hold' && this.options.holdEveryMs) {
      const tick = setInterval(() => void send({ content: '.' }), this.options.holdEveryMs);
      res.on('close', () => clearInterval(tick));
    }
  }

  private sender(res: ServerResponse, base: Record<string, unknown>, rec: RecordedRequest, arrived: number) {
    return async (delta: Record<string, unknown>, finish: string | null = null) => {
      if (this.options.chunkDelayMs) await new Promise((r) => setTimeout(r, this.options.chunkDelayMs));
      this.write(res, { ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }], usage: null });
      if (rec.firstContentMs === undefined && typeof delta.content === 'string' && delta.content !== '' && !res.destroyed) {
        rec.firstContentMs = performance.now() - arrived;
        this.options.onFirstContent?.(rec);
      }
    };
  }

  private write(res: ServerResponse, chunk: unknown): void {
    if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }
}

function usageOf(b: { usage?: { prompt: number; completion: number } }) {
  const prompt = b.usage?.prompt ?? 10;
  const completion = b.usage?.completion ?? 5;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** The checks the real API makes before it generates anything; the message names what is wrong. */
function validate(body: any): string | undefined {
  if (!body || typeof body !== 'object') return 'We could not parse the JSON body of your request.';
  if (typeof body.model !== 'string' || !body.model) return "you must provide a model parameter";
  if (!Array.isArray(body.messages) || body.messages.length === 0) return "'messages' must be a non-empty array";
  if (body.max_completion_tokens !== undefined && !(Number.isInteger(body.max_completion_tokens) && body.max_completion_tokens > 0)) {
    return "'max_completion_tokens' must be a positive integer";
  }
  if (body.max_tokens !== undefined && !(Number.isInteger(body.max_tokens) && body.max_tokens > 0)) return "'max_tokens' must be a positive integer";
  if (body.stream_options !== undefined && body.stream !== true) return "The 'stream_options' parameter is only allowed when 'stream' is enabled.";
  const pending = new Set<string>();
  for (const [i, m] of body.messages.entries()) {
    if (!m || !ROLE_OK.has(m.role)) return `Invalid value for 'messages[${i}].role'`;
    if (m.role === 'tool') {
      if (!pending.has(m.tool_call_id)) {
        return `Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.`;
      }
      pending.delete(m.tool_call_id);
      if (typeof m.content !== 'string') return `Invalid type for 'messages[${i}].content'`;
      continue;
    }
    if (pending.size > 0) return `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'.`;
    if (m.role === 'assistant' && Array.isArray(m.tool_calls)) {
      for (const c of m.tool_calls) pending.add(c.id);
    } else if (typeof m.content !== 'string' && !(m.role === 'assistant' && m.content === null)) {
      return `Invalid type for 'messages[${i}].content'`;
    }
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return "'tools' must be an array";
    for (const t of body.tools) if (t?.type !== 'function' || typeof t.function?.name !== 'string') return "Invalid 'tools' entry";
  }
  return undefined;
}
