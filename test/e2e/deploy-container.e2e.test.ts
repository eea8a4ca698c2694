import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, FILE_VARIABLES, loadConfig } from '../../src/config.js';
import { baseEnv } from '../helpers/app.js';
import { runBin, spawnServe } from '../helpers/cli.js';

// No container engine runs here, so the Dockerfile and compose file are checked against what they
// reference: real paths, real `zia` commands and flags, variables the config schema knows.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');
const KNOWN = new Set([...CONFIG_VARIABLES, ...FILE_VARIABLES.map((v) => `${v}_FILE`)]);

interface Service {
  build?: unknown;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const ziaServices = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);

/** What an operator's .env beside the compose file provides for its required `${NAME:?…}` values. */
const OPERATOR_ENV: Record<string, string> = {
  POSTGRES_PASSWORD: 'pg-secret',
  ADMIN_KEY: 'an-admin-key-of-24-chars',
  ZIA_SECRET_KEY: 'ab'.repeat(32),
};

/** Compose's interpolation: ${NAME}, ${NAME:-default}, ${NAME:?error}. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (op === '?') throw new Error(`compose would stop: ${arg}`);
    return op === '-' ? (arg ?? '') : '';
  });
}

/** Dockerfile instructions with line continuations joined, grouped by build stage. */
function dockerfileStages(): Array<{ name: string; lines: string[] }> {
  const joined = read('Dockerfile').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim());
  const stages: Array<{ name: string; lines: string[] }> = [];
  for (const line of joined) {
    if (line === '' || line.startsWith('#')) continue;
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ name: from[1] ?? String(stages.length), lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

const instruction = (lines: string[], name: string) => lines.filter((l) => l.toUpperCase().startsWith(`${name} `)).map((l) => l.slice(name.length).trim());

test('compose sets only variables the config schema knows, and they load as a valid PostgreSQL configuration', (t) => {
  t.true(ziaServices.length >= 4);
  for (const [name, service] of ziaServices) {
    const env = service.environment ?? {};
    t.deepEqual(Object.keys(env).filter((k) => !KNOWN.has(k)), [], `${name} sets unknown variables`);
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(String(v), OPERATOR_ENV)]));
    const config = loadConfig(resolved, mkdtempSync(path.join(tmpdir(), 'zia-compose-')));
    t.is(config.dbClient, 'pg', name);
    t.true(config.DATABASE_URL!.includes('@postgres:5432/'), `${name} reaches the postgres service`);
  }
  t.throws(() => interpolate(String(compose.services['web-1']!.environment!.ADMIN_KEY), {}), { message: /ADMIN_KEY/ });
});

test('compose runs migrations once, then two HTTP servers without workers and one worker', (t) => {
  const byCommand = (cmd: string) => ziaServices.filter(([, s]) => (s.command ?? []).join(' ') === cmd).map(([n]) => n);
  const [migrate] = byCommand('migrate latest');
  t.truthy(migrate);
  t.is(byCommand('serve --no-worker').length, 2);
  t.is(byCommand('worker').length, 1);
  t.is(compose.services[migrate!]!.restart, 'no');
  t.is(compose.services[migrate!]!.depends_on?.postgres?.condition, 'service_healthy');
  for (const name of [...byCommand('serve --no-worker'), ...byCommand('worker')]) {
    t.is(compose.services[name]!.depends_on?.[migrate!]?.condition, 'service_completed_successfully', name);
  }
});

test('every command compose and the Dockerfile give zia is a real command with real flags', async (t) => {
  const cmd = instruction(dockerfileStages().at(-1)!.lines, 'CMD')[0]!;
  const commands = [...ziaServices.map(([, s]) => s.command ?? []), JSON.parse(cmd) as string[]];
  const cwd = mkdtempSync(path.join(tmpdir(), 'zia-help-'));
  for (const args of new Map(commands.map((c) => [c.join(' '), c])).values()) {
    const words = args.filter((a) => !a.startsWith('-'));
    const help = await runBin([words[0]!, '--help'], { env: {}, cwd });
    t.is(help.code, 0, `zia ${words[0]} --help: ${help.stderr}`);
    t.regex(help.stdout, new RegExp(`^Usage: zia ${words[0]}\\b`), args.join(' '));
    for (const word of words.slice(1)) t.true(help.stdout.includes(word), `'${word}' is an argument of zia ${words[0]}`);
    for (const flag of args.filter((a) => a.startsWith('--'))) t.regex(help.stdout, new RegExp(`\\s${flag}\\b`), `${flag} of zia ${words[0]}`);
  }
});

test('the Dockerfile copies paths that exist and are not in .dockerignore, and runs as a non-root user', (t) => {
  const stages = dockerfileStages();
  t.true(stages.length >= 2, 'multi-stage');
  const ignored = new Set(read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  const build = stages[0]!;
  t.true(build.lines.some((l) => /\bg\+\+/.test(l) && /\bmake\b/.test(l) && /\bpython3\b/.test(l)), 'the build stage has the toolchain');
  for (const copy of instruction(build.lines, 'COPY')) {
    const sources = copy.split(/\s+/).filter((w) => !w.startsWith('--')).slice(0, -1);
    for (const src of sources) {
      t.true(existsSync(path.join(ROOT, src)), `${src} exists`);
      t.false(ignored.has(src), `${src} is not excluded from the build context`);
    }
  }
  const runtime = stages.at(-1)!;
  t.false(runtime.lines.some((l) => /g\+\+|build-essential/.test(l)), 'no compiler in the runtime image');
  const user = instruction(runtime.lines, 'USER')[0];
  t.truthy(user);
  t.notRegex(user!, /^(root|0)$/);
  for (const copy of instruction(runtime.lines, 'COPY')) t.regex(copy, /^--from=build\s/, copy);
  const envNames: string[] = instruction(runtime.lines, 'ENV').join(' ').match(/[A-Z_]+(?==)/g) ?? [];
  t.deepEqual(envNames.filter((n) => !KNOWN.has(n) && n !== 'NODE_ENV'), []);
  t.true(envNames.includes('ZIA_DATA_DIR'));
  t.regex(instruction(runtime.lines, 'VOLUME').join(' '), /\/data/);
  const entry = JSON.parse(instruction(runtime.lines, 'ENTRYPOINT')[0]!) as string[];
  t.is(entry[0], 'node', 'exec form: node is PID 1 and gets SIGTERM itself');
  t.true(existsSync(path.join(ROOT, entry[1]!)));
});

test("the image's HEALTHCHECK passes against a running zia serve and fails when none answers", async (t) => {
  const check = instruction(dockerfileStages().at(-1)!.lines, 'HEALTHCHECK')[0]!;
  const argv = JSON.parse(check.slice(check.indexOf('CMD') + 3).trim()) as string[];
  t.is(argv[0], 'node', 'the slim image has no curl');
  const probe = (port: number) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, argv.slice(1), { env: { PORT: String(port) }, stdio: 'ignore' });
      child.on('exit', (code) => resolve(code));
    });
  const server = await spawnServe({ env: baseEnv(), cwd: mkdtempSync(path.join(tmpdir(), 'zia-health-')) });
  const port = Number(new URL(server.url).port);
  try {
    t.is(await probe(port), 0);
  } finally {
    t.is(await server.stop('SIGTERM'), 0);
  }
  t.is(await probe(port), 1);
});
