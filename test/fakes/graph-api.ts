import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake Graph API on 127.0.0.1, checked the way Meta checks: the version path, a page access token
 * (query `access_token`, form field, or `Authorization: Bearer`), and the shape of each call — the Send
 * API body (recipient.id with messaging_type, or recipient.comment_id for a private reply, at most one
 * per comment), and `message` for comment replies. Records every accepted send; can be told to answer
 * any Graph error for the next N matching calls.
 */

export interface GraphCall {
  kind: 'dm' | 'private_reply' | 'fb_comment_reply' | 'ig_comment_reply';
  path: string;
  token: string;
  /** PSID/IGSID for a DM, the comment id for replies. */
  target: string;
  text: string;
  messagingType?: string;
}

export interface GraphFailure {
  status: number;
  code?: number;
  subcode?: number;
  message?: string;
  /** Close the connection without answering (a network error). */
  drop?: boolean;
  /** Take the request and never answer (a provider that hangs): recorded in `hung`, not in `sends`. */
  hang?: boolean;
}

export class FakeGraphApi {
  readonly sends: GraphCall[] = [];
  /** Calls that arrived and were never answered (failNext with `hang`). */
  readonly hung: GraphCall[] = [];
  readonly refused: Array<{ path: string; status: number; code: number | undefined; reason: string }> = [];
  private readonly tokens = new Set<string>();
  private readonly failures: Array<{ remaining: number; match: (c: GraphCall) => boolean; error: GraphFailure }> = [];
  private readonly privateReplied = new Set<string>();
  private counter = 0;
  /** Delay before answering an accepted send (it is recorded first): widens the "in flight" window. */
  delayMs = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly version: string,
  ) {}

  static async start(version = 'v23.0'): Promise<FakeGraphApi> {
    let fake!: FakeGraphApi;
    const server = createServer((req, res) => void fake.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    fake = new FakeGraphApi(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, version);
    return fake;
  }

  allowToken(token: string): void {
    this.tokens.add(token);
  }

  /** The next `times` calls that match answer with this error instead. */
  failNext(times: number, error: GraphFailure, match: (c: GraphCall) => boolean = () => true): void {
    this.failures.push({ remaining: times, match, error });
  }

  sendsTo(target: string): GraphCall[] {
    return this.sends.filter((s) => s.target === target);
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
    const fail = (status: number, code: number, message: string, subcode?: number) => {
      this.refused.push({ path: url.pathname, status, code, reason: message });
      send(res, status, { error: { message, type: 'OAuthException', code, ...(subcode ? { error_subcode: subcode } : {}), fbtrace_id: `T${++this.counter}` } });
    };

    const m = /^\/(v\d+\.\d+)\/([^/]+)\/(messages|comments|replies)$/.exec(url.pathname);
    if (req.method !== 'POST' || !m) return fail(400, 2500, `Unknown path components: ${url.pathname}`);
    if (m[1] !== this.version) return fail(400, 2635, `wrong API version ${m[1]} (expected ${this.version})`);

    let body: Record<string, any>;
    const type = req.headers['content-type'] ?? '';
    try {
      if (type.startsWith('application/json')) body = JSON.parse(raw);
      else if (type.startsWith('application/x-www-form-urlencoded')) {
        body = Object.fromEntries(new URLSearchParams(raw));
        for (const k of ['recipient', 'message']) if (typeof body[k] === 'string') body[k] = JSON.parse(body[k]);
      } else return fail(400, 100, `unsupported content type '${type}'`);
    } catch {
      return fail(400, 100, 'body could not be parsed');
    }

    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = url.searchParams.get('access_token') ?? (typeof body.access_token === 'string' ? body.access_token : undefined) ?? bearer;
    if (!token) return fail(400, 2500, 'An active access token must be used to query information about the current user.');
    if (!this.tokens.has(token)) return fail(400, 190, 'Invalid OAuth access token - Cannot parse access token');

    let call: GraphCall;
    const [, , node, edge] = m;
    if (edge === 'messages') {
      const r = body.recipient;
      const text = body.message?.text;
      if (!r || typeof r !== 'object') return fail(400, 100, '(#100) The parameter recipient is required');
      if (typeof text !== 'string' || text.length === 0) return fail(400, 100, '(#100) message.text is required');
      if (text.length > 2000) return fail(400, 100, '(#100) Length of param message[text] must be less than or equal to 2000');
      const keys = Object.keys(r).filter((k) => r[k] !== undefined);
      if (keys.length !== 1 || !['id', 'comment_id'].includes(keys[0]!)) return fail(400, 100, '(#100) recipient must have exactly one of id, comment_id');
      if (r.id !== undefined) {
        if (!['RESPONSE', 'UPDATE', 'MESSAGE_TAG'].includes(body.messaging_type)) return fail(400, 100, '(#100) messaging_type is required');
        call = { kind: 'dm', path: url.pathname, token, target: String(r.id), text, messagingType: body.messaging_type };
      } else {
        if (this.privateReplied.has(String(r.comment_id))) return fail(400, 10, '(#10) Cannot message users who have already been replied to privately', 2018292);
        call = { kind: 'private_reply', path: url.pathname, token, target: String(r.comment_id), text };
      }
    } else {
      const text = body.message;
      if (typeof text !== 'string' || text.length === 0) return fail(400, 100, '(#100) The parameter message is required');
      call = { kind: edge === 'comments' ? 'fb_comment_reply' : 'ig_comment_reply', path: url.pathname, token, target: node!, text };
    }

    const f = this.failures.find((x) => x.remaining > 0 && x.match(call));
    if (f) {
      f.remaining--;
      if (f.error.drop) {
        req.socket.destroy();
        return;
      }
      if (f.error.hang) {
        this.hung.push(call);
        return;
      }
      return fail(f.error.status, f.error.code ?? 1, f.error.message ?? 'injected failure', f.error.subcode);
    }

    if (call.kind === 'private_reply') this.privateReplied.add(call.target);
    this.sends.push(call);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (res.destroyed) return;
    const id = `${call.kind === 'dm' || call.kind === 'private_reply' ? 'm' : 'c'}_${++this.counter}`;
    if (edge === 'messages') send(res, 200, { recipient_id: call.kind === 'dm' ? call.target : `r_${this.counter}`, message_id: id });
    else send(res, 200, { id });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
