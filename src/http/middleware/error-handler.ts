import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, RateLimitError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { idOf } from './request-id.js';

export function notFound(): RequestHandler {
  return (req, res) => {
    res.status(404).json({
      error: { code: 'not_found', message: `no route for ${req.method} ${req.path}`, request_id: idOf(req) },
    });
  };
}

/**
 * The one error middleware. AppErrors carry their status and code; body-parser errors carry `status`
 * and `type`; anything else is a bug: logged with its stack, answered as a bare 500.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const request_id = idOf(req);
    let status = 500;
    let code = 'internal';
    let message = 'internal error';
    let details: unknown;
    if (err instanceof AppError) {
      ({ status, code, message, details } = err);
      if (err instanceof RateLimitError && err.retryAfterSeconds) res.setHeader('retry-after', String(err.retryAfterSeconds));
    } else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      status = err.status;
      code = err.type === 'entity.parse.failed' ? 'malformed_json' : String(err.type ?? 'bad_request').replace(/\./g, '_');
      message =
        err.type === 'entity.parse.failed'
          ? 'request body is not valid JSON'
          : err.type === 'entity.too.large'
            ? 'request body is too large'
            : String(err.expose ? err.message : 'bad request');
    }
    if (status >= 500) logger.error({ err, request_id }, 'request failed');
    else logger.debug({ request_id, code, message }, 'request rejected');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).json({ error: { code, message, ...(details !== undefined ? { details } : {}), request_id } });
  };
}
