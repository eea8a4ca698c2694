import { z } from 'zod';
import type { RouteDef } from './route-def.js';

/**
 * The OpenAPI 3.1 document, from the routes' declarations: parameters and bodies from the same zod
 * schemas that validate requests, success responses from response-schemas.ts, and the error statuses
 * each route can answer (those its declaration implies plus those it names).
 */

type AnyDef = RouteDef<z.ZodType, z.ZodType, z.ZodType>;

const ERRORS: Record<number, string> = {
  400: 'invalid input: `details` lists each field path and problem',
  401: 'missing or invalid x-api-key',
  403: 'refused: the request is not signed correctly, or the verification failed',
  404: 'no such tenant or object (another tenant\u2019s object is not found either)',
  409: 'conflict with the current state (e.g. a tenant not yet able to take payments, a delivery already queued)',
  413: 'request body too large',
  429: 'rate limited: retry after the `Retry-After` header\u2019s seconds',
  502: 'an upstream provider (AI, Stripe, Twilio) failed',
  503: 'not configured or temporarily unavailable (e.g. ADMIN_KEY unset, a provider key missing, shutting down)',
};

const errorRef = { $ref: '#/components/schemas/Error' };

export function operationId(def: Pick<AnyDef, 'method' | 'path' | 'operationId'>): string {
  if (def.operationId) return def.operationId;
  const words = def.path.split(/[^a-zA-Z0-9]+/).filter(Boolean);
  return def.method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

function errorStatuses(def: AnyDef): number[] {
  const out = new Set<number>(def.errors ?? []);
  const writes = def.method !== 'get' && def.method !== 'delete';
  if (def.body || def.query || def.params || writes) out.add(400);
  if (def.auth !== 'public') {
    // 429: an address that sent too many wrong keys is refused for the rest of the minute.
    out.add(401);
    out.add(429);
    out.add(503);
  }
  const queryShape = (def.query as unknown as { shape?: Record<string, unknown> } | undefined)?.shape;
  if (def.params || queryShape?.tenant) out.add(404);
  if (writes) out.add(413);
  return [...out].sort();
}

function success(def: AnyDef): Record<string, unknown> {
  const description = def.produces ?? def.summary;
  const content: Record<string, unknown> = {};
  if (def.response) content['application/json'] = { schema: toJson(def.response, 'output') };
  for (const type of def.content ?? []) {
    content[type] = { schema: type.startsWith('image/png') ? { type: 'string', contentMediaType: 'image/png', contentEncoding: 'binary' } : { type: 'string' } };
  }
  return Object.keys(content).length > 0 ? { description, content } : { description };
}

export function openApiDocument(defs: AnyDef[], info: { title: string; version: string; serverUrl: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const def of defs) {
    const path = def.path.replace(/:(\w+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', def.params],
      ['query', def.query],
    ] as const) {
      if (!schema) continue;
      const json = toJson(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(json.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), schema: s });
      }
    }
    const responses: Record<string, unknown> = { [String(def.status ?? 200)]: success(def) };
    for (const status of def.statuses ?? []) responses[String(status)] = success(def);
    for (const status of errorStatuses(def)) {
      const r: Record<string, unknown> = { description: ERRORS[status] ?? 'error', content: { 'application/json': { schema: errorRef } } };
      if (status === 429) r.headers = { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer' } } };
      responses[String(status)] = r;
    }
    const op: Record<string, unknown> = {
      operationId: operationId(def),
      summary: def.summary,
      tags: [def.tag],
      parameters,
      security: def.security ?? (def.auth === 'public' ? [] : [{ apiKey: [] }]),
      responses,
    };
    if (def.body) op.requestBody = { required: true, content: { 'application/json': { schema: toJson(def.body, 'input') } } };
    // The audit-log action a successful call records (see GET /v1/admin/audit).
    if (def.audit) op['x-audit-action'] = def.audit;
    (paths[path] ??= {})[def.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: info.title,
      version: info.version,
      description: 'Self-hosted, multi-tenant chatbot backend. Admin operations take the `x-api-key` header (ADMIN_KEY, or a key scoped to one tenant).',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: info.serverUrl }],
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'ADMIN_KEY, or a key scoped to one tenant (tenant-level operations)' },
        ...(defs.some((d) => d.security?.some((s) => 'metricsToken' in s)) ? { metricsToken: { type: 'http', scheme: 'bearer', description: 'ZIA_METRICS_TOKEN' } } : {}),
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message', 'request_id'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, details: {}, request_id: { type: 'string' } },
            },
          },
        },
      },
    },
  };
}

function toJson(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  try {
    const json = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
    // Inside an OpenAPI 3.1 document the dialect is the document's own.
    delete json.$schema;
    return json;
  } catch {
    return {};
  }
}
