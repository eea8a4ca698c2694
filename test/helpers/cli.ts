import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';

export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/zia');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in-process with captured, non-TTY streams. */
export async function runCli(args: string[], opts: { env: Record<string, string>; cwd: string; stdin?: string }): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await main(['node', 'zia', ...args], {
    stdout,
    stderr,
    stdin: Readable.from([opts.stdin ?? '']),
    env: opts.env,
    cwd: opts.cwd,
  });
  return { code, stdout: out, stderr: err };
}

/** How to start zia: by default the built binary of this checkout; an installed copy passes its own `zia`. */
export type ZiaCommand = [string, ...string[]];
const builtBin = (): ZiaCommand => [process.execPath, BIN];

/** Runs the built binary (or `opts.command`) to completion. */
export function runBin(args: string[], opts: { env: Record<string, string>; cwd: string; stdin?: string; command?: ZiaCommand }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...pre] = opts.command ?? builtBin();
    const child = spawn(cmd, [...pre, ...args], { cwd: opts.cwd, env: { PATH: process.env.PATH ?? '', ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Spawns the built `zia serve` on a free port and waits for its "listening" line. */
export function spawnServe(opts: { env: Record<string, string>; cwd: string; args?: string[]; command?: ZiaCommand }): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const [cmd, ...pre] = opts.command ?? builtBin();
    const child = spawn(cmd, [...pre, 'serve', '--port', '0', '--host', '127.0.0.1', ...(opts.args ?? [])], {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH ?? '', ...opts.env },
    });
    let out = '';
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`zia serve did not start in 20 s:\n${out}`)), 20_000);
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    };
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
        resolve({
          url: `http://127.0.0.1:${m[1]}`,
          child,
          output: () => out,
          stop: async (signal = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => fail(new Error(`zia serve exited with ${code}:\n${out}`)));
  });
}
