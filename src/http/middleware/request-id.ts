import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

const VALID = /^[\w.:-]{1,128}$/;

/** Keeps a caller's x-request-id when it is sane, else makes one; echoed on the response. */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && VALID.test(given) ? given : randomUUID();
    (req as { id?: string }).id = id;
    res.setHeader('x-request-id', id);
    next();
  };
}

export function idOf(req: unknown): string {
  return ((req as { id?: string }).id ?? 'unknown') as string;
}
