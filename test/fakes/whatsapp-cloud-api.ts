import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake WhatsApp Cloud API (Graph) on 127.0.0.1, checked the way Meta checks, after Meta's developer
 * documentation (developers.facebook.com/documentation/business-messaging/whatsapp: "Messages" API
 * reference, "Message templates", "Phone numbers", "Webhooks > Subscribed apps", and the Cloud API
 * error-code table):
 * - the version path, a bearer token that must be granted the phone number or WABA it names (code
 *   190 for an unknown token, 100/33 for an object the token cannot see);
 * - sends to POST /{version}/{phone-number-id}/messages: `messaging_product: "whatsapp"`, exactly one of
 *   `to` (digits, an optional +) or `recipient` (a business-scoped user id), and one of text (body 1-4096),
 *   template (an APPROVED template of the number's WABA in that language, with as many body parameters
 *   as its {{n}} placeholders: 132001 / 132000 otherwise) or interactive (reply buttons: 1-3, titles ≤ 20
 *   and unique, ids ≤ 256; cta_url: display_text ≤ 20 and an https url; body text ≤ 1024);
 * - answers `{messaging_product, contacts: [{input, wa_id}], messages: [{id: "wamid…"}]}`;
 * - errors as Meta sends them: `{error: {message, type, code, error_data: {messaging_product, details},
 *   fbtrace_id}}`, injected for the next N matching sends with failNext;
 * - GET /{waba}/message_templates (paged with `after` cursors), /{phone-number-id}, /{waba}/phone_numbers,
 *   /{waba}/subscribed_apps, and /{app-id}/subscriptions with an app access token (`app-id|app-secret`).
 */

export interface CloudSend {
  phoneNumberId: string;
  token: string;
  /** `to` (digits) or `recipient` (a user id), as sent. */
  to: string | null;
  recipient: string | null;
  type: 'text' | 'template' | 'interactive';
  /** Text body, interactive body text, or the template name. */
  text: string;
  body: Record<string, any>;
  id: string;
}

export interface CloudTemplate {
  id: string;
  name: string;
  language: string;
  category: 'UTILITY' | 'MARKETING' | 'AUTHENTICATION';
  status: 'APPROVED' | 'PENDING' | 'REJECTED' | 'PAUSED' | 'DISABLED';
  body: string;
}

export interface CloudFailure {
  status?: number;
  code: number;
  message?: string;
  details?: string;
  drop?: boolean;
}

interface PhoneNumber {
  id: string;
  wabaId: string;
  display: string;
}

export class FakeCloudApi {
  readonly sends: CloudSend[] = [];
  readonly refused: Array<{ path: string; code: number; message: string }> = [];
  /** WABA id → templates. */
  readonly templates = new Map<string, CloudTemplate[]>();
  /** App id → the webhook fields subscribed for whatsapp_business_account. */
  readonly appFields = new Map<string, string[]>();
  /** WABA id → apps subscribed to its webhooks. */
  readonly subscribedApps = new Map<string, string[]>();
  /** Every request as it arrived (method, path and query), for tests that count calls or pages. */
  readonly requests: Array<{ method: string; path: string; query: URLSearchParams }> = [];
  private readonly numbers = new Map<string, PhoneNumber>();
  /** token → the WABAs it may use. */
  private readonly grants = new Map<string, Set<string>>();
  private readonly appSecrets = new Map<string, string>();
  private readonly failures: Array<{ remaining: number; match: (s: CloudSend) => boolean; error: CloudFailure }> = [];
  private counter = 0;
  pageSize = 25;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly version: string,
  ) {}

  static async start(version = 'v23.0'): Promise<FakeCloudApi> {
    let fake!: FakeCloudApi;
    const server = createServer((req, res) => void fake.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    fake = new FakeCloudApi(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, version);
    return fake;
  }

  /** A business number of a WABA, and a token granted that WABA. */
  addNumber(phoneNumberId: string, wabaId: string, display: string, token: string): void {
    this.numbers.set(phoneNumberId, { id: phoneNumberId, wabaId, display });
    if (!this.grants.has(token)) this.grants.set(token, new Set());
    this.grants.get(token)!.add(wabaId);
    if (!this.templates.has(wabaId)) this.templates.set(wabaId, []);
  }

  addTemplate(wabaId: string, t: Omit<CloudTemplate, 'id'> & { id?: string }): CloudTemplate {
    const template = { id: t.id ?? String(900_000_000_000 + ++this.counter), ...t };
    this.templates.get(wabaId)!.push(template);
    return template;
  }

  addApp(appId: string, secret: string, fields: string[]): void {
    this.appSecrets.set(appId, secret);
    this.appFields.set(appId, fields);
  }

  failNext(times: number, error: CloudFailure, match: (s: CloudSend) => boolean = () => true): void {
    this.failures.push({ remaining: times, match, error });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams });
    const fail = (status: number, code: number, message: string, extra: Record<string, unknown> = {}) => {
      this.refused.push({ path: url.pathname, code, message });
      send(res, status, { error: { message, type: 'OAuthException', code, ...extra, fbtrace_id: `A${++this.counter}` } });
    };
    const m = /^\/(v\d+\.\d+)\/([^/]+)(?:\/([a-z_]+))?$/.exec(url.pathname);
    if (!m) return fail(400, 2500, `Unknown path components: ${url.pathname}`);
    if (m[1] !== this.version) return fail(400, 2635, `wrong API version ${m[1]} (expected ${this.version})`);
    const [, , node, edge] = m as unknown as [string, string, string, string | undefined];

    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? url.searchParams.get('access_token') ?? undefined;
    if (!token) return fail(400, 2500, 'An active access token must be used to query information about the current user.');

    // App access token: the app's own webhook subscriptions.
    if (req.method === 'GET' && edge === 'subscriptions') {
      if (token !== `${node}|${this.appSecrets.get(node)}`) return fail(400, 190, 'Invalid OAuth access token - Cannot parse access token');
      const fields = this.appFields.get(node) ?? [];
      return send(res, 200, { data: fields.length ? [{ object: 'whatsapp_business_account', callback_url: 'https://example.invalid/v1/meta/webhook', active: true, fields: fields.map((name) => ({ name, version: this.version })) }] : [] });
    }

    const wabas = this.grants.get(token);
    if (!wabas) return fail(401, 190, 'Invalid OAuth access token - Cannot parse access token');
    const unseen = () => fail(400, 100, `Unsupported ${req.method?.toLowerCase()} request. Object with ID '${node}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`, { error_subcode: 33 });
    const number = this.numbers.get(node);
    const wabaId = number ? number.wabaId : node;
    if (!wabas.has(wabaId)) return unseen();

    if (req.method === 'GET') {
      if (number && !edge) return send(res, 200, { id: number.id, display_phone_number: number.display, verified_name: 'Test Shop', quality_rating: 'GREEN' });
      if (number) return unseen();
      if (edge === 'phone_numbers') return send(res, 200, { data: [...this.numbers.values()].filter((n) => n.wabaId === node).map((n) => ({ id: n.id, display_phone_number: n.display, verified_name: 'Test Shop' })) });
      if (edge === 'subscribed_apps') return send(res, 200, { data: (this.subscribedApps.get(node) ?? []).map((id) => ({ whatsapp_business_api_data: { id, name: 'zia', link: 'https://example.invalid' } })) });
      if (edge === 'message_templates') {
        const all = this.templates.get(node) ?? [];
        const limit = Math.min(Number(url.searchParams.get('limit') ?? this.pageSize), this.pageSize);
        const after = url.searchParams.get('after');
        const start = after ? Number(Buffer.from(after, 'base64').toString()) : 0;
        const page = all.slice(start, start + limit).map((t) => ({
          id: t.id,
          name: t.name,
          language: t.language,
          category: t.category,
          status: t.status,
          components: [{ type: 'BODY', text: t.body }],
        }));
        const next = start + limit < all.length ? Buffer.from(String(start + limit)).toString('base64') : undefined;
        return send(res, 200, { data: page, paging: { cursors: { before: Buffer.from(String(start)).toString('base64'), after: next ?? Buffer.from(String(all.length)).toString('base64') }, ...(next ? { next: `${this.url}${url.pathname}?after=${next}` } : {}) } });
      }
      return fail(400, 100, `Unsupported get request: ${url.pathname}`);
    }

    if (req.method !== 'POST' || !number || edge !== 'messages') return fail(400, 100, `Unsupported ${req.method?.toLowerCase()} request: ${url.pathname}`);
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return fail(400, 100, 'unsupported content type');
    let body: Record<string, any>;
    try {
      body = JSON.parse(raw);
    } catch {
      return fail(400, 100, 'body could not be parsed');
    }
    const param = (details: string) => fail(400, 131009, '(#131009) Parameter value is not valid', { error_data: { messaging_product: 'whatsapp', details } });
    if (body.messaging_product !== 'whatsapp') return fail(400, 100, '(#100) The parameter messaging_product is required.');
    const to = typeof body.to === 'string' ? body.to : null;
    const recipient = typeof body.recipient === 'string' ? body.recipient : null;
    if ((to === null) === (recipient === null)) return param('exactly one of to or recipient');
    if (to !== null && !/^\+?[1-9]\d{6,14}$/.test(to)) return param('to must be a phone number');
    if (recipient !== null && !/^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$/.test(recipient)) return param('recipient must be a business-scoped user id');
    let text: string;
    if (body.type === 'text') {
      text = body.text?.body;
      if (typeof text !== 'string' || text.length === 0 || text.length > 4096) return param('text.body must have 1-4096 characters');
    } else if (body.type === 'template') {
      const t = body.template;
      const found = (this.templates.get(number.wabaId) ?? []).find((x) => x.name === t?.name && x.language === t?.language?.code);
      if (!found || found.status !== 'APPROVED') return fail(404, 132001, '(#132001) Template name does not exist in the translation', { error_data: { messaging_product: 'whatsapp', details: `template name (${t?.name}) does not exist in ${t?.language?.code}` } });
      const wanted = placeholders(found.body);
      const given = (t.components ?? []).filter((c: any) => c.type === 'body').flatMap((c: any) => c.parameters ?? []);
      if (given.length !== wanted || given.some((p: any) => p.type !== 'text' || typeof p.text !== 'string' || p.text.length === 0)) {
        return fail(400, 132000, '(#132000) Number of parameters does not match the expected number of params', { error_data: { messaging_product: 'whatsapp', details: `body: number of localizable_params (${given.length}) does not match the expected number of params (${wanted})` } });
      }
      if (given.some((p: any) => /[\n\t]| {5,}/.test(p.text))) {
        return fail(400, 132018, '(#132018) There was an issue with the parameters in your template.', { error_data: { messaging_product: 'whatsapp', details: 'Param text cannot have new-line/tab characters or more than 4 consecutive spaces' } });
      }
      text = t.name;
    } else if (body.type === 'interactive') {
      const i = body.interactive;
      text = i?.body?.text;
      if (typeof text !== 'string' || text.length === 0 || text.length > 1024) return param('interactive.body.text must have 1-1024 characters');
      if (i.type === 'button') {
        const buttons = i.action?.buttons;
        if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 3) return param('interactive.action.buttons: 1-3 buttons');
        const titles = new Set<string>();
        const ids = new Set<string>();
        for (const b of buttons) {
          if (b.type !== 'reply' || typeof b.reply?.id !== 'string' || typeof b.reply?.title !== 'string') return param('a button is {type: reply, reply: {id, title}}');
          if (b.reply.title.length === 0 || b.reply.title.length > 20 || b.reply.id.length === 0 || b.reply.id.length > 256) return param('button title 1-20 characters, id 1-256');
          if (titles.has(b.reply.title) || ids.has(b.reply.id)) return param('button titles and ids must be unique');
          titles.add(b.reply.title);
          ids.add(b.reply.id);
        }
      } else if (i.type === 'cta_url') {
        const p = i.action?.parameters;
        if (i.action?.name !== 'cta_url' || typeof p?.display_text !== 'string' || p.display_text.length === 0 || p.display_text.length > 20) return param('cta_url display_text 1-20 characters');
        if (typeof p.url !== 'string' || !/^https:\/\//.test(p.url)) return param('cta_url url must be https');
      } else return param(`interactive type ${i?.type} not supported here`);
    } else return param(`type ${body.type} not supported here`);

    const call: CloudSend = { phoneNumberId: number.id, token, to, recipient, type: body.type, text, body, id: '' };
    const f = this.failures.find((x) => x.remaining > 0 && x.match(call));
    if (f) {
      f.remaining--;
      if (f.error.drop) {
        req.socket.destroy();
        return;
      }
      return fail(f.error.status ?? 400, f.error.code, f.error.message ?? `(#${f.error.code}) injected failure`, { error_data: { messaging_product: 'whatsapp', details: f.error.details ?? 'injected' } });
    }
    call.id = `wamid.${Buffer.from(`out-${++this.counter}-${Date.now()}`).toString('base64')}`;
    this.sends.push(call);
    send(res, 200, { messaging_product: 'whatsapp', contacts: [{ input: to ?? recipient, ...(to ? { wa_id: to.replace(/^\+/, '') } : {}), ...(recipient ? { user_id: recipient } : {}) }], messages: [{ id: call.id }] });
  }
}

/** How many {{n}} placeholders a template body has. */
export function placeholders(body: string): number {
  return new Set([...body.matchAll(/\{\{\s*(\d+)\s*\}\}/g)].map((x) => x[1])).size;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
