import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config.js';
import { BIN, runBin } from '../helpers/cli.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');

/** `NAME=value` lines of .env.example, set or commented out (`# NAME=value`); prose lines are not variables. */
function envExample(): Array<[string, string]> {
  return read('.env.example')
    .split('\n')
    .map((l) => /^(?:#\s?)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!, m[2]!]);
}

test('.env.example lists exactly the variables the config schema knows, each once', (t) => {
  const names = envExample().map(([n]) => n);
  t.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), [], 'listed twice');
  // The lower-case proxy variables are the conventional aliases of their upper-case names, listed once.
  const documented = CONFIG_VARIABLES.filter((n) => n === n.toUpperCase());
  t.deepEqual(documented.filter((n) => !names.includes(n)), [], 'known to the schema, missing from .env.example');
  t.deepEqual(names.filter((n) => !CONFIG_VARIABLES.includes(n)), [], 'in .env.example, unknown to the schema');
});

test('every value .env.example shows, uncommented, is accepted by the config schema', (t) => {
  const env = Object.fromEntries(envExample());
  const config = loadConfig(env, mkdtempSync(path.join(tmpdir(), 'zia-envex-')));
  t.is(config.dbClient, 'pg');
  t.is(config.PORT, 8000);
});

type Unit = Record<string, Record<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      unit[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || !section) throw new Error(`not a unit line: ${line}`);
    (unit[section]![line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return unit;
}

for (const [file, command] of [['deploy/zia.service', 'serve'], ['deploy/zia-worker.service', 'worker']] as const) {
  test(`${file} runs \`zia ${command}\` as a dedicated user with an EnvironmentFile, a restart policy and hardening`, async (t) => {
    const text = read(file);
    const service = parseUnit(text).Service!;
    const one = (key: string) => service[key]?.at(-1);
    t.truthy(service);
    const exec = one('ExecStart')!.split(/\s+/);
    t.regex(exec[0]!, /^\/.*\/zia$/, 'an absolute path to the installed zia');
    t.is(exec[1], command);
    const help = await runBin([command, '--help'], { env: {}, cwd: tmpdir() });
    t.is(help.code, 0);
    for (const flag of exec.filter((a) => a.startsWith('--'))) t.true(help.stdout.includes(flag), flag);

    t.truthy(one('User'));
    t.not(one('User'), 'root');
    t.truthy(one('EnvironmentFile'));
    t.is(one('Restart'), 'on-failure');
    t.is(one('KillSignal'), 'SIGTERM');
    t.is(one('NoNewPrivileges'), 'true');
    t.is(one('ProtectSystem'), 'strict');
    t.is(one('PrivateTmp'), 'true');
    t.is(one('ProtectHome'), 'true');
    t.is(one('CapabilityBoundingSet'), '');
    t.false('MemoryDenyWriteExecute' in service, "V8's JIT needs writable executable memory");
    const dataDir = /ZIA_DATA_DIR=(\S+)/.exec(service.Environment!.join(' '))?.[1];
    t.truthy(dataDir);
    t.is(one('ReadWritePaths'), dataDir, 'the only writable path is the data directory');
    t.is(one('WorkingDirectory'), dataDir);

    // systemd's own checker (Debian package `systemd`) when present; ExecStart must exist for it.
    const checker = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (checker.error) {
      t.log('systemd-analyze not installed: the unit was checked by parsing only');
      return;
    }
    const copy = path.join(mkdtempSync(path.join(tmpdir(), 'zia-unit-')), path.basename(file));
    writeFileSync(copy, text.replace(exec[0]!, BIN));
    const verify = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    t.is(verify.status, 0, verify.stderr);
    t.is(verify.stderr.trim(), '', 'no unknown keys or bad values');
  });
}
