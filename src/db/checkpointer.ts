import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the background thread moves committed pages from the WAL into the database file. */
const CHECKPOINT_EVERY_MS = 200;
/**
 * The main connection's own automatic checkpoint, kept as a backstop: it only fires when the WAL has
 * grown this far, i.e. when the background thread has fallen far behind (SQLite's default is 1,000).
 */
export const BACKSTOP_WAL_PAGES = 10_000;

// The thread's whole program: one connection of its own, a passive checkpoint on a timer (it never
// waits for or blocks a writer), a last one when told to stop. Errors are reported, never thrown.
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const checkpoint = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage(String(err && err.message || err)); }
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

/**
 * Checkpoints a WAL-mode SQLite database from a worker thread. better-sqlite3 is synchronous, so a
 * checkpoint run by the serving connection (copying pages and two fsyncs) stopped the event loop —
 * every open stream, every request — for as long as the disk took. In its own thread it only costs
 * a core's time. The cadence keeps the WAL as short as SQLite's default would, and shorter when idle.
 */
export function startCheckpointer(path: string, onError: (message: string) => void): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(PROGRAM, { eval: true, workerData: { module, path, everyMs: CHECKPOINT_EVERY_MS } });
  worker.on('message', (m: string) => onError(m));
  worker.on('error', (err) => onError(err.message));
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    async stop() {
      worker.postMessage('stop');
      await exited;
    },
  };
}
