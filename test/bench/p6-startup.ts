import { spawnSync } from 'node:child_process';
import { benchDb } from './db.js';
import { BIN, fmt, median, startZia, type Row } from './lib.js';

function timeCommand(args: string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
    times.push(performance.now() - t);
  }
  return median(times);
}

/** P6: `zia --help` against `node -e 0`; `zia serve` on a fresh database until /healthz answers. */
export async function p6(dialect: 'sqlite' | 'pg'): Promise<Row[]> {
  const rows: Row[] = [];
  if (dialect === 'sqlite') {
    const node = timeCommand(['-e', '0'], 15);
    const help = timeCommand([BIN, '--help'], 15);
    rows.push({ id: 'P6', what: '`zia --help` (median of 15)', dialect: '-', figure: `${fmt(help)} ms`, baseline: `node -e 0: ${fmt(node)} ms`, ratio: help / node, target: '≤ 5.0', pass: help / node <= 5 });
  }
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const db = await benchDb(dialect);
    try {
      const t = performance.now();
      const zia = await startZia(db.env);
      const res = await fetch(`${zia.url}/healthz`);
      if (res.status !== 200) throw new Error('healthz failed');
      times.push(performance.now() - t);
      await zia.stop();
    } finally {
      await db.drop();
    }
  }
  const ready = median(times);
  rows.push({ id: 'P6', what: '`zia serve` ready on a fresh DB (median of 3)', dialect, figure: `${fmt(ready)} ms`, baseline: '1,500 ms', ratio: ready / 1500, target: '≤ 1.0', pass: ready <= 1500 });
  return rows;
}
