import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrations } from '../../migrations/index.js';
import { AppError } from '../errors.js';

/** Tables whose row counts a backup and a restore report, so an operator sees what the file holds. */
const COUNTED = ['tenants', 'conversations', 'messages', 'leads', 'orders', 'events', 'webhook_deliveries'] as const;

/** Pages per backup step: all of them, so the copy is one read transaction, never restarted by a writer. */
const ALL_PAGES = 0x7fffffff;

export interface DatabaseSummary {
  /** Applied migrations, oldest first. */
  migrations: string[];
  rows: Record<string, number>;
  bytes: number;
}

export class BackupError extends AppError {
  constructor(message: string) {
    super(422, 'backup_invalid', message);
  }
}

/** A timestamp for file names: 20261203T082500Z. */
export function fileStamp(at = new Date()): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * An online, consistent copy of the SQLite database through SQLite's backup API, taken while a server
 * may be writing (WAL lets the writer go on). The copy is then turned into one self-contained file
 * (rollback journal, no -wal/-shm beside it), checked, and only then given its name.
 */
export async function backupSqlite(source: string, out: string): Promise<DatabaseSummary> {
  if (existsSync(out)) throw new AppError(409, 'exists', `${out} already exists: choose another --out`);
  mkdirSync(path.dirname(out), { recursive: true });
  const partial = `${out}.partial`;
  await copyDatabase(source, partial);
  try {
    const summary = inspectZiaDatabase(partial);
    renameSync(partial, out);
    return summary;
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
}

async function copyDatabase(source: string, target: string): Promise<void> {
  rmSync(target, { force: true });
  const src = openOrExplain(source, true);
  try {
    await src.backup(target, { progress: () => ALL_PAGES });
  } finally {
    src.close();
  }
  const copy = new Database(target, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
}

/**
 * What a file must be before zia will run on it: a SQLite database that passes integrity_check, with
 * zia's migrations table, and no migration this build does not know (a newer zia made it).
 */
export function inspectZiaDatabase(file: string): DatabaseSummary {
  const db = openOrExplain(file, true);
  try {
    let check: string[];
    try {
      check = (db.pragma('integrity_check') as Array<Record<string, unknown>>).map((r) => String(Object.values(r)[0]));
    } catch (err) {
      throw new BackupError(`${file} is not a readable SQLite database (${(err as Error).message})`);
    }
    if (check.length !== 1 || check[0] !== 'ok') throw new BackupError(`${file} fails SQLite's integrity_check: ${check[0]}`);
    const tables = new Set((db.prepare(`select name from sqlite_master where type = 'table'`).all() as Array<{ name: string }>).map((r) => r.name));
    if (!tables.has('zia_migrations') || !tables.has('tenants')) throw new BackupError(`${file} is a SQLite database, but not zia's (no zia_migrations or tenants table)`);
    const applied = (db.prepare('select name from zia_migrations order by id').all() as Array<{ name: string }>).map((r) => r.name);
    const known = new Set(migrations.map(([name]) => name));
    const unknown = applied.filter((name) => !known.has(name));
    if (unknown.length > 0) throw new BackupError(`${file} was made by a newer zia (migration ${unknown[0]} is unknown to this version): upgrade zia first`);
    const rows: Record<string, number> = {};
    for (const table of COUNTED) {
      if (tables.has(table)) rows[table] = Number((db.prepare(`select count(*) as n from "${table}"`).get() as { n: number }).n);
    }
    return { migrations: applied, rows, bytes: statSync(file).size };
  } finally {
    db.close();
  }
}

/**
 * Puts a checked copy of `file` in place of the database at `target`, keeping the database it
 * replaces at `keepAs`. The caller holds the data directory's locks, so no zia server or worker has
 * the database open.
 */
export async function restoreSqlite(file: string, target: string, keepAs: string): Promise<{ summary: DatabaseSummary; kept: boolean }> {
  const staging = `${target}.restoring`;
  await copyDatabase(file, staging);
  let summary: DatabaseSummary;
  try {
    summary = inspectZiaDatabase(staging);
  } catch (err) {
    rmSync(staging, { force: true });
    throw err;
  }
  let kept = false;
  if (existsSync(target)) {
    // Everything committed (a server killed with -9 may have left it in the -wal file) goes into the
    // main file first, so the kept copy is whole and no stale -wal can attach to the restored one.
    const current = new Database(target, { fileMustExist: true });
    try {
      const [result] = current.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
      if (result && result.busy !== 0) throw busy(target);
      current.pragma('journal_mode = DELETE');
    } catch (err) {
      rmSync(staging, { force: true });
      if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) throw busy(target);
      throw err;
    } finally {
      current.close();
    }
    mkdirSync(path.dirname(keepAs), { recursive: true });
    renameSync(target, keepAs);
    kept = true;
  }
  for (const suffix of ['-wal', '-shm', '-journal']) rmSync(`${target}${suffix}`, { force: true });
  renameSync(staging, target);
  return { summary, kept };
}

function busy(target: string): AppError {
  return new AppError(409, 'busy', `${target} is in use by another process (a zia command?): try again when it has finished`);
}

function openOrExplain(file: string, readonly: boolean): Database.Database {
  if (!existsSync(file)) throw new AppError(404, 'not_found', `${file} does not exist`);
  try {
    const db = new Database(file, { readonly, fileMustExist: true });
    db.pragma('schema_version'); // reads the header: a file that is not SQLite fails here
    return db;
  } catch (err) {
    throw new BackupError(`${file} is not a SQLite database (${(err as Error).message})`);
  }
}
