import http from 'node:http';
import https from 'node:https';

/**
 * A fetch for the OpenAI SDK over node:http. The SDK's default (undici's fetch) costs ~40 KB more per
 * open stream than a plain node:http request; with thousands of chat streams held open that is most of
 * the memory. Only what the SDK uses is supported: a string or buffer body, headers, the abort signal,
 * a streamed response body. Aborting destroys the request and its socket, before or after the headers.
 *
 * What stays reachable while a stream is open is kept small on purpose: no web ReadableStream around
 * the body, headers read from node's raw list instead of copied into a Headers, the request's header
 * block flushed apart from the body so that it is written out, and so flattened, on its own (node keeps
 * it for the life of the request; built by concatenation it is a tree of ~50 pieces; joined to the body
 * it stays one), and no closure holding the request body or the caller's init.
 */
export type LeanFetch = (url: string | URL | Request, init?: RequestInit) => Promise<Response>;

type Agents = { 'http:': http.Agent; 'https:': https.Agent };

export function createLeanFetch(): LeanFetch {
  // Keep-alive: a new round of a turn (or the next turn) reuses a connection instead of a handshake.
  const agents: Agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
  return async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const body = requestBody(init.body);
    return send(agents, url, init.method ?? 'GET', requestHeaders(url, init.headers, body), body, init.signal ?? undefined);
  };
}

function requestBody(body: BodyInit | null | undefined): string | Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  // Uploads (FormData, streams) are not something the chat path sends.
  throw new TypeError('lean fetch: unsupported request body');
}

/** Name, value, name, value…: node:http takes that list as it is, without keeping a header object. */
function requestHeaders(url: URL, headers: HeadersInit | undefined, body: string | Uint8Array | undefined): string[] {
  const list = ['host', url.host];
  (headers instanceof Headers ? headers : new Headers(headers)).forEach((value, name) => {
    if (name !== 'host' && name !== 'content-length') list.push(name, value);
  });
  if (body !== undefined) list.push('content-length', String(Buffer.byteLength(body)));
  return list;
}

/**
 * Options as node:http takes them, with only what the request needs: given a URL, node copies a dozen
 * of its parts (href, search, hash…) into the options object the agent keeps with the socket.
 */
function requestOptions(url: URL, method: string, headers: string[], agent: http.Agent): http.RequestOptions {
  const options: http.RequestOptions = {
    protocol: url.protocol,
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    path: `${url.pathname}${url.search}`,
    method,
    headers,
    agent,
  };
  if (url.username || url.password) options.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return options;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function send(agents: Agents, url: URL, method: string, headers: string[], body: string | Uint8Array | undefined, signal: AbortSignal | undefined): Promise<Response> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const transport = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!transport) return Promise.reject(new TypeError(`lean fetch: unsupported protocol ${url.protocol}`));
  const req = transport.request(requestOptions(url, method, headers, agents[url.protocol as keyof Agents]));
  // The request wrote its header block in its constructor. The agent keeps the options for the life of
  // the socket (its listeners refer to them), so the list is emptied rather than kept with them.
  headers.length = 0;
  const href = url.href;
  const response = new Promise<Response>((resolve, reject) => {
    let res: http.IncomingMessage | undefined;
    const onAbort = () => {
      const reason = abortError(signal!);
      // Before the headers the promise rejects; after, the body stream errors.
      if (res) res.destroy(reason as Error);
      req.destroy(reason as Error);
      reject(reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    req.on('error', (err) => {
      done();
      reject(err);
    });
    req.on('response', (incoming) => {
      res = incoming;
      incoming.on('close', done);
      const status = incoming.statusCode ?? 500;
      const empty = status === 204 || status === 304 || method === 'HEAD';
      if (empty) incoming.resume();
      const headers = new RawHeaders(incoming.rawHeaders);
      resolve(new NodeResponse(status, incoming.statusMessage ?? '', headers, href, empty ? null : new TextChunks(incoming)) as unknown as Response);
    });
  });
  req.flushHeaders();
  req.end(body);
  return response;
}

/**
 * A response body as the provider reads it: an async iterator of its chunks, as text, in order. Text,
 * not buffers: the reader may hold the last chunk until the next one arrives (minutes, on a quiet
 * stream), and a buffer can be a slice of node's shared pool that pins its 8 KB slab. Fed by 'data'
 * events, with a short queue that pauses the response when the reader lags; node's own stream iterator
 * would add an end-of-stream watcher (seven listeners and their closures) and a promise per chunk to
 * every open stream. Returning early (the reader cancelling) destroys the response and its socket; an
 * error or a destroy ends the iteration with that error. A class: its methods are shared, where
 * closures would be made again for every stream.
 */
export class TextChunks implements AsyncIterableIterator<string> {
  private readonly queue: string[] = [];
  private ended = false;
  private failure: { error: unknown } | undefined;
  private waiting: { resolve(result: IteratorResult<string>): void; reject(error: unknown): void } | undefined;

  constructor(private readonly body: http.IncomingMessage) {
    body.setEncoding('utf8');
    body.on('data', (chunk: string) => {
      this.queue.push(chunk);
      if (this.queue.length >= 16) body.pause();
      this.settle();
    });
    body.on('end', () => {
      this.ended = true;
      this.settle();
    });
    body.on('error', (error) => {
      this.failure ??= { error };
      this.settle();
    });
    body.on('close', () => {
      if (!this.ended) this.failure ??= { error: new Error('the response was closed before it ended') };
      this.settle();
    });
  }

  next(): Promise<IteratorResult<string>> {
    return new Promise<IteratorResult<string>>((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.settle();
      if (this.waiting && this.body.isPaused()) this.body.resume();
    });
  }

  async return(): Promise<IteratorResult<string>> {
    this.ended = true;
    this.queue.length = 0;
    this.body.destroy();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<string> {
    return this;
  }

  private settle(): void {
    const w = this.waiting;
    if (!w) return;
    if (this.queue.length > 0) w.resolve({ value: this.queue.shift()!, done: false });
    else if (this.failure) w.reject(this.failure.error);
    else if (this.ended) w.resolve({ value: undefined, done: true });
    else return;
    this.waiting = undefined;
  }
}

/**
 * The response handed to the SDK: status, headers, text() and json() as in fetch's Response, and the
 * body as an async iterator of its chunks. The SDK reads any async-iterable body of bytes or text (as it
 * does node-fetch's, a Node stream) and cancels one through its iterator; a web ReadableStream around
 * it would add a stream, its controller, reader and queue to every open chat stream.
 */
export class NodeResponse {
  readonly ok: boolean;
  readonly redirected = false;

  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly headers: Headers,
    readonly url: string,
    readonly body: AsyncIterable<Uint8Array | string> | null,
  ) {
    this.ok = status >= 200 && status < 300;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const chunks: Uint8Array[] = [];
    if (this.body) for await (const chunk of this.body) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    const all = Buffer.concat(chunks);
    return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  }

  async text(): Promise<string> {
    return new TextDecoder().decode(await this.arrayBuffer());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}

/**
 * A response's headers, read from node's raw list (name, value, name, value…, which the response keeps
 * anyway) instead of copied into a Headers and its maps. Read-only, as a fetch Response's are; names
 * are matched without case, repeated headers joined with ", ", and iteration is sorted by lower-case
 * name with set-cookie values kept apart, as Headers does.
 */
export class RawHeaders implements Headers {
  constructor(private readonly raw: readonly string[]) {}

  get(name: string): string | null {
    const values = this.all(name.toLowerCase());
    return values.length > 0 ? values.join(', ') : null;
  }

  getSetCookie(): string[] {
    return this.all('set-cookie');
  }

  has(name: string): boolean {
    return this.all(name.toLowerCase()).length > 0;
  }

  forEach(callback: (value: string, name: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [name, value] of this.entries()) callback.call(thisArg, value, name, this);
  }

  *entries(): IterableIterator<[string, string]> {
    const names = [...new Set(this.names())].sort();
    for (const name of names) {
      if (name === 'set-cookie') for (const value of this.all(name)) yield [name, value];
      else yield [name, this.all(name).join(', ')];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  append(): void {
    throw new TypeError('response headers are immutable');
  }

  set(): void {
    throw new TypeError('response headers are immutable');
  }

  delete(): void {
    throw new TypeError('response headers are immutable');
  }

  private *names(): Generator<string> {
    for (let i = 0; i < this.raw.length; i += 2) yield this.raw[i]!.toLowerCase();
  }

  private all(lowerName: string): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.raw.length; i += 2) if (this.raw[i]!.toLowerCase() === lowerName) out.push(this.raw[i + 1]!);
    return out;
  }
}
