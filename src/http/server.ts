import http from 'node:http';
import type { Express } from 'express';
import type { Config } from '../config.js';

export type ServerLimits = Pick<Config, 'ZIA_HEADERS_TIMEOUT_MS' | 'ZIA_REQUEST_TIMEOUT_MS' | 'ZIA_MAX_CONNECTIONS'>;

/**
 * The HTTP server for the app. Express moves every request and response onto its own prototypes
 * (app.request, app.response) with Object.setPrototypeOf, and on V8 an object whose prototype is
 * switched after construction gets a hidden class of its own, copied again for each property set
 * afterwards: a few KB held per open request and many more churned, which thousands of held streams
 * multiply. Here the server constructs them from subclasses whose prototypes Express then adopts as
 * app.request and app.response, so its switch finds the prototype already in place and does nothing,
 * and all requests share hidden classes. Call it once per app.
 *
 * The limits bound what a slow or silent client can hold: its headers must arrive within
 * headersTimeout and its whole request (headers and body) within requestTimeout. Both cover receiving
 * the request only, so a long response (a chat stream) is unaffected. Past maxConnections new
 * connections are closed at once.
 */
export function createHttpServer(app: Express, limits?: ServerLimits): http.Server {
  class Request extends http.IncomingMessage {}
  class Response extends http.ServerResponse {}
  Object.setPrototypeOf(Request.prototype, app.request);
  Object.setPrototypeOf(Response.prototype, app.response);
  app.request = Request.prototype as Express['request'];
  app.response = Response.prototype as Express['response'];
  if (!limits) return http.createServer({ IncomingMessage: Request, ServerResponse: Response }, app);
  const server = http.createServer(
    {
      IncomingMessage: Request,
      ServerResponse: Response,
      headersTimeout: limits.ZIA_HEADERS_TIMEOUT_MS,
      requestTimeout: limits.ZIA_REQUEST_TIMEOUT_MS,
      // Node checks the two timeouts on this interval (default 30 s): a tenth of the shorter one keeps a
      // silent client from outstaying its timeout by more than that.
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(limits.ZIA_HEADERS_TIMEOUT_MS / 10))),
    },
    app,
  );
  if (limits.ZIA_MAX_CONNECTIONS > 0) server.maxConnections = limits.ZIA_MAX_CONNECTIONS;
  return server;
}
