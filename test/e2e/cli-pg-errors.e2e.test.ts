import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseEnv } from '../helpers/app.js';
import { runBin } from '../helpers/cli.js';

const COMMANDS = [['tenant', 'list'], ['migrate'], ['serve', '--port', '0', '--host', '127.0.0.1'], ['worker']];

/** A port on 127.0.0.1 that nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function expectOneLine(t: import('ava').ExecutionContext, databaseUrl: string, expected: RegExp): Promise<void> {
  const cwd = mkdtempSync(path.join(tmpdir(), 'zia-pgerr-'));
  const env = { ...baseEnv(), DATABASE_URL: databaseUrl };
  for (const args of COMMANDS) {
    const r = await runBin(args, { env, cwd });
    const what = `${args[0]}: ${r.stdout}${r.stderr}`;
    t.is(r.code, 1, what);
    t.is(r.stdout, '', `nothing on stdout (${what})`);
    t.is(r.stderr.trim().split('\n').length, 1, `one line on stderr (${what})`);
    t.regex(r.stderr, expected, what);
    t.notRegex(r.stderr, /\n\s+at |Acquire connection error/, what);
  }
}

test('a refused PostgreSQL port: one line that says to check the server and DATABASE_URL, exit 1', async (t) => {
  const port = await closedPort();
  await expectOneLine(t, `postgres://postgres@127.0.0.1:${port}/zia`, new RegExp(`^zia: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port} \\(connection refused\\): is the server running, and are the host and port in DATABASE_URL right\\?\\n$`));
});

if (process.env.ZIA_TEST_PG_URL) {
  test('pg: a database that does not exist: one line that says to create it or fix DATABASE_URL, exit 1', async (t) => {
    const url = new URL(process.env.ZIA_TEST_PG_URL!);
    const name = `zia_missing_${randomBytes(4).toString('hex')}`;
    url.pathname = `/${name}`;
    await expectOneLine(t, url.toString(), new RegExp(`^zia: PostgreSQL database "${name}" does not exist: create it \\(createdb ${name}, or CREATE DATABASE\\) or correct the database name in DATABASE_URL\\n$`));
  });
}
