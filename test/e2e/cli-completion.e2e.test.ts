import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { completionScript } from '../../src/cli/completion.js';
import { runBin } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'zia-completion-'));
const has = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

async function script(shell: string): Promise<string> {
  const r = await runBin(['completion', shell], { env: {}, cwd: dir });
  if (r.code !== 0) throw new Error(`zia completion ${shell}: ${r.code} ${r.stderr}`);
  const file = path.join(dir, `zia.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

/** Runs the bash completion function as bash's `complete -F` would, for the words typed so far. */
function bashComplete(file: string, words: string[]): string[] {
  const setup = `source ${JSON.stringify(file)}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _zia; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', setup], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

test('bash: completes command names, subcommands and options from the command tree', async (t) => {
  const file = await script('bash');
  t.deepEqual(bashComplete(file, ['zia', 'ten']), ['tenant']);
  t.deepEqual(bashComplete(file, ['zia', 'tenant', '']).filter((w) => !w.startsWith('-')), ['key', 'list', 'show', 'create', 'update', 'delete']);
  t.deepEqual(bashComplete(file, ['zia', 'tenant', 'key', '']).filter((w) => !w.startsWith('-')), ['create', 'list', 'revoke']);
  t.deepEqual(bashComplete(file, ['zia', 'serve', '--port', '80', '--h']), ['--host', '--help']);
  t.deepEqual(bashComplete(file, ['zia', 'completion', '']).filter((w) => !w.startsWith('-')), ['bash', 'zsh', 'fish']);
  // An option's value or a positional argument that happens to be a command name does not move the path.
  t.true(bashComplete(file, ['zia', 'checkout', 'shop', '--plan', 'serve', '--']).includes('--send-wa'));
});

test('a command added to the program completes without any list to maintain', (t) => {
  const program = new Command('zia');
  program.command('backup').description('Back up').option('--out <file>', 'where');
  program.command('doctor').command('ai').option('--json', 'JSON');
  const file = path.join(dir, 'custom.bash');
  writeFileSync(file, completionScript(program, 'bash'));
  t.deepEqual(bashComplete(file, ['zia', 'b']), ['backup']);
  t.true(bashComplete(file, ['zia', 'backup', '--']).includes('--out'));
  t.deepEqual(bashComplete(file, ['zia', 'doctor', 'ai', '--j']), ['--json']);
});

test('zsh: the script parses and its completer offers the subcommands of the path typed', async (t) => {
  const file = await script('zsh');
  const text = (await runBin(['completion', 'zsh'], { env: {}, cwd: dir })).stdout;
  t.true(text.startsWith('#compdef zia'));
  if (!has('zsh')) {
    t.log('zsh is not installed: structure checked only');
    return;
  }
  const syntax = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
  t.is(syntax.status, 0, syntax.stderr);
  // compdef/_describe/compadd are the completion system's; stand-ins print what would be offered.
  const run = `compdef() {}; _describe() { local a=\${@[-1]}; print -l -- \${(P)a} }; compadd() { local a=\${@[-1]}; print -l -- \${(P)a} }
source ${JSON.stringify(file)}; words=(zia --json tenant ''); CURRENT=4; _zia`;
  const r = spawnSync('zsh', ['-f', '-c', run], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(r.stdout.split('\n').filter(Boolean).map((l) => l.split(':')[0]), ['key', 'list', 'show', 'create', 'update', 'delete']);
});

test('fish: the script parses and `complete -C` offers subcommands and options', async (t) => {
  const file = await script('fish');
  if (!has('fish')) {
    t.log('fish is not installed: structure checked only');
    t.regex((await runBin(['completion', 'fish'], { env: {}, cwd: dir })).stdout, /^complete -c zia -f -n '__zia_at \\'tenant\\'' -a 'list'/m);
    return;
  }
  const syntax = spawnSync('fish', ['-n', file], { encoding: 'utf8' });
  t.is(syntax.status, 0, syntax.stderr);
  const complete = (line: string) =>
    spawnSync('fish', ['--no-config', '-c', `source ${file}; complete -C '${line}'`], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t')[0]);
  t.deepEqual(complete('zia ten'), ['tenant']);
  t.deepEqual(complete('zia tenant key ').sort(), ['create', 'list', 'revoke']);
  t.true(complete('zia serve --').includes('--no-worker'));
});

test('an unknown shell is a usage error', async (t) => {
  const r = await runBin(['completion', 'tcsh'], { env: {}, cwd: dir });
  t.is(r.code, 2);
  t.regex(r.stderr, /bash, zsh, fish/);
});
