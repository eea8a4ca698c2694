import type { z } from 'zod';

/** A route's declaration: what it accepts and answers, read by Api to validate and by openapi.ts to document. */

export type AuthLevel = 'public' | 'admin' | 'tenant';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteDef<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType> {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  /** public: no key; admin: ADMIN_KEY only; tenant: ADMIN_KEY or a key scoped to the tenant. */
  auth: AuthLevel;
  body?: B;
  query?: Q;
  params?: P;
  status?: number;
  /** What the success response is, in words (the document's description of it). */
  produces?: string;
  /** The JSON the route answers on success (documentation only; see response-schemas.ts). */
  response?: z.ZodType;
  /** Other success statuses with the same body (create-or-update answers 201 or 200). */
  statuses?: number[];
  /** Media types of a success response that is not JSON (a stream, a page, an image). */
  content?: string[];
  /**
   * Error statuses the route can answer beyond those its declaration implies (400 for input, 401/503 for
   * a key, 404 for a tenant or path parameter, 413 for a body): 409, 429, 502, 503 from its services.
   */
  errors?: number[];
  /** Overrides the generated operationId (method and path in camelCase). */
  operationId?: string;
  /** Overrides the document's security requirement (a route with its own credential, like /metrics). */
  security?: Array<Record<string, string[]>>;
  /**
   * The audit-log action of a route with a key (`tenant.updated`, `leads.exported`): Api records an entry
   * after each 2xx answer. Every write a key can make names one, and so does every export of personal data.
   */
  audit?: string;
}
