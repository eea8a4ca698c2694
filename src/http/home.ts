import type { Request, Response } from 'express';
import { escapeHtml } from './html.js';

/**
 * `GET /` says what this server is and where to go next, for a person in a browser (HTML) or a
 * script (JSON when it prefers JSON); `GET /docs` lists the API's operations from the OpenAPI document.
 */

interface HomeInfo {
  version: string;
  /** Where the metrics are, or undefined when they are not on this port. */
  metrics?: string;
}

const LINKS: Array<[href: string, text: string, what: string]> = [
  ['/docs', 'API reference', 'every operation, its parameters and who may call it'],
  ['/openapi.json', '/openapi.json', 'the OpenAPI 3.1 document (for clients, Postman, code generators)'],
  ['/healthz', '/healthz', 'liveness: the process answers'],
  ['/readyz', '/readyz', 'readiness: the database answers and the server is not shutting down'],
  ['/widget.js', '/widget.js', 'the chat widget to embed on a tenant\u2019s site'],
];

export function homePage(info: HomeInfo) {
  return (req: Request, res: Response) => {
    res.setHeader('vary', 'accept');
    if (req.accepts(['html', 'json']) === 'json') {
      res.json({
        name: 'zia',
        version: info.version,
        description: 'Self-hosted, multi-tenant chatbot backend',
        links: {
          docs: '/docs',
          openapi: '/openapi.json',
          health: '/healthz',
          ready: '/readyz',
          ...(info.metrics ? { metrics: info.metrics } : {}),
        },
      });
      return;
    }
    const items = LINKS.map(([href, text, what]) => `<li><a href="${escapeHtml(href)}">${escapeHtml(text)}</a> — ${escapeHtml(what)}</li>`);
    if (info.metrics) items.push(`<li><a href="${escapeHtml(info.metrics)}">/metrics</a> — Prometheus metrics</li>`);
    const body = `<h1>zia <small>${escapeHtml(info.version)}</small></h1>
<p>A self-hosted, multi-tenant chatbot backend: web widget, Facebook, Instagram and WhatsApp, leads and Stripe checkout.
This server answers its tenants' chats and webhooks; operators manage it with the <code>zia</code> command.</p>
<ul>${items.join('\n')}</ul>`;
    sendPage(res, 'zia', body);
  };
}

interface Operation {
  method: string;
  path: string;
  summary?: string;
  tag?: string;
  auth: string;
}

export function docsPage(document: () => Record<string, unknown>) {
  return (_req: Request, res: Response) => {
    const doc = document() as { info?: { version?: string }; paths?: Record<string, Record<string, { summary?: string; tags?: string[]; security?: unknown[] }>> };
    const ops: Operation[] = [];
    for (const [path, methods] of Object.entries(doc.paths ?? {})) {
      for (const [method, op] of Object.entries(methods)) {
        ops.push({ method: method.toUpperCase(), path, summary: op.summary, tag: op.tags?.[0], auth: op.security?.length ? 'x-api-key' : 'public' });
      }
    }
    const tags = [...new Set(ops.map((o) => o.tag ?? 'other'))].sort();
    const sections = tags.map((tag) => {
      const rows = ops
        .filter((o) => (o.tag ?? 'other') === tag)
        .map((o) => `<tr><td><code>${escapeHtml(o.method)}</code></td><td><code>${escapeHtml(o.path)}</code></td><td>${escapeHtml(o.summary ?? '')}</td><td>${escapeHtml(o.auth)}</td></tr>`);
      return `<h2>${escapeHtml(tag)}</h2><table><tr><th>method</th><th>path</th><th>what</th><th>auth</th></tr>${rows.join('')}</table>`;
    });
    const body = `<h1>zia API <small>${escapeHtml(doc.info?.version ?? '')}</small></h1>
<p>Generated from <a href="/openapi.json">/openapi.json</a>, which also gives every parameter, body and response schema.
Admin operations take the <code>x-api-key</code> header. Errors are JSON <code>{"error":{"code","message","details?","request_id"}}</code>.</p>
${sections.join('\n')}`;
    sendPage(res, 'zia API', body);
  };
}

function sendPage(res: Response, title: string, body: string): void {
  res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}main{max-width:56rem;margin:6vh auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 2px 12px rgba(0,0,0,.06)}small{color:#5b6475;font-weight:normal}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eceef2;vertical-align:top}</style>
</head><body><main>
${body}
</main></body></html>`);
}
