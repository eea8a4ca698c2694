import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseEnv } from '../helpers/app.js';
import { BIN, runBin, spawnServe } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

test('sqlite: a second zia serve or zia worker on the same data directory exits 1 naming the first pid; data commands keep working; kill -9 frees the lock at once', async (t) => {
  const db = await freshDatabase('sqlite');
  const cwd = mkdtempSync(path.join(tmpdir(), 'zia-lock-'));
  const env = { ...baseEnv(), ...db.env };
  const first = await spawnServe({ env, cwd });
  try {
    const pid = first.child.pid!;
    for (const args of [['serve', '--port', '0', '--host', '127.0.0.1'], ['serve', '--port', '0', '--no-worker'], ['worker']]) {
      const r = await runBin(args, { env, cwd });
      t.is(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      t.is(r.stderr.trim().split('\n').length, 1, 'one line');
      t.true(r.stderr.includes(`(pid ${pid})`), r.stderr);
      t.true(r.stderr.includes(db.env.ZIA_DATA_DIR!), r.stderr);
      t.notRegex(r.stdout, /listening|worker running/);
    }
    let r = await runBin(['tenant', 'create', 'shop', '--name', 'Shop'], { env, cwd });
    t.is(r.code, 0, r.stderr);
    r = await runBin(['tenant', 'list', '--json'], { env, cwd });
    t.is(r.code, 0, r.stderr);
    t.deepEqual(JSON.parse(r.stdout).map((x: { slug: string }) => x.slug), ['shop']);
    t.is((await fetch(`${first.url}/readyz`)).status, 200, 'the first server still serves');
  } finally {
    first.child.kill('SIGKILL');
    await first.stop();
  }

  // The OS released the lock with the process: a restart right away succeeds.
  const second = await spawnServe({ env, cwd });
  t.regex(second.output(), /worker on/);
  t.is(await second.stop('SIGTERM'), 0);

  // HTTP-only server and a separate worker share the directory; a second worker does not.
  const web = await spawnServe({ env, cwd, args: ['--no-worker'] });
  const worker = spawn(process.execPath, [BIN, 'worker'], { cwd, env: { PATH: process.env.PATH ?? '', ...env } });
  let out = '';
  worker.stdout.on('data', (d) => (out += d));
  worker.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
  try {
    await waitFor('zia worker to start', () => /zia worker running/.test(out), 30_000);
    const r = await runBin(['worker'], { env, cwd });
    t.is(r.code, 1);
    t.true(r.stderr.includes(`another zia worker (pid ${worker.pid})`), r.stderr);
  } finally {
    worker.kill('SIGTERM');
    t.is(await exited, 0, out);
    t.is(await web.stop('SIGTERM'), 0);
    await db.cleanup();
  }
});
