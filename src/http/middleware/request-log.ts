import type { RequestHandler } from 'express';
import type { Logger } from '../../logger.js';
import { idOf } from './request-id.js';

/** Health checks and scrapes come every few seconds and say nothing. */
const QUIET = new Set(['/healthz', '/metrics']);

/**
 * One line per request when it ends: 5xx at error, 4xx at warn, the rest at debug; answers the error
 * handler marks quiet (refusals logged once per burst elsewhere) at debug. Method and path
 * only — query strings and headers can carry tokens (hub.verify_token, x-api-key). Nothing is built
 * for a request whose line the log level drops, so the default level costs a chat turn nothing.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (QUIET.has(req.path)) return next();
    const started = performance.now();
    res.once('close', () => {
      const status = res.statusCode;
      const level = res.locals.quietLog ? 'debug' : status >= 500 ? 'error' : status >= 400 ? 'warn' : 'debug';
      if (!logger.isLevelEnabled(level)) return;
      const line = {
        req: { id: idOf(req), method: req.method, path: req.originalUrl.split('?')[0] },
        res: { status },
        ms: Math.round((performance.now() - started) * 10) / 10,
      };
      logger[level](line, res.writableFinished ? 'request completed' : 'request aborted');
    });
    next();
  };
}
