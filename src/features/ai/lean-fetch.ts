import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

/**
 * A fetch for the OpenAI SDK over node:http. The SDK's default (undici's fetch) costs ~40 KB more per
 * open stream than a plain node:http request; with thousands of chat streams held open that is most of
 * the memory. Only what the SDK uses is supported: a string or buffer body, headers, the abort signal,
 * a streamed response body. Aborting destroys the request and its socket, before or after the headers.
 */
export type LeanFetch = (url: string | URL | Request, init?: RequestInit) => Promise<Response>;

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function headerRecord(headers: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  new Headers(headers).forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

function requestBody(body: BodyInit | null | undefined): string | Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  // Uploads (FormData, streams) are not something the chat path sends.
  throw new TypeError('lean fetch: unsupported request body');
}

export function createLeanFetch(): LeanFetch {
  // Keep-alive: a new round of a turn (or the next turn) reuses a connection instead of a handshake.
  const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const signal = init.signal ?? undefined;
      if (signal?.aborted) return reject(abortError(signal));
      const transport = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
      if (!transport) return reject(new TypeError(`lean fetch: unsupported protocol ${url.protocol}`));
      const body = requestBody(init.body);
      const headers = headerRecord(init.headers);
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const req = transport.request(url, { method: init.method ?? 'GET', headers, agent: agents[url.protocol as 'http:' | 'https:'] });
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
        const responseHeaders = new Headers();
        for (let i = 0; i < incoming.rawHeaders.length; i += 2) responseHeaders.append(incoming.rawHeaders[i]!, incoming.rawHeaders[i + 1]!);
        const status = incoming.statusCode ?? 500;
        const empty = status === 204 || status === 304 || init.method === 'HEAD';
        if (empty) incoming.resume();
        resolve(
          new Response(empty ? null : (Readable.toWeb(incoming) as ReadableStream<Uint8Array>), {
            status,
            statusText: incoming.statusMessage ?? '',
            headers: responseHeaders,
          }),
        );
      });
      req.end(body);
    });
}
