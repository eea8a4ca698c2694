import test from 'ava';
import net from 'node:net';
import { asCatalogError } from '../../src/features/catalog/catalog-error.js';
import { isPublicAddress } from '../../src/net/address-policy.js';
import { FetchRefusedError, safeFetch, safeFetchJson, type FetchRefusal, type ResolvedAddress, type Resolver, type SafeFetchOptions } from '../../src/net/safe-fetch.js';
import { startCountingListener, startFakeShop, type CountingListener } from '../fakes/catalog-server.js';

/**
 * The SSRF corpus: every payload must be refused before any socket is opened. Two independent
 * witnesses: loopback listeners that count connections, and a spy on net.Socket#connect that counts
 * every connection attempt the process makes while a payload is being fetched.
 */

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

function fakeDns(table: Record<string, ResolvedAddress[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = (async (host: string) => {
    calls.push(host);
    const answer = table[host];
    if (!answer) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return answer;
  }) as Resolver & { calls: string[] };
  resolve.calls = calls;
  return resolve;
}

/** Counts connection attempts made through node:net (every http/https request goes through it). */
function spyOnConnect(): { count(): number; restore(): void } {
  const original = net.Socket.prototype.connect;
  let n = 0;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    n++;
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof original;
  return { count: () => n, restore: () => void (net.Socket.prototype.connect = original) };
}

async function refusal(t: { fail(m: string): void }, url: string, options: SafeFetchOptions): Promise<FetchRefusedError | undefined> {
  try {
    await safeFetch(url, options);
    t.fail(`${url} was fetched`);
    return undefined;
  } catch (err) {
    return err as FetchRefusedError;
  }
}

let v4Target: CountingListener;
let v6Target: CountingListener;
test.before(async () => {
  v4Target = await startCountingListener('127.0.0.1');
  v6Target = await startCountingListener('::1');
});
test.after.always(async () => {
  await v4Target.close();
  await v6Target.close();
});

test.serial('the SSRF corpus is refused before any connection, each with a clear reason', async (t) => {
  const P = v4Target.port;
  const P6 = v6Target.port;
  const dns = fakeDns({
    'loopback.example': [v4('127.0.0.1')],
    '127.0.0.1.nip.example': [v4('127.0.0.1')],
    'metadata.example': [v4('169.254.169.254')],
    'mixed.example': [v4('93.184.216.34'), v4('10.0.0.1')],
    'v6loop.example': [v6('::1')],
    'mapped.example': [v6('::ffff:127.0.0.1')],
    'internal.example': [v4('192.168.0.10')],
  });
  const lax: SafeFetchOptions = { allowHttp: true, resolve: dns };
  const strict: SafeFetchOptions = { allowHttp: false, resolve: dns };
  // [url, options, expected reason]
  const corpus: Array<[string, SafeFetchOptions, FetchRefusal]> = [
    [`http://127.0.0.1:${P}/`, lax, 'address_forbidden'],
    [`https://127.0.0.1:${P}/`, strict, 'address_forbidden'],
    [`http://localhost:${P}/`, lax, 'address_forbidden'],
    [`https://LOCALHOST.:${P}/`, strict, 'address_forbidden'],
    [`http://shop.localhost:${P}/`, lax, 'address_forbidden'],
    [`http://[::1]:${P6}/`, lax, 'address_forbidden'],
    [`http://[0:0:0:0:0:0:0:1]:${P6}/`, lax, 'address_forbidden'],
    [`http://0x7f000001:${P}/`, lax, 'address_forbidden'],
    [`http://2130706433:${P}/`, lax, 'address_forbidden'],
    [`http://0177.0.0.1:${P}/`, lax, 'address_forbidden'],
    [`http://127.1:${P}/`, lax, 'address_forbidden'],
    [`http://0x7f.0.0.1:${P}/`, lax, 'address_forbidden'],
    [`http://0:${P}/`, lax, 'address_forbidden'],
    [`http://0.0.0.0:${P}/`, lax, 'address_forbidden'],
    [`http://[::]:${P6}/`, lax, 'address_forbidden'],
    ['http://10.0.0.1/', lax, 'address_forbidden'],
    ['https://10.255.255.254/', strict, 'address_forbidden'],
    ['http://172.16.0.1/', lax, 'address_forbidden'],
    ['http://172.31.255.254/', lax, 'address_forbidden'],
    ['http://192.168.1.1/', lax, 'address_forbidden'],
    ['http://100.64.0.1/', lax, 'address_forbidden'],
    ['http://100.127.255.254/', lax, 'address_forbidden'],
    ['http://169.254.169.254/latest/meta-data/', lax, 'address_forbidden'],
    ['https://169.254.169.254/latest/meta-data/', strict, 'address_forbidden'],
    ['http://[::ffff:169.254.169.254]/latest/meta-data/', lax, 'address_forbidden'],
    [`http://[::ffff:127.0.0.1]:${P}/`, lax, 'address_forbidden'],
    [`http://[0:0:0:0:0:ffff:7f00:0001]:${P}/`, lax, 'address_forbidden'],
    ['http://[::127.0.0.1]/', lax, 'address_forbidden'],
    ['http://[fc00::1]/', lax, 'address_forbidden'],
    ['http://[fd12:3456:789a::1]/', lax, 'address_forbidden'],
    ['http://[fe80::1]/', lax, 'address_forbidden'],
    ['http://[febf:ffff::1]/', lax, 'address_forbidden'],
    ['http://[64:ff9b::a9fe:a9fe]/', lax, 'address_forbidden'],
    ['http://[2002:7f00:1::1]/', lax, 'address_forbidden'],
    ['http://[2002:c0a8:101::1]/', lax, 'address_forbidden'],
    ['http://[ff02::1]/', lax, 'address_forbidden'],
    ['http://[2001:db8::1]/', lax, 'address_forbidden'],
    ['http://224.0.0.1/', lax, 'address_forbidden'],
    ['http://255.255.255.255/', lax, 'address_forbidden'],
    ['http://240.0.0.1/', lax, 'address_forbidden'],
    ['http://192.0.0.8/', lax, 'address_forbidden'],
    ['http://198.18.0.1/', lax, 'address_forbidden'],
    ['http://192.0.2.1/', lax, 'address_forbidden'],
    ['http://203.0.113.5/', lax, 'address_forbidden'],
    [`http://loopback.example:${P}/catalog.json`, lax, 'address_forbidden'],
    [`https://127.0.0.1.nip.example:${P}/`, strict, 'address_forbidden'],
    ['http://metadata.example/latest/meta-data/', lax, 'address_forbidden'],
    ['https://mixed.example/catalog.json', strict, 'address_forbidden'],
    [`http://v6loop.example:${P6}/`, lax, 'address_forbidden'],
    [`http://mapped.example:${P}/`, lax, 'address_forbidden'],
    ['https://internal.example/', strict, 'address_forbidden'],
    ['file:///etc/passwd', lax, 'scheme_forbidden'],
    [`gopher://127.0.0.1:${P}/_INFO`, lax, 'scheme_forbidden'],
    [`ftp://127.0.0.1:${P}/catalog.json`, lax, 'scheme_forbidden'],
    ['data:application/json,[]', lax, 'scheme_forbidden'],
    ['javascript:alert(1)', lax, 'scheme_forbidden'],
    [`dict://127.0.0.1:${P}/info`, lax, 'scheme_forbidden'],
    [`ws://127.0.0.1:${P}/`, lax, 'scheme_forbidden'],
    [`http://127.0.0.1:${P}/`, strict, 'scheme_forbidden'],
    ['http://shop.example/catalog.json', strict, 'scheme_forbidden'],
    ['https://user:secret@shop.example/catalog.json', strict, 'credentials_forbidden'],
    [`https://admin@127.0.0.1:${P}/`, strict, 'credentials_forbidden'],
    ['not a url', strict, 'invalid_url'],
  ];
  t.true(corpus.length >= 30);
  const spy = spyOnConnect();
  try {
    for (const [url, options, reason] of corpus) {
      const err = await refusal(t, url, options);
      t.true(err instanceof FetchRefusedError, `${url}: ${String(err)}`);
      t.is(err?.reason, reason, `${url}: ${err?.message}`);
      t.is(asCatalogError(err).code, 'catalog_unavailable', 'a tenant sees it as the catalog being unavailable');
      t.notRegex(err?.message ?? '', /undefined|\[object/, `${url}: the message reads well`);
      t.is(spy.count(), 0, `${url}: no connection attempt`);
    }
  } finally {
    spy.restore();
  }
  t.is(v4Target.connections(), 0);
  t.is(v6Target.connections(), 0);
});

test.serial('the refusal says which address and why', async (t) => {
  const err = await refusal(t, 'http://[::ffff:169.254.169.254]/', { allowHttp: true });
  t.regex(err!.message, /169\.254\.169\.254/);
  t.regex(err!.message, /linkLocal/);
  const http = await refusal(t, 'http://shop.example/', { allowHttp: false });
  t.regex(http!.message, /ZIA_CATALOG_ALLOW_PRIVATE/);
});

/**
 * A "public" shop that redirects inward. The shop's own loopback address is declared public for this
 * test only (the address check is a parameter); everything else keeps the real rule, so the redirect
 * targets — another loopback address, the metadata service, a name resolving inward — stay forbidden.
 */
test.serial('a public URL that redirects to a private one is refused before connecting to it', async (t) => {
  const shop = await startFakeShop('127.0.0.1');
  const inner = await startCountingListener('127.0.0.2');
  const dns = fakeDns({ 'shop.example': [v4('127.0.0.1')], 'inner.example': [v4('127.0.0.2')] });
  const options: SafeFetchOptions = { allowHttp: true, resolve: dns, addressAllowed: (ip) => ip === '127.0.0.1' || isPublicAddress(ip) };
  const targets = [
    `http://127.0.0.2:${inner.port}/`,
    `http://inner.example:${inner.port}/`,
    `http://[::ffff:127.0.0.2]:${inner.port}/`,
    'http://169.254.169.254/latest/meta-data/',
    'file:///etc/passwd',
    `gopher://127.0.0.2:${inner.port}/`,
  ];
  try {
    for (const [i, location] of targets.entries()) {
      shop.route(`/r${i}`, (_req, res) => res.writeHead(302, { location }).end());
      const err = await refusal(t, `http://shop.example:${shop.port}/r${i}`, options);
      t.true(['address_forbidden', 'scheme_forbidden'].includes(err!.reason), `${location}: ${err?.message}`);
    }
    t.is(shop.requests.length, targets.length, 'the shop itself was asked each time');
    t.is(inner.connections(), 0, 'the inner target never saw a connection');
  } finally {
    await shop.close();
    await inner.close();
  }
});

test.serial('at most 3 redirects are followed; each hop is checked', async (t) => {
  const shop = await startFakeShop();
  const options: SafeFetchOptions = { allowHttp: true, addressAllowed: (ip) => ip === '127.0.0.1' };
  for (let i = 0; i < 4; i++) shop.route(`/hop${i}`, (_req, res) => res.writeHead(301, { location: `/hop${i + 1}` }).end());
  shop.json('/hop4', [{ id: 'a', name: 'A', price: 1 }]);
  shop.route('/start3', (_req, res) => res.writeHead(307, { location: '/hop2' }).end());
  try {
    t.deepEqual(await safeFetchJson(`${shop.url}/start3`, options), [{ id: 'a', name: 'A', price: 1 }], '3 redirects: followed');
    const err = await refusal(t, `${shop.url}/hop0`, options);
    t.is(err!.reason, 'too_many_redirects');
  } finally {
    await shop.close();
  }
});

test.serial('DNS rebinding: one lookup, and the connection goes to the address that was checked', async (t) => {
  const shop = await startFakeShop();
  shop.json('/catalog.json', { products: [{ id: 'p1', name: 'Mug', price: 9 }] });
  let lookups = 0;
  // First answer: the (test-allowed) shop; any later answer: an internal address.
  const rebinding: Resolver = async () => (lookups++ === 0 ? [v4('127.0.0.1')] : [v4('10.0.0.1')]);
  const options: SafeFetchOptions = { allowHttp: true, resolve: rebinding, addressAllowed: (ip) => ip === '127.0.0.1' };
  const spy = spyOnConnect();
  try {
    const doc = await safeFetchJson(`http://rebind.example:${shop.port}/catalog.json`, options);
    t.deepEqual(doc, { products: [{ id: 'p1', name: 'Mug', price: 9 }] });
    t.is(lookups, 1, 'the name was resolved exactly once');
    t.is(spy.count(), 1, 'one connection');
    t.is(shop.requests.length, 1, 'and it reached the checked address');
    t.is(shop.requests[0]!.headers.host, `rebind.example:${shop.port}`, 'the Host header keeps the name');
  } finally {
    spy.restore();
    await shop.close();
  }
  // And when the first answer is already internal, nothing connects.
  let calls = 0;
  const inward: Resolver = async () => (calls++ === 0 ? [v4('10.0.0.1')] : [v4('93.184.216.34')]);
  const err = await refusal(t, 'https://rebind.example/catalog.json', { allowHttp: false, resolve: inward });
  t.is(err!.reason, 'address_forbidden');
  t.is(calls, 1);
});

test.serial('requests carry no credentials or cookies and ask for JSON', async (t) => {
  const shop = await startFakeShop();
  shop.json('/c.json', []);
  try {
    await safeFetchJson(`${shop.url}/c.json`, { allowHttp: true, addressAllowed: () => true });
    const h = shop.requests[0]!.headers;
    t.is(h.accept, 'application/json');
    t.is(h.cookie, undefined);
    t.is(h.authorization, undefined);
    t.is(h['proxy-authorization'], undefined);
  } finally {
    await shop.close();
  }
});

test.serial('size cap (declared and streamed) and one deadline across hops and body', async (t) => {
  const shop = await startFakeShop();
  const options: SafeFetchOptions = { allowHttp: true, addressAllowed: () => true, maxBytes: 1000, timeoutMs: 400 };
  shop.route('/declared', (_req, res) => res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000)));
  shop.route('/streamed', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('['.padEnd(800, ' '));
    res.write(' '.repeat(800));
    res.end(']');
  });
  let trickle: NodeJS.Timeout | undefined;
  shop.route('/slow', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('[');
    trickle = setInterval(() => res.write(' '), 50);
    res.on('close', () => clearInterval(trickle));
  });
  shop.route('/stall', () => {
    // never answers
  });
  try {
    t.is((await refusal(t, `${shop.url}/declared`, options))!.reason, 'too_large');
    t.is((await refusal(t, `${shop.url}/streamed`, options))!.reason, 'too_large');
    t.is((await refusal(t, `${shop.url}/slow`, options))!.reason, 'timeout', 'a body that keeps trickling still hits the deadline');
    t.is((await refusal(t, `${shop.url}/stall`, options))!.reason, 'timeout');
  } finally {
    clearInterval(trickle);
    await shop.close();
  }
});

test.serial('https: the pinned connection still sends SNI for the name and verifies the certificate', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const https = await import('node:https');
  const dir = mkdtempSync(path.join(tmpdir(), 'zia-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=shop.example', '-addext', 'subjectAltName=DNS:shop.example'], { stdio: 'ignore' });
  const names: string[] = [];
  const server = https.createServer({
    key: readFileSync(key),
    cert: readFileSync(cert),
    SNICallback: (servername, cb) => {
      names.push(servername);
      cb(null, undefined);
    },
  }, (_req, res) => res.end('[]'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const dns = fakeDns({ 'shop.example': [v4('127.0.0.1')] });
    const err = await refusal(t, `https://shop.example:${port}/catalog.json`, { allowHttp: false, resolve: dns, addressAllowed: (ip) => ip === '127.0.0.1' });
    t.is(err!.reason, 'network');
    t.regex(err!.message, /SELF_SIGNED|certificate/i, 'an untrusted certificate is refused, not ignored');
    t.deepEqual(names, ['shop.example'], 'SNI carried the host name, not the pinned address');
    t.deepEqual(dns.calls, ['shop.example']);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
