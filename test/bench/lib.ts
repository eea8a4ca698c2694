import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/zia');
const require = createRequire(import.meta.url);
const AUTOCANNON = path.join(path.dirname(require.resolve('autocannon/package.json')), 'autocannon.js');

export interface Row {
  id: string;
  what: string;
  dialect: string;
  figure: string;
  baseline: string;
  ratio: number | null;
  target: string;
  pass: boolean;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** autocannon in its own process, so the load generator never shares an event loop with the server. */
export function autocannon(args: string[]): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AUTOCANNON, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`));
      const r = JSON.parse(out);
      resolve({
        requests: r.requests.total,
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        errors: r.errors + r.timeouts,
        non2xx: r.non2xx,
      });
    });
  });
}

export interface Started {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a server process and waits until it prints the line that carries its port. */
export function startProcess(args: string[], env: Record<string, string>, portPattern: RegExp, cwd = ROOT): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`did not start: ${args.join(' ')}\n${out}`));
    }, 30_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = portPattern.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      child.stderr!.resume();
      resolve({
        url: `http://127.0.0.1:${m[1]}`,
        child,
        stop: () =>
          new Promise<void>((r) => {
            if (child.exitCode !== null) return r();
            child.once('exit', () => r());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 5000).unref();
          }),
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${out}`));
    });
  });
}

/**
 * zia as an operator runs it. With ZIA_BENCH_CPU_PROF=<dir> each zia process writes a V8 CPU profile
 * there when it stops (open it in Chrome DevTools or speedscope) — how a figure that misses is explained.
 */
export function startZia(env: Record<string, string>, extraArgs: string[] = []): Promise<Started> {
  const prof = process.env.ZIA_BENCH_CPU_PROF;
  const nodeFlags = prof ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(prof)}`] : [];
  // ZIA_BENCH_NODE_FLAGS: extra node flags for every zia (V8 heap experiments).
  nodeFlags.push(...(process.env.ZIA_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean));
  return startProcess([...nodeFlags, BIN, 'serve', '--port', '0', '--host', '127.0.0.1', ...extraArgs], { LOG_LEVEL: 'warn', ...env }, /listening on http:\/\/[^:]+:(\d+)/);
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export const ADMIN_KEY = 'bench-admin-key-0123456789';
export const SECRET_KEY = 'a'.repeat(64);

/** Creates (or updates) a tenant through the admin API, as an operator would. */
export async function createTenant(url: string, tenant: { slug: string; name: string; settings?: Record<string, unknown> }): Promise<void> {
  const res = await fetch(`${url}/v1/tenants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
    body: JSON.stringify(tenant),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`creating tenant ${tenant.slug}: ${res.status} ${await res.text()}`);
}

/** The fake OpenAI server (test/bench/fake-openai.ts) in its own process; `url` is the base URL to give zia. */
export async function startFakeOpenAI(args: string[]): Promise<Started> {
  const s = await startProcess(['--import=tsx', path.join(ROOT, 'test/bench/fake-openai.ts'), ...args], {}, /fake-openai listening on http:\/\/[^:]+:(\d+)/);
  return { ...s, url: `${s.url}/v1` };
}

/** zia on the OpenAI provider pointed at the fake, rate limit off, with a tenant; returns its stream URL. */
export async function startStreamingZia(dbEnv: Record<string, string>, fakeUrl: string): Promise<{ zia: Started; url: string }> {
  const zia = await startZia({ ...dbEnv, ADMIN_KEY, ZIA_SECRET_KEY: SECRET_KEY, ZIA_RATE_LIMIT_PER_MINUTE: '0', OPENAI_API_KEY: 'test', OPENAI_BASE_URL: fakeUrl });
  try {
    await createTenant(zia.url, { slug: 'bench', name: 'Bench Shop', settings: { lead: { mode: 'off' } } });
  } catch (err) {
    await zia.stop();
    throw err;
  }
  return { zia, url: `${zia.url}/v1/chat/stream?tenant=bench` };
}
