import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';

export interface BenchDb {
  dialect: 'sqlite' | 'pg';
  env: Record<string, string>;
  drop(): Promise<void>;
}

export const PG_URL = process.env.ZIA_TEST_PG_URL ?? process.env.ZIA_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function pgAvailable(): Promise<boolean> {
  const k = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 1 }, acquireConnectionTimeout: 3000 });
  try {
    await k.raw('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await k.destroy();
  }
}

export async function benchDb(dialect: 'sqlite' | 'pg'): Promise<BenchDb> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(path.join(tmpdir(), 'zia-bench-'));
    return { dialect, env: { ZIA_DATA_DIR: dir }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `zia_bench_${randomBytes(4).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  await admin.destroy();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    dialect,
    env: { DATABASE_URL: url.toString() },
    drop: async () => {
      const k = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 1 } });
      await k.raw(`drop database if exists ${name} with (force)`);
      await k.destroy();
    },
  };
}
