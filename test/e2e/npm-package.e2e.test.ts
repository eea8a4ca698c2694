import test from 'ava';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrations } from '../../migrations/index.js';
import { runBin, spawnServe, type CliResult, type ZiaCommand } from '../helpers/cli.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** What a fresh clone does not have; everything else is copied, so a file missing from `files` shows up here. */
const NOT_IN_A_CLONE = new Set(['node_modules', 'dist', '.git', 'data', '.env', 'test-artifacts', 'bench-results']);

const npm = (args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> =>
  runBin(args, { command: ['npm'], cwd, env: { ...(process.env as Record<string, string>), ...env } });

const ok = (r: CliResult, what: string): CliResult => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
};

test('the packed tarball installs into an empty prefix and its zia inits, migrates, serves a chat turn and lists tenants', async (t) => {
  // Packing builds with tsc and installing compiles better-sqlite3 from source: minutes on a busy machine.
  t.timeout(20 * 60_000);
  const tmp = mkdtempSync(path.join(tmpdir(), 'zia-pack-'));
  try {
    // Pack from a copy shaped like a fresh clone (no dist/), so `prepack` must build what ships.
    const clone = path.join(tmp, 'clone');
    cpSync(ROOT, clone, { recursive: true, filter: (src) => path.dirname(src) !== ROOT || !NOT_IN_A_CLONE.has(path.basename(src)) });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules'), 'dir');
    const packed = ok(await npm(['pack', '--json', '--pack-destination', tmp], clone), 'npm pack');
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const shipped = info!.files.map((f) => f.path);
    t.true(shipped.includes('LICENSE'));
    t.true(shipped.includes('dist/src/cli/main.js'));
    t.deepEqual(shipped.filter((f) => f.endsWith('.map')), [], 'no source maps pointing at unshipped sources');
    t.false(shipped.some((f) => f.startsWith('src/') || f.startsWith('test/')), 'TypeScript sources and tests stay out');
    t.is(shipped.filter((f) => /^dist\/migrations\/\d+_.*\.js$/.test(f)).length, migrations.length, 'every migration ships built');

    const prefix = path.join(tmp, 'prefix');
    // The default npm cache is kept on purpose: dependencies come from it, only better-sqlite3 compiles.
    const installed = ok(
      await npm(
        ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--allow-scripts=better-sqlite3', path.join(tmp, info!.filename)],
        tmp,
        { JOBS: 'max' },
      ),
      'npm install --global',
    );
    t.notRegex(installed.stdout + installed.stderr, /not yet covered by allowScripts/);
    t.true(existsSync(path.join(prefix, 'bin', 'zia')));

    // From directories that have nothing of the project: the installed `zia` on PATH, its shebang picking node.
    const env = { PATH: [path.join(prefix, 'bin'), path.dirname(process.execPath), process.env.PATH].join(path.delimiter), HOME: tmp };
    const zia: ZiaCommand = ['zia'];
    const help = ok(await runBin(['--help'], { command: zia, cwd: tmp, env }), 'zia --help');
    t.regex(help.stdout, /serve/);
    t.regex(help.stdout, /migrate/);

    const fresh = path.join(tmp, 'fresh');
    mkdirSync(fresh);
    const bare = await spawnServe({ command: zia, cwd: fresh, env: { ...env, LOG_LEVEL: 'info' } });
    try {
      t.is((await fetch(`${bare.url}/readyz`)).status, 200);
      t.regex(bare.output(), /migrations applied/, 'serve from the installed package migrates an empty database');
    } finally {
      t.is(await bare.stop('SIGTERM'), 0, bare.output());
    }
    t.true(readdirSync(path.join(fresh, 'data')).includes('zia.sqlite'));

    const site = path.join(tmp, 'site');
    mkdirSync(site);
    const init = ok(await runBin(['init', '--demo'], { command: zia, cwd: site, env }), 'zia init --demo');
    t.regex(init.stdout, /demo tenant ready/);
    const server = await spawnServe({ command: zia, cwd: site, env });
    try {
      const res = await fetch(`${server.url}/v1/chat?tenant=demo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'What are your opening hours?' }),
      });
      t.is(res.status, 200);
      const body = (await res.json()) as { reply: string; conversation_id: string };
      t.regex(body.reply, /Monday to Friday/);
      t.truthy(body.conversation_id);
      const list = ok(await runBin(['tenant', 'list', '--json'], { command: zia, cwd: site, env }), 'zia tenant list');
      t.deepEqual((JSON.parse(list.stdout) as Array<{ slug: string }>).map((x) => x.slug), ['demo']);
    } finally {
      t.is(await server.stop('SIGTERM'), 0, server.output());
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('every dependency install script is reviewed in allowScripts, so npm ci prints no advisory', async (t) => {
  const pending = ok(await npm(['approve-scripts', '--allow-scripts-pending'], ROOT), 'npm approve-scripts');
  t.regex(pending.stdout, /No packages with unreviewed install scripts/, pending.stdout);
});
