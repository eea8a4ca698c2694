import test from 'ava';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataDirLockedError, lockDataDir } from '../../src/db/data-dir-lock.js';

test('a role is held once; another role of the same directory is free; release frees it and removes the pid file', (t) => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'zia-lock-')), 'data');
  const server = lockDataDir(dir, ['server']);
  t.is(readFileSync(path.join(dir, 'zia-server.pid'), 'utf8').trim(), String(process.pid));
  const err = t.throws(() => lockDataDir(dir, ['worker', 'server']), { instanceOf: DataDirLockedError });
  t.is(err?.role, 'server');
  t.is(err?.pid, process.pid);
  t.true(err?.message.includes(`pid ${process.pid}`));
  t.false(existsSync(path.join(dir, 'zia-worker.pid')), 'a refused lock gives back the roles it had taken');

  const worker = lockDataDir(dir, ['worker']);
  worker.release();
  server.release();
  t.false(existsSync(path.join(dir, 'zia-server.pid')));
  const again = lockDataDir(dir, ['server', 'worker']);
  again.release();
  t.false(existsSync(path.join(dir, 'zia-server.lock-journal')), 'no journal file is left beside the lock');
});
