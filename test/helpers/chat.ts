import type { TestApp } from './app.js';

export interface SseEvent {
  event: string;
  data: any;
}

export async function createTenant(app: TestApp, slug: string, settings: Record<string, unknown> = {}, name = 'Acme Coffee'): Promise<any> {
  const res = await app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug, name, settings }) });
  if (res.status !== 201) throw new Error(`tenant create failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as any).tenant;
}

export async function chat(app: TestApp, slug: string, body: Record<string, unknown>): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${app.url}/v1/chat?tenant=${slug}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

/** Parses an SSE body into events; comment lines (heartbeats) are counted separately. */
export function parseSse(text: string): { events: SseEvent[]; comments: number } {
  const events: SseEvent[] = [];
  let comments = 0;
  for (const block of text.split('\n\n')) {
    if (!block.trim()) continue;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments++;
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length) events.push({ event, data: JSON.parse(data.join('\n')) });
  }
  return { events, comments };
}

export async function chatStream(
  app: TestApp,
  slug: string,
  body: Record<string, unknown>,
): Promise<{ status: number; headers: Headers; events: SseEvent[]; raw: string }> {
  const res = await fetch(`${app.url}/v1/chat/stream?tenant=${slug}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const raw = await res.text();
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) return { status: res.status, headers: res.headers, events: [], raw };
  return { status: res.status, headers: res.headers, events: parseSse(raw).events, raw };
}
