// `npm run bench`: DESIGN.md §7 targets, each measured against a baseline in the same run.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pgAvailable } from './db.js';
import { ROOT, fmt, type Row } from './lib.js';
import { p1 } from './p1-chat.js';
import { p2 } from './p2-sse.js';
import { p3 } from './p3-webhook.js';
import { p4 } from './p4-streams.js';
import { p5 } from './p5-export.js';
import { p6 } from './p6-startup.js';
import { p7, p8, p9 } from './p7-replies.js';
import { k1 } from './k1-knowledge.js';

type Bench = { id: string; run: (dialect: 'sqlite' | 'pg') => Promise<Row[]> };

const BENCHES: Bench[] = [
  { id: 'P1', run: p1 },
  { id: 'P2', run: p2 },
  { id: 'P3', run: p3 },
  { id: 'P4', run: p4 },
  { id: 'P5', run: p5 },
  { id: 'P6', run: p6 },
  { id: 'P7', run: p7 },
  { id: 'P8', run: p8 },
  { id: 'P9', run: p9 },
  { id: 'K1', run: k1 },
];

const only = process.argv.slice(2).map((s) => s.toUpperCase());
// ZIA_BENCH_DIALECT=sqlite|pg runs one dialect only (while working on one figure).
const wanted = process.env.ZIA_BENCH_DIALECT;
const dialects: Array<'sqlite' | 'pg'> = ((await pgAvailable()) ? (['sqlite', 'pg'] as const) : (['sqlite'] as const)).filter((d) => !wanted || d === wanted);
if (!wanted && dialects.length === 1) console.error('PostgreSQL not reachable: benchmarking SQLite only (set ZIA_TEST_PG_URL)');

const rows: Row[] = [];
for (const b of BENCHES) {
  if (only.length > 0 && !only.includes(b.id)) continue;
  for (const d of dialects) {
    process.stderr.write(`${b.id} ${d} …\n`);
    try {
      rows.push(...(await b.run(d)));
    } catch (err) {
      rows.push({ id: b.id, what: `failed: ${(err as Error).message.split('\n')[0]}`, dialect: d, figure: '-', baseline: '-', ratio: null, target: '-', pass: false });
    }
  }
}

const headers = ['id', 'what', 'dialect', 'figure', 'baseline', 'ratio', 'target', 'ok'];
const table = rows.map((r) => [r.id, r.what, r.dialect, r.figure, r.baseline, r.ratio === null ? '-' : fmt(r.ratio, 2), r.target, r.pass ? 'yes' : 'NO']);
const widths = headers.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(line(headers));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const t of table) console.log(line(t));

const outDir = path.join(ROOT, 'bench-results');
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'bench.json'), JSON.stringify({ at: new Date().toISOString(), node: process.version, rows }, null, 2));
console.error(`written ${path.join('bench-results', 'bench.json')}`);
process.exitCode = rows.every((r) => r.pass) ? 0 : 1;
