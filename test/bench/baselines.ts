// Baseline servers for the benchmarks, run as separate processes: `node baselines.ts express|http`, or
// `node baselines.ts relay <OpenAI-compatible base URL>`.
import http from 'node:http';
import express from 'express';

const kind = process.argv[2];
if (kind === 'express') {
  const app = express();
  app.use(express.json());
  app.post('/v1/chat', (_req, res) => {
    res.json({ reply: 'hello world' });
  });
  const server = app.listen(0, '127.0.0.1', () => {
    console.log(`baseline listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
  });
} else if (kind === 'relay') {
  // The least a server can do between a chat client and a streaming model: read the message, send one
  // request upstream on a kept-alive connection, write each content fragment as an SSE token. Under the
  // same load as zia it shows what the box's loopback hops and scheduling add to a first token by themselves.
  const upstream = new URL(`${process.argv[3]!.replace(/\/$/, '')}/chat/completions`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const { message } = JSON.parse(body) as { message: string };
      const payload = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: message }] });
      const up = http.request(upstream, { method: 'POST', agent, headers: { authorization: 'Bearer test', 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (upRes) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        upRes.setEncoding('utf8');
        let pending = '';
        upRes.on('data', (chunk: string) => {
          pending += chunk;
          const lines = pending.split('\n');
          pending = lines.pop()!;
          for (const line of lines) {
            if (!line.startsWith('data: ')) continue;
            const data = line.slice(6);
            if (data === '[DONE]') continue;
            const text = (JSON.parse(data) as { choices: Array<{ delta?: { content?: string } }> }).choices[0]?.delta?.content;
            if (text) res.write(`event: token\ndata: ${JSON.stringify({ text })}\n\n`);
          }
        });
        upRes.on('end', () => res.end('event: done\ndata: {}\n\n'));
      });
      up.on('error', () => res.destroy());
      up.end(payload);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    console.log(`baseline listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
  });
} else {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"reply":"hello world"}');
    });
  });
  server.listen(0, '127.0.0.1', () => {
    console.log(`baseline listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
  });
}
