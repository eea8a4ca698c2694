import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import { parseInput } from '../validation.js';
import { openApiDocument } from './openapi.js';
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

export class Api {
  private readonly defs: Array<RouteDef<z.ZodType, z.ZodType, z.ZodType>> = [];

  /** `fail` answers an error as the app's error middleware does (see route). */
  constructor(
    private readonly authenticate: Authenticator,
    private readonly fail: (err: unknown, req: Request, res: Response) => void,
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
    const execute = async (req: Request, res: Response): Promise<unknown> => {
      // The error middleware tells anonymous callers less than operators (see errorHandler).
      res.locals.auth = def.auth;
      const principal = def.auth === 'public' ? undefined : await this.authenticate(req, def.auth);
      const params = def.params ? parseInput(def.params, req.params, 'params') : undefined;
      const query = def.query ? parseInput(def.query, req.query, 'query') : undefined;
      const body = def.body ? parseInput(def.body, req.body ?? {}, 'body') : undefined;
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
    router[def.method](def.path, ...middleware, run);
  }

  /** The OpenAPI 3.1 document for every route registered so far. */
  document(info: { title: string; version: string; serverUrl: string }): Record<string, unknown> {
    return openApiDocument(this.defs, info);
  }
}
