import type { Dispatcher, fetch as UndiciFetch } from 'undici';
import type { ProxySettings } from '../../config.js';

/**
 * The HTTP side of the OpenAI client: undici's fetch over one kept-alive dispatcher, handed to the SDK
 * through its documented `fetch` and `fetchOptions.dispatcher` options, so the SDK's own request,
 * retry and stream code runs unchanged. The dispatcher goes through HTTP(S)_PROXY unless NO_PROXY
 * names the host. Undici's fetch and its dispatcher come from the same package version, as the SDK's
 * README asks.
 */

export interface OpenAiTransport {
  fetch: typeof globalThis.fetch;
  dispatcher: Dispatcher;
  close(): Promise<void>;
}

export interface TransportOptions {
  proxy: ProxySettings;
  /**
   * A 429 that asks to wait longer than this is not waited out by the SDK: the caller is told to come
   * back later instead of holding a chat turn open for minutes.
   */
  retryAfterMaxMs: number;
}

export async function createOpenAiTransport(options: TransportOptions): Promise<OpenAiTransport> {
  // Imported on first use, as the SDK is, so that every CLI command does not load it.
  const { Agent, EnvHttpProxyAgent, fetch: undiciFetch } = await import('undici');
  const { http, https, noProxy } = options.proxy;
  // Empty strings, not undefined: undici would otherwise read the proxy variables itself, and
  // configuration is read in one place only.
  const dispatcher: Dispatcher =
    http || https ? new EnvHttpProxyAgent({ httpProxy: http ?? '', httpsProxy: https ?? '', noProxy: noProxy ?? '' }) : new Agent();
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const response = await undiciFetch(input as Parameters<typeof UndiciFetch>[0], { ...(init as object), dispatcher } as Parameters<typeof UndiciFetch>[1]);
    return response.status === 429 ? markedForRetry(response, options.retryAfterMaxMs) : response;
  }) as unknown as typeof globalThis.fetch;
  return {
    fetch,
    dispatcher,
    close: () => dispatcher.close(),
  };
}

type UndiciResponse = Awaited<ReturnType<typeof UndiciFetch>>;

/**
 * A 429 the SDK would retry but should not: a wait longer than the cap, or a spent quota (which no
 * wait cures). The same response, with the SDK's `x-should-retry: false` added in those cases.
 */
async function markedForRetry(response: UndiciResponse, retryAfterMaxMs: number): Promise<UndiciResponse> {
  const asked = retryAfterMs(response.headers);
  const body = await response.text();
  const tooLong = asked !== undefined && asked > retryAfterMaxMs;
  const quota = /"(code|type)"\s*:\s*"insufficient_quota"/.test(body);
  const headers = new Headers(response.headers as unknown as Headers);
  if (tooLong || quota) headers.set('x-should-retry', 'false');
  return new Response(body, { status: response.status, statusText: response.statusText, headers }) as unknown as UndiciResponse;
}

/** What a 429 asks to wait, in ms: `retry-after-ms`, else `retry-after` (seconds or an HTTP date). */
export function retryAfterMs(headers: { get(name: string): string | null } | undefined): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const after = headers?.get('retry-after');
  if (!after) return undefined;
  if (/^\d+(\.\d+)?$/.test(after.trim())) return Number(after) * 1000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
