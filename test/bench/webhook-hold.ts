import net from 'node:net';
import { benchDb } from './db.js';
import { ADMIN_KEY, SECRET_KEY, fmt, rssOf, startZia } from './lib.js';

/**
 * What unsigned webhook bodies held open cost a server: CONNECTIONS clients each announce a BODY_MB body
 * to /v1/meta/webhook (or send it chunked, without a length), send all of it but the last byte and keep
 * the connection open. The figure is the server's RSS growth once every body is in (or refused).
 * Run: npm run build && node --import=tsx test/bench/webhook-hold.ts [length|chunked] [forged]
 */

const CONNECTIONS = Number(process.env.ZIA_BENCH_HOLD_CONNECTIONS ?? 100);
const BODY_BYTES = Number(process.env.ZIA_BENCH_HOLD_MB ?? 4) * 1024 * 1024;
const mode = (process.argv[2] ?? 'length') as 'length' | 'chunked';
/** `forged`: with a well-formed but wrong signature header, so the body has to be read (up to the cap) to be checked. */
const forged = process.argv[3] === 'forged';

/** Sends headers and all but the last byte; resolves when written or the server closed or answered. */
function hold(port: number): Promise<{ socket: net.Socket; answered: () => string }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (d) => (reply += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      const head = ['POST /v1/meta/webhook HTTP/1.1', 'Host: 127.0.0.1', 'Content-Type: application/json'];
      head.push(mode === 'length' ? `Content-Length: ${BODY_BYTES}` : 'Transfer-Encoding: chunked');
      if (forged) head.push(`X-Hub-Signature-256: sha256=${'0'.repeat(64)}`);
      socket.write(`${head.join('\r\n')}\r\n\r\n`);
      const piece = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < BODY_BYTES - 1 && !socket.destroyed) {
          const n = Math.min(piece.length, BODY_BYTES - 1 - sent);
          const chunk = mode === 'length' ? piece.subarray(0, n) : Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), piece.subarray(0, n), Buffer.from('\r\n')]);
          sent += n;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
        resolve({ socket, answered: () => reply.split('\r\n')[0] ?? '' });
      };
      pump();
    });
    socket.on('close', () => resolve({ socket, answered: () => reply.split('\r\n')[0] || 'closed' }));
  });
}

const db = await benchDb('sqlite');
const zia = await startZia({ ...db.env, ADMIN_KEY, ZIA_SECRET_KEY: SECRET_KEY, META_APP_SECRET: 'bench-meta-app-secret' }, ['--no-worker']);
try {
  const port = Number(new URL(zia.url).port);
  await fetch(`${zia.url}/healthz`);
  const before = rssOf(zia.child.pid!);
  const held = await Promise.all(Array.from({ length: CONNECTIONS }, () => hold(port)));
  await new Promise((r) => setTimeout(r, 1500));
  const after = rssOf(zia.child.pid!);
  const answers = new Map<string, number>();
  for (const h of held) answers.set(h.answered() || 'no answer yet', (answers.get(h.answered() || 'no answer yet') ?? 0) + 1);
  console.log(
    JSON.stringify({
      mode,
      forged,
      connections: CONNECTIONS,
      body_mb: BODY_BYTES / 1024 / 1024,
      rss_before_mb: fmt(before / 1024 / 1024, 1),
      rss_after_mb: fmt(after / 1024 / 1024, 1),
      growth_mb: fmt((after - before) / 1024 / 1024, 1),
      answers: Object.fromEntries(answers),
    }),
  );
  for (const h of held) h.socket.destroy();
} finally {
  await zia.stop();
  await db.drop();
}
