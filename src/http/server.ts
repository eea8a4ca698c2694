import http from 'node:http';
import type { Express } from 'express';

/**
 * The HTTP server for the app. Express moves every request and response onto its own prototypes
 * (app.request, app.response) with Object.setPrototypeOf, and on V8 an object whose prototype is
 * switched after construction gets a hidden class of its own, copied again for each property set
 * afterwards: a few KB held per open request and many more churned, which thousands of held streams
 * multiply. Here the server constructs them from subclasses whose prototypes Express then adopts as
 * app.request and app.response, so its switch finds the prototype already in place and does nothing,
 * and all requests share hidden classes. Call it once per app.
 */
export function createHttpServer(app: Express): http.Server {
  class Request extends http.IncomingMessage {}
  class Response extends http.ServerResponse {}
  Object.setPrototypeOf(Request.prototype, app.request);
  Object.setPrototypeOf(Response.prototype, app.response);
  app.request = Request.prototype as Express['request'];
  app.response = Response.prototype as Express['response'];
  return http.createServer({ IncomingMessage: Request, ServerResponse: Response }, app);
}
