import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createDb } from '../../src/db/create-db.js';
import { baseEnv } from '../helpers/app.js';
import { BIN, runCli, spawnServe } from '../helpers/cli.js';
import { dialects, freshDatabase } from '../helpers/db.js';
import { dm, META_SECRET, PAGE_ID, postSigned } from '../helpers/meta.js';
import { waitFor } from '../helpers/wait.js';

for (const dialect of dialects()) {
  test(`${dialect}: the built binary: serve --no-worker stores a signed Meta delivery; zia worker starts and stops on SIGTERM`, async (t) => {
    const db = await freshDatabase(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-worker-'));
    const env = { ...baseEnv({ META_APP_SECRET: META_SECRET }), ...db.env };
    const server = await spawnServe({ env, cwd, args: ['--no-worker'] });
    try {
      t.regex(server.output(), /worker off/);
      const created = await fetch(`${server.url}/v1/tenants`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': baseEnv().ADMIN_KEY! },
        body: JSON.stringify({ slug: 'shop', name: 'Shop', settings: { fb_page_id: PAGE_ID } }),
      });
      t.is(created.status, 201);
      t.is((await postSigned(server.url, dm('m_bin_1', 'hi'))).status, 200);
      t.is((await postSigned(server.url, dm('m_bin_1', 'hi'))).status, 200);

      const worker = spawn(process.execPath, [BIN, 'worker'], { cwd, env: { PATH: process.env.PATH ?? '', ...env } });
      let out = '';
      worker.stdout.on('data', (d) => (out += d));
      worker.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
      await waitFor('zia worker to start', () => /zia worker running/.test(out), 30_000);
      t.regex(out, dialect === 'pg' ? /graphile-worker/ : /sqlite/);
      worker.kill('SIGTERM');
      t.is(await exited, 0, out);
    } finally {
      t.is(await server.stop('SIGTERM'), 0);
    }
    const config = loadConfig({ ...db.env }, cwd);
    const d = createDb(config);
    const rows = await d.knex('webhook_deliveries').select('external_id', 'duplicates', 'status');
    await d.close();
    t.deepEqual(rows.map((r) => [r.external_id, Number(r.duplicates)]), [['mid:m_bin_1', 1]]);
    await db.cleanup();
  });
}

test('--concurrency of zia serve and zia worker: 1-256, anything else one line and exit 2 before anything starts', async (t) => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'zia-concurrency-'));
  for (const [command, value] of [['worker', '0'], ['serve', '257'], ['worker', 'many']] as const) {
    const r = await runCli([command, '--concurrency', value], { env: baseEnv({ ZIA_DATA_DIR: path.join(cwd, 'data') }), cwd });
    t.is(r.code, 2, `${command} --concurrency ${value}`);
    t.is(r.stderr.trim(), `zia: --concurrency must be 1-256, got '${value}'`);
  }
});
