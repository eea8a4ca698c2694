import http from 'node:http';
import { benchDb } from './db.js';
import { startFakeOpenAI, startStreamingZia } from './lib.js';
const fake = await startFakeOpenAI(['reply', '50', '1']);
const up = new Map<string, number>();
fake.child.stdout!.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) { const m = /^ttft (\S+) ([\d.]+)$/.exec(l); if (m) up.set(m[1]!, Number(m[2])); } });
const db = await benchDb((process.env.D ?? 'sqlite') as 'sqlite');
const { zia, url } = await startStreamingZia(db.env, fake.url);
zia.child.stderr!.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) if (l.startsWith('TL ')) tl.push(l); });
const tl: string[] = [];
function one(msg: string): Promise<string> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ message: msg });
    const t0 = performance.now();
    const marks: string[] = [];
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      marks.push(`hdr ${(performance.now() - t0).toFixed(1)}`);
      res.setEncoding('utf8');
      let tok = false;
      res.on('data', (c: string) => {
        const t = (performance.now() - t0).toFixed(1);
        if (c.includes('event: meta')) marks.push(`meta ${t}`);
        if (!tok && c.includes('event: token')) { tok = true; marks.push(`tok ${t}`); }
        if (c.includes('event: done')) { marks.push(`done ${t}`); }
      });
      res.on('end', () => setTimeout(() => resolve(`${marks.join(' ')} | up ${up.get(msg.replace(/\s/g, '_'))?.toFixed(1)}`), 30));
    });
    req.end(body);
  });
}
const N = Number(process.env.N ?? 10);
const out: string[] = [];
for (let i = 0; i < N; i++) out.push(await one(`probe ${i}`));
const num = (re: RegExp) => out.map((l) => Number(re.exec(l)![1])).sort((a, b) => a - b);
const added = out.map((l) => Number(/tok ([\d.]+)/.exec(l)![1]) - Number(/up ([\d.]+)/.exec(l)![1])).sort((a, b) => a - b);
console.log(tl.slice(-6).join("\n"));
console.log("hdr p50", num(/hdr ([\d.]+)/)[N >> 1], "added p50", added[N >> 1].toFixed(1), "p90", added[Math.floor(N * 0.9)].toFixed(1));
await zia.stop(); await db.drop(); await fake.stop();
