// Baseline servers for the benchmarks, run as separate processes: `node baselines.ts express|http`.
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
