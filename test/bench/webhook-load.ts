// A fixed-rate sender of signed Meta webhooks, run as its own process by p3-webhook.ts and p7-replies.ts:
// `node --import=tsx webhook-load.ts <url> <appSecret> <pageIds> <rate> <seconds> [warmupSeconds] [senders] [senderPrefix]`;
// prints JSON: latencies of the measured requests (the warm-up's are sent the same way and not
// counted), and for every request its page, its sender and when it left (epoch ms). Message i comes
// from sender <senderPrefix>i mod <senders> (PSID, 997 by default) of page i mod <number of pages>
// (comma-separated ids).
import { createHmac } from 'node:crypto';
import http from 'node:http';

const [url, secret, pagesArg, rateArg, secondsArg, warmupArg, sendersArg, prefix = 'PSID'] = process.argv.slice(2) as [string, string, string, string, string, string?, string?, string?];
const pages = pagesArg.split(',');
const senders = Number(sendersArg ?? 997);
const rate = Number(rateArg);
const warmup = rate * Number(warmupArg ?? 0);
const total = warmup + rate * Number(secondsArg);
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

const sent: Array<{ page: string; sender: string; at: number }> = [];

function body(i: number): Buffer {
  const pageId = pages[i % pages.length]!;
  const sender = `${prefix}${i % senders}`;
  sent.push({ page: pageId, sender, at: Date.now() });
  return Buffer.from(
    JSON.stringify({
      object: 'page',
      entry: [
        {
          id: pageId,
          time: Date.now(),
          messaging: [{ sender: { id: sender }, recipient: { id: pageId }, timestamp: Date.now(), message: { mid: `m_bench_${process.pid}_${i}`, text: `What are your opening hours? (${i})` } }],
        },
      ],
    }),
  );
}

function send(i: number): Promise<{ ms: number; status: number }> {
  const payload = body(i);
  const signature = `sha256=${createHmac('sha256', secret).update(payload).digest('hex')}`;
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length, 'x-hub-signature-256': signature } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0 }));
      },
    );
    req.on('error', () => resolve({ ms: performance.now() - started, status: 0 }));
    req.end(payload);
  });
}

// Open-loop: request i is sent at i/rate seconds whatever happened to the earlier ones, so a slow
// server shows up as latency instead of quietly lowering the rate (coordinated omission).
const results: Array<Promise<{ ms: number; status: number }>> = [];
const start = performance.now();
for (let i = 0; i < total; i++) {
  const due = start + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  results.push(send(i));
}
const done = (await Promise.all(results)).slice(warmup);
const elapsed = (performance.now() - start) / 1000 - warmup / rate;
agent.destroy();
process.stdout.write(JSON.stringify({ elapsed, latencies: done.map((d) => d.ms), errors: done.filter((d) => d.status !== 200).length, sent }));
