import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Chalk, type ChalkInstance } from 'chalk';

/** Streams and environment a command runs with; injected so tests can run commands in-process. */
export interface CliIO {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean };
  stdin: Readable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); long-running commands wait on it. */
  stopSignal?: AbortSignal;
}

/**
 * The real process's streams and environment: the one place they enter. Commands get them through
 * CliIO, and configuration is still read only by loadConfig(io.env) in src/config.ts.
 */
export function processIO(): CliIO {
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort(sig));
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    stopSignal: controller.signal,
  };
}

/**
 * Where a command's action leaves its exit code for main() to return (commander's actions return
 * nothing main can read). Commands get it from here, not from main.ts, which imports every command.
 */
export interface ExitHolder {
  code: number;
}

export function interactive(io: CliIO): boolean {
  return Boolean(io.stdin.isTTY && io.stdout.isTTY);
}

export function colors(io: CliIO, stream: 'stdout' | 'stderr' = 'stdout'): ChalkInstance {
  const tty = stream === 'stdout' ? io.stdout.isTTY : io.stderr.isTTY;
  const off = !tty || io.env.NO_COLOR !== undefined || io.env.TERM === 'dumb';
  return new Chalk({ level: off ? 0 : 1 });
}

export function println(stream: Writable, line = ''): void {
  stream.write(`${line}\n`);
}

export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Fixed-width table for terminal output; plain text when not a TTY so it still greps and pipes. */
export function printTable(io: CliIO, headers: string[], rows: Array<Array<string | number | null | undefined>>): void {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const c = colors(io);
  println(io.stdout, c.bold(headers.map((h, i) => h.padEnd(widths[i]!)).join('  ').trimEnd()));
  for (const r of cells) println(io.stdout, r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd());
}

/**
 * `--concurrency <n>` of `zia serve` and `zia worker`: the same setting as ZIA_WORKER_CONCURRENCY, so
 * the flag wins by handing the command an environment with it set.
 */
export function withConcurrency(io: CliIO, value: string | undefined): CliIO {
  if (value === undefined) return io;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`--concurrency must be 1-256, got '${value}'`);
  return { ...io, env: { ...io.env, ZIA_WORKER_CONCURRENCY: String(n) } };
}

/**
 * Where `-o FILE` writes, resolved against the working directory; undefined for stdout (`-` or no
 * file). An existing file is replaced only with --force: an export typed by habit never overwrites one.
 */
export function outputFile(io: CliIO, output: string | undefined, force: boolean | undefined): string | undefined {
  if (output === undefined || output === '-') return undefined;
  const file = path.resolve(io.cwd, output);
  if (existsSync(file) && !force) throw new UsageError(`${output} exists; give --force to replace it`);
  return file;
}

/** A usage problem: reported on one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
