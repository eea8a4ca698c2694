import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A shop's web server: serves catalog documents (or misbehaves: slow, huge, redirects) on 127.0.0.1,
 * and records every request the way the shop would see it (path, headers).
 */
export type Route = (req: IncomingMessage, res: ServerResponse) => void;

export interface FakeShop {
  url: string;
  port: number;
  requests: Array<{ path: string; headers: IncomingMessage['headers'] }>;
  route(path: string, handler: Route): void;
  json(path: string, body: unknown): void;
  close(): Promise<void>;
}

export async function startFakeShop(host = '127.0.0.1'): Promise<FakeShop> {
  const routes = new Map<string, Route>();
  const requests: FakeShop['requests'] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push({ path, headers: req.headers });
    const handler = routes.get(path);
    if (!handler) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    requests,
    route: (path, handler) => routes.set(path, handler),
    json: (path, body) =>
      routes.set(path, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A bare TCP listener that only counts connections: an SSRF target that must never be reached. */
export interface CountingListener {
  port: number;
  host: string;
  connections(): number;
  close(): Promise<void>;
}

export async function startCountingListener(host = '127.0.0.1'): Promise<CountingListener> {
  let count = 0;
  const server: TcpServer = createTcpServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    host,
    connections: () => count,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
