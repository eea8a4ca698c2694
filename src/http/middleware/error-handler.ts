import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, NotConfiguredError, RateLimitError, UnauthorizedError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { idOf } from './request-id.js';

export function notFound(): RequestHandler {
  return (req, res) => {
    res.status(404).json({
      error: { code: 'not_found', message: `no route for ${req.method} ${req.path}`, request_id: idOf(req) },
    });
  };
}

/** What an anonymous caller is told about a feature the operator has not set up: no setting's name. */
export const NOT_CONFIGURED_PUBLIC_MESSAGE = 'this feature is not available for this business right now';

/** How often the same missing setting is logged for one tenant. */
export const NOT_CONFIGURED_WARN_INTERVAL_MS = 5 * 60_000;

/**
 * The one error middleware. AppErrors carry their status and code; body-parser errors carry `status`
 * and `type`; anything else is a bug: logged with its stack, answered as a bare 500. A feature that
 * is not set up is the operator's to fix, not a bug: a warning naming the setting, once per tenant and
 * setting per interval, and to anonymous callers (public routes) a 503 that names nothing.
 */
export function errorHandler(logger: Logger, warnIntervalMs = NOT_CONFIGURED_WARN_INTERVAL_MS): ErrorRequestHandler {
  const warned = new Map<string, number>();
  const warnNotConfigured = (err: NotConfiguredError, tenant: string | undefined, request_id: string | undefined) => {
    const now = Date.now();
    const key = `${tenant ?? ''}\n${err.message}`;
    if ((warned.get(key) ?? -Infinity) > now - warnIntervalMs) return;
    if (warned.size > 10_000) for (const [k, at] of warned) if (at <= now - warnIntervalMs) warned.delete(k);
    warned.set(key, now);
    logger.warn({ tenant, request_id }, `not configured: ${err.message} (logged at most every ${Math.round(warnIntervalMs / 1000)} s per tenant)`);
  };
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
    // Answers anyone can provoke in bulk are logged once per burst where they are decided (the key
    // guard, the rate limit, the not-configured warning), and a deliberate 5xx is logged just below,
    // so their request lines stay at debug.
    if (err instanceof RateLimitError || err instanceof UnauthorizedError || (err instanceof AppError && status >= 500)) res.locals.quietLog = true;
    if (err instanceof NotConfiguredError) {
      warnNotConfigured(err, tenantOf(req.query?.tenant, req.body), request_id);
      if (res.locals.auth === 'public') message = NOT_CONFIGURED_PUBLIC_MESSAGE;
    } else if (err instanceof AppError && status >= 500) logger.warn({ request_id, code, message }, 'request failed');
    else if (status >= 500) logger.error({ err, request_id }, 'request failed');
    else logger.debug({ request_id, code, message }, 'request rejected');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).json({ error: { code, message, ...(details !== undefined ? { details } : {}), request_id } });
  };
}

function tenantOf(query: unknown, body: unknown): string | undefined {
  if (typeof query === 'string') return query.slice(0, 64);
  const t = (body as { tenant?: unknown } | undefined)?.tenant;
  return typeof t === 'string' ? t.slice(0, 64) : undefined;
}
