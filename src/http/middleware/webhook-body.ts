import type { Request, RequestHandler, Response } from 'express';
import getRawBody from 'raw-body';
import { AppError } from '../../errors.js';

/** Meta, Twilio and Stripe send a few KB per webhook; 1 MB is ample for any of them. */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

export class PayloadTooLargeError extends AppError {
  constructor(limit: number) {
    super(413, 'payload_too_large', `request body is larger than ${limit} bytes`);
  }
}

/**
 * Reads a webhook's body as raw bytes, at most `limit` of them. A larger announced length is refused at
 * once, and a body without a length (chunked) is refused as soon as it passes the limit: nothing more is
 * read, and the connection is closed after the answer so the sender cannot keep it busy. (The shared
 * body parsers read a refused body to its end before answering.) `form` parses the bytes as
 * application/x-www-form-urlencoded, repeated keys as arrays, as Twilio signs them.
 */
export function webhookBody(as: 'raw' | 'form', limit = WEBHOOK_BODY_LIMIT): RequestHandler {
  return (req, res, next) => {
    const refuse = (err: AppError) => {
      res.setHeader('connection', 'close');
      next(err);
    };
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') return refuse(new AppError(415, 'unsupported_encoding', 'webhook bodies are not compressed'));
    const announced = req.headers['content-length'];
    if (announced !== undefined && Number(announced) > limit) return refuse(new PayloadTooLargeError(limit));
    getRawBody(req, { length: announced, limit })
      .then((raw) => {
        req.body = as === 'raw' ? raw : formOf(raw);
        next();
      })
      .catch((err: { type?: string; status?: number }) => {
        if (err.type === 'entity.too.large') return refuse(new PayloadTooLargeError(limit));
        // The client went away or sent fewer bytes than announced: nobody is left to read an answer.
        if (!req.readableEnded) req.socket.destroy();
        else refuse(new AppError(400, 'bad_request', 'request body could not be read'));
      });
  };
}

function formOf(raw: Buffer): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [key, value] of new URLSearchParams(raw.toString('utf8'))) {
    const had = out[key];
    if (had === undefined) out[key] = value;
    else if (Array.isArray(had)) had.push(value);
    else out[key] = [had, value];
  }
  return out;
}

/** Runs `check` before any byte of the body is read: an unsigned webhook is refused without reading it. */
export function beforeBody(check: (req: Request, res: Response) => void): RequestHandler {
  return (req, res, next) => {
    try {
      check(req, res);
      next();
    } catch (err) {
      res.setHeader('connection', 'close');
      next(err);
    }
  };
}
