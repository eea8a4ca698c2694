import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseEnv } from '../helpers/app.js';
import { spawnServe } from '../helpers/cli.js';
import { dialects, freshDatabase } from '../helpers/db.js';

for (const dialect of dialects()) {
  test(`${dialect}: the built zia serve starts on an empty database, answers, and stops cleanly on SIGTERM`, async (t) => {
    const db = await freshDatabase(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-serve-'));
    const started = performance.now();
    const server = await spawnServe({ env: { ...baseEnv(), ...db.env }, cwd });
    try {
      const health = await fetch(`${server.url}/healthz`);
      t.is(health.status, 200);
      t.log(`${dialect}: /healthz answered ${Math.round(performance.now() - started)} ms after spawn`);
      const ready = (await (await fetch(`${server.url}/readyz`)).json()) as any;
      t.is(ready.database, dialect);
      const res = await fetch(`${server.url}/v1/tenants`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': baseEnv().ADMIN_KEY! },
        body: JSON.stringify({ slug: 'shop', name: 'Shop' }),
      });
      t.is(res.status, 201);
      const unknown = await fetch(`${server.url}/nowhere`);
      t.is(unknown.status, 404);
      t.is(((await unknown.json()) as any).error.code, 'not_found');
    } finally {
      const code = await server.stop('SIGTERM');
      t.is(code, 0, 'graceful shutdown exits 0');
      await db.cleanup();
    }
  });
}
