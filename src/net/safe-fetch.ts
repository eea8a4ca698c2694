import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { forbiddenReason, isPublicAddress, stripBrackets } from './address-policy.js';

/**
 * Fetches a tenant-supplied URL without letting it reach our own network. Every hop is checked the
 * same way (scheme, no credentials, every resolved address public) and the connection goes to the
 * address that was checked: the socket's lookup is replaced by one that returns it, so a DNS answer
 * that changes between check and connect (rebinding) changes nothing. Node's global fetch is not used
 * because it ignores http.Agent and offers no such hook.
 */

export type FetchRefusal =
  | 'invalid_url'
  | 'scheme_forbidden'
  | 'credentials_forbidden'
  | 'address_forbidden'
  | 'dns_failed'
  | 'too_many_redirects'
  | 'timeout'
  | 'too_large'
  | 'http_status'
  | 'invalid_json'
  | 'network';

/** Why a fetch of a URL someone else chose was refused or failed; callers decide what it means for them. */
export class FetchRefusedError extends Error {
  constructor(
    public readonly reason: FetchRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'FetchRefusedError';
  }
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has; injectable so tests can play DNS. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

export interface SafeFetchOptions {
  /** Plain http is for local development only (ZIA_CATALOG_ALLOW_PRIVATE). */
  allowHttp: boolean;
  /** Which resolved addresses may be connected to; default: public unicast only. */
  addressAllowed?: (address: string) => boolean;
  resolve?: Resolver;
  timeoutMs?: number;
  maxBytes?: number;
  maxRedirects?: number;
  /** A POST with a body (outbound webhooks); default GET. A POST follows no redirects. */
  method?: 'GET' | 'POST';
  body?: Buffer;
  headers?: Record<string, string>;
  /** Names the URL in error messages ('catalog', 'outbound webhook'). */
  label?: string;
  /** Statuses outside 2xx that the caller handles (304 after a conditional request, 404): returned, not thrown. */
  passStatuses?: readonly number[];
}

export const CATALOG_TIMEOUT_MS = 5_000;
export const CATALOG_MAX_BYTES = 2 * 1024 * 1024;
export const CATALOG_MAX_REDIRECTS = 3;

export interface SafeResponse {
  /** The URL the body finally came from, after redirects. */
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Target {
  url: URL;
  hostname: string;
  address: ResolvedAddress;
}

/**
 * What can be decided about a URL without DNS: the scheme, credentials, a literal address and loopback
 * names. Also used when a tenant's settings are saved, so a URL that could never be fetched is refused
 * then rather than when it is first used.
 */
export function checkUrlWithoutDns(raw: string | URL, options: SafeFetchOptions): { url: URL; hostname: string } {
  let url: URL;
  try {
    // The WHATWG parser normalises 0x7f000001, 2130706433 and 0177.0.0.1 to 127.0.0.1, so the
    // address check below sees what the socket would.
    url = new URL(String(raw));
  } catch {
    throw new FetchRefusedError('invalid_url', `${label(options)} URL is not a valid URL`);
  }
  const allowed = options.allowHttp ? ['https:', 'http:'] : ['https:'];
  if (!allowed.includes(url.protocol)) {
    const hint = url.protocol === 'http:' ? ' (plain http is allowed only with ZIA_CATALOG_ALLOW_PRIVATE=true, for local development)' : '';
    throw new FetchRefusedError('scheme_forbidden', `${label(options)} URL scheme '${url.protocol}' is not allowed; use https${hint}`);
  }
  if (url.username || url.password) {
    throw new FetchRefusedError('credentials_forbidden', `${label(options)} URL must not contain a user name or password`);
  }
  const hostname = stripBrackets(url.hostname);
  const permitted = options.addressAllowed ?? isPublicAddress;
  if (isIP(hostname) && !permitted(hostname)) {
    throw new FetchRefusedError('address_forbidden', `${label(options)} host '${hostname}' resolves to a forbidden address (${hostname}: ${forbiddenReason(hostname) ?? 'address not allowed'})`);
  }
  const bare = hostname.replace(/\.$/, '');
  if (!options.addressAllowed && (bare === 'localhost' || bare.endsWith('.localhost'))) {
    throw new FetchRefusedError('address_forbidden', `${label(options)} host '${hostname}' is a loopback name`);
  }
  return { url, hostname };
}

/** Checks one URL (scheme, credentials, addresses) and picks the address to connect to. */
export async function checkUrl(raw: string | URL, options: SafeFetchOptions): Promise<Target> {
  const { url, hostname } = checkUrlWithoutDns(raw, options);
  const permitted = options.addressAllowed ?? isPublicAddress;
  let addresses: ResolvedAddress[];
  if (isIP(hostname)) {
    addresses = [{ address: hostname, family: isIP(hostname) === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await (options.resolve ?? systemResolver)(hostname);
    } catch (err) {
      throw new FetchRefusedError('dns_failed', `${label(options)} host '${hostname}' does not resolve (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (addresses.length === 0) throw new FetchRefusedError('dns_failed', `${label(options)} host '${hostname}' has no address`);
  }
  // Every address must pass: a name with one public and one private address is refused, because
  // which one a connection would use is not ours to decide.
  for (const a of addresses) {
    if (!permitted(a.address)) {
      const why = forbiddenReason(a.address) ?? 'address not allowed';
      throw new FetchRefusedError('address_forbidden', `${label(options)} host '${hostname}' resolves to a forbidden address (${a.address}: ${why})`);
    }
  }
  return { url, hostname, address: addresses[0]! };
}

/** GETs a URL under the rules above; one deadline covers every hop and the whole body. */
export async function safeFetch(raw: string, options: SafeFetchOptions): Promise<SafeResponse> {
  const deadline = Date.now() + (options.timeoutMs ?? CATALOG_TIMEOUT_MS);
  const maxRedirects = options.method === 'POST' ? 0 : (options.maxRedirects ?? CATALOG_MAX_REDIRECTS);
  let current: string | URL = raw;
  for (let hop = 0; ; hop++) {
    const target: Target = await withDeadline(checkUrl(current, options), deadline, label(options));
    const res = await requestOnce(target, deadline, options.maxBytes ?? CATALOG_MAX_BYTES, options);
    if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.location) {
      if (hop >= maxRedirects) throw new FetchRefusedError('too_many_redirects', `${label(options)} URL redirected more than ${maxRedirects} times`);
      try {
        current = new URL(res.headers.location, target.url);
      } catch {
        throw new FetchRefusedError('invalid_url', `${label(options)} URL redirected to an invalid location`);
      }
      continue;
    }
    if ((res.status < 200 || res.status > 299) && !options.passStatuses?.includes(res.status)) {
      throw new FetchRefusedError('http_status', `${label(options)} URL answered HTTP ${res.status}`);
    }
    return { url: target.url.toString(), status: res.status, headers: res.headers, body: res.body };
  }
}

/** safeFetch, then JSON.parse. */
export async function safeFetchJson(raw: string, options: SafeFetchOptions): Promise<unknown> {
  const res = await safeFetch(raw, options);
  try {
    return JSON.parse(res.body.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    throw new FetchRefusedError('invalid_json', `${label(options)} is not valid JSON`);
  }
}

function label(options: SafeFetchOptions): string {
  return options.label ?? 'requested';
}

function timeoutError(what = 'requested'): FetchRefusedError {
  return new FetchRefusedError('timeout', `${what} fetch took longer than the time limit`);
}

async function withDeadline<T>(work: Promise<T>, deadline: number, what?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError(what)), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function requestOnce(target: Target, deadline: number, maxBytes: number, options: SafeFetchOptions): Promise<RawResponse> {
  const { url, hostname, address } = target;
  const what = label(options);
  // The pinned lookup: the socket connects to the checked address, never to a fresh DNS answer.
  const pinned: LookupFunction = (_host, opts, cb) => {
    if ((opts as { all?: boolean }).all) (cb as (e: null, a: ResolvedAddress[]) => void)(null, [address]);
    else cb(null, address.address, address.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<RawResponse>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const req = client.request(
      {
        protocol: url.protocol,
        host: hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: options.method ?? 'GET',
        lookup: pinned,
        // TLS still verifies the certificate for the name, and SNI carries it (not for IP literals).
        servername: isIP(hostname) ? undefined : hostname,
        // A fresh socket per request: no pooled connection outlives its check, no cookies, no auth.
        agent: false,
        headers: {
          accept: 'application/json',
          'accept-encoding': 'identity',
          'user-agent': options.method === 'POST' ? 'zia-webhooks/1' : 'zia-catalog/1',
          ...(options.body ? { 'content-length': String(options.body.length) } : {}),
          ...options.headers,
        },
      },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          res.resume();
          settled = true;
          clearTimeout(timer);
          req.destroy();
          resolve({ status, headers: res.headers, body: Buffer.alloc(0) });
          return;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          fail(tooLarge(maxBytes, what));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) fail(tooLarge(maxBytes, what));
          else chunks.push(chunk);
        });
        res.on('error', (err) => fail(new FetchRefusedError('network', `${what} fetch failed: ${err.message}`)));
        res.on('aborted', () => fail(new FetchRefusedError('network', `${what} fetch failed: connection closed early`)));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status, headers: res.headers, body: Buffer.concat(chunks) });
        });
      },
    );
    const timer = setTimeout(() => fail(timeoutError(what)), Math.max(0, deadline - Date.now()));
    req.on('error', (err: NodeJS.ErrnoException) =>
      fail(new FetchRefusedError('network', `${what} fetch failed: ${err.code ?? err.message}`)),
    );
    req.end(options.body);
  });
}

function tooLarge(maxBytes: number, what = 'requested'): FetchRefusedError {
  return new FetchRefusedError('too_large', `${what} is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`);
}
