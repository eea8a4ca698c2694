import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AppError } from '../errors.js';

/**
 * Who may own an embedded (SQLite) data directory: one HTTP server and one worker, in one process
 * (`zia serve`) or two (`zia serve --no-worker` beside `zia worker`). Each role is a lock of its own.
 */
export type LockRole = 'server' | 'worker';

export interface DataDirLock {
  release(): void;
}

export class DataDirLockedError extends AppError {
  constructor(
    message: string,
    public readonly role: LockRole,
    public readonly pid: number | undefined,
  ) {
    super(409, 'data_dir_locked', message);
  }
}

const lockFile = (dir: string, role: LockRole) => path.join(dir, `zia-${role}.lock`);
const pidFile = (dir: string, role: LockRole) => path.join(dir, `zia-${role}.pid`);

/**
 * Takes the given roles' locks on the data directory, or throws DataDirLockedError naming the pid
 * of the process that holds one. Each lock is a small SQLite file written under
 * `locking_mode=EXCLUSIVE`: SQLite keeps its OS (fcntl) lock until the connection closes, and the OS
 * drops it when the process dies, so a server killed with -9 leaves nothing stale behind. The pid
 * sits in a sidecar file because nobody else can read a file locked that way.
 */
export function lockDataDir(dir: string, roles: LockRole[]): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const held: Array<{ role: LockRole; conn: Database.Database }> = [];
  const release = () => {
    for (const { role, conn } of held.splice(0).reverse()) {
      // The pid file goes first: once the lock is free, the next holder writes its own.
      rmSync(pidFile(dir, role), { force: true });
      conn.close();
    }
  };
  for (const role of roles) {
    const conn = tryLock(lockFile(dir, role));
    if (!conn) {
      release();
      const pid = readPid(pidFile(dir, role));
      throw new DataDirLockedError(
        `another zia ${role === 'server' ? 'server' : 'worker'} (${pid ? `pid ${pid}` : 'pid unknown'}) is using ${dir}: ` +
          `stop it first (one server and one worker own an embedded database; use PostgreSQL to run more)`,
        role,
        pid,
      );
    }
    held.push({ role, conn });
    writeFileSync(pidFile(dir, role), `${process.pid}\n`);
  }
  return { release };
}

function tryLock(file: string): Database.Database | undefined {
  const conn = new Database(file, { timeout: 0 });
  try {
    conn.pragma('locking_mode = EXCLUSIVE');
    conn.pragma('journal_mode = MEMORY'); // the file's content does not matter: no journal file beside it
    // A write takes the EXCLUSIVE lock; in this locking mode it is kept after the commit.
    conn.exec(`BEGIN EXCLUSIVE; PRAGMA user_version = ${process.pid % 2_000_000_000}; COMMIT`);
    return conn;
  } catch (err) {
    conn.close();
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) return undefined;
    throw err;
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
