import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import { parseInput } from '../validation.js';
import { openApiDocument } from './openapi.js';
import { idOf } from './middleware/request-id.js';
import type { AuthLevel, RouteDef } from './route-def.js';

export type { AuthLevel, RouteDef } from './route-def.js';

/**
 * Routes are declared with their zod schemas once: the same declaration validates the request and
 * documents it in /openapi.json, so the document cannot drift from what the server accepts.
 */

export type Principal = { kind: 'admin' } | { kind: 'tenant-key'; tenantId: string; keyId: string };

export type Authenticator = (req: Request, level: Exclude<AuthLevel, 'public'>) => Promise<Principal>;

export interface RouteContext<B, Q, P> {
  req: Request;
  res: Response;
  body: B;
  query: Q;
  params: P;
  principal: Principal | undefined;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a handler adds to its route's audit entry (noteAudit); who, from where and when, Api knows. */
export interface AuditNote {
  /** Instead of the route's action, for a route that does one of two things (create or update). */
  action?: string;
  /** The tenant acted on, when the request does not name it (a conversation or a delivery by id). */
  tenant?: { id?: string; slug?: string };
  target?: string;
  /** Names, ids and counts: never a setting's value or a secret. */
  details?: Record<string, unknown>;
}

export interface ApiAuditEntry {
  action: string;
  principal: Principal;
  ip: string | undefined;
  requestId: string;
  tenant: { id?: string; slug?: string } | undefined;
  target: string | undefined;
  details: Record<string, unknown>;
}

export type AuditSink = (entry: ApiAuditEntry) => Promise<unknown>;

export function noteAudit(res: Response, note: AuditNote): void {
  const previous = res.locals.audit as AuditNote | undefined;
  res.locals.audit = { ...previous, ...note, details: { ...previous?.details, ...note.details } };
}

/** What the request itself names, kept for its audit entry once the handler is done. */
interface Seen {
  principal?: Principal;
  params?: unknown;
  query?: unknown;
  body?: unknown;
  recorded?: boolean;
}

export class Api {
  private readonly defs: Array<RouteDef<z.ZodType, z.ZodType, z.ZodType>> = [];

  /** `fail` answers an error as the app's error middleware does (see route); `audit` stores audit entries. */
  constructor(
    private readonly authenticate: Authenticator,
    private readonly fail: (err: unknown, req: Request, res: Response) => void,
    private readonly audit?: AuditSink,
  ) {}

  /**
   * Registers a handler. Whatever it returns is sent as JSON (with def.status); a handler that
   * streams or sends another content type writes to `res` itself and returns undefined.
   */
  route<B extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, P extends z.ZodType = z.ZodUndefined>(
    router: Router,
    def: RouteDef<B, Q, P>,
    handler: (ctx: RouteContext<Out<B>, Out<Q>, Out<P>>) => unknown,
    ...middleware: RequestHandler[]
  ): void {
    this.defs.push(def as unknown as RouteDef<z.ZodType, z.ZodType, z.ZodType>);
    /** Authenticates and validates, then hands over to the handler (not awaited: see run). */
    const execute = async (req: Request, res: Response, seen?: Seen): Promise<unknown> => {
      // The error middleware tells anonymous callers less than operators (see errorHandler).
      res.locals.auth = def.auth;
      const principal = def.auth === 'public' ? undefined : await this.authenticate(req, def.auth);
      const params = def.params ? parseInput(def.params, req.params, 'params') : undefined;
      const query = def.query ? parseInput(def.query, req.query, 'query') : undefined;
      const body = def.body ? parseInput(def.body, req.body ?? {}, 'body') : undefined;
      if (seen) Object.assign(seen, { principal, params, query, body });
      return handler({ req, res, body, query, params, principal } as RouteContext<Out<B>, Out<Q>, Out<P>>);
    };
    const respond = (res: Response, result: unknown) => {
      // A handler may pick its own status (create-or-update answers 201 or 200); else def.status.
      const status = res.statusCode !== 200 ? res.statusCode : (def.status ?? (result === undefined ? 204 : 200));
      if (!res.headersSent && !res.writableEnded) {
        if (result === undefined) res.status(status).end();
        else res.status(status).json(result);
      }
    };
    // The route is the request's last stop, so Express is given nothing to wait for and no way back:
    // a pending promise, or `req.next`, keeps the router's state for this request (its chain of `next`
    // closures) for as long as the handler runs, and a chat stream runs for minutes. For the same
    // reason nothing here awaits the handler: an async frame would be kept as long.
    const run = (req: Request, res: Response) => {
      req.next = undefined;
      execute(req, res)
        .then((result) => respond(res, result))
        .catch((err: unknown) => this.fail(err, req, res));
    };
    // Audited routes are writes and exports, never the long chat streams the note above is about.
    const audited = (req: Request, res: Response) => {
      req.next = undefined;
      const seen: Seen = {};
      const record = (extra?: Record<string, unknown>) => {
        seen.recorded = true;
        return this.record(def.audit!, req, res, seen, extra);
      };
      execute(req, res, seen)
        .then(async (result) => {
          // Before the answer goes out: a caller that got its 2xx finds the entry.
          if (res.statusCode < 300) await record();
          respond(res, result);
        })
        .catch((err: unknown) => {
          const answer = () => this.fail(err, req, res);
          // A stream that broke part-way has sent data already: that is recorded too, as interrupted.
          if (!seen.recorded && res.headersSent && res.statusCode < 300) record({ interrupted: true }).then(answer, answer);
          else answer();
        });
    };
    router[def.method](def.path, ...middleware, def.audit === undefined ? run : audited);
  }

  private async record(action: string, req: Request, res: Response, seen: Seen, extra?: Record<string, unknown>): Promise<void> {
    if (!this.audit || !seen.principal) return;
    const note = (res.locals.audit ?? {}) as AuditNote;
    const named = namedIn(seen);
    await this.audit({
      action: note.action ?? action,
      principal: seen.principal,
      ip: req.ip,
      requestId: idOf(req),
      tenant: note.tenant ?? (named.slug === undefined ? undefined : { slug: named.slug }),
      target: note.target ?? named.target,
      details: { ...note.details, ...extra },
    });
  }

  /** The OpenAPI 3.1 document for every route registered so far. */
  document(info: { title: string; version: string; serverUrl: string }): Record<string, unknown> {
    return openApiDocument(this.defs, info);
  }
}

/** The tenant (`:slug`, `?tenant=`, `"tenant"` in the body) and the object (`:id`, else `:slug`) a request names. */
function namedIn(seen: Seen): { slug?: string; target?: string } {
  const field = (from: unknown, key: string) => {
    const value = (from as Record<string, unknown> | undefined)?.[key];
    return typeof value === 'string' ? value : undefined;
  };
  const slug = field(seen.params, 'slug') ?? field(seen.query, 'tenant') ?? field(seen.body, 'tenant');
  return { slug, target: field(seen.params, 'id') ?? field(seen.params, 'slug') };
}
