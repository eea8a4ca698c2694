/**
 * A small client for the Graph API calls zia makes (Send API, comment replies). The base URL and
 * version come from config, so tests and proxies can stand in for graph.facebook.com. Errors are
 * classified once, here, by Meta's error code table: transient ones are retried by the job, the
 * permanent ones park the job with a reason an operator can act on.
 */

export interface GraphErrorInfo {
  status: number | null;
  code: number | null;
  subcode: number | null;
  message: string;
  fbtraceId?: string;
  /** No answer at all (connection refused, reset, timed out). */
  network?: 'refused' | 'timeout' | 'other';
}

/** Graph's rate limits and outages (4, 17, 32, 613) and WhatsApp's (130429 throughput, 80007 account, 131056 pair, 131016/133004 unavailable). */
const TRANSIENT_CODES = new Set([1, 2, 4, 17, 32, 613, 130429, 80007, 131056, 131016, 133004, 131000]);

/** WhatsApp Cloud API refusals that repeat if retried, with what the operator can do. */
const WHATSAPP_REFUSALS = new Map<number, string>([
  [131047, 'outside the 24-hour window (131047): only an approved template may be sent'],
  [131026, 'message undeliverable (131026): the number is not on WhatsApp, or has not accepted the terms'],
  [131049, "not delivered to keep the customer's marketing messages in check (131049)"],
  [131051, 'message type not supported (131051)'],
  [131031, 'the business account is locked (131031)'],
  [131042, 'payment method problem on the business account (131042)'],
  [131048, 'spam rate limit: too many messages refused or blocked (131048)'],
  [131050, 'the customer stopped marketing messages (131050)'],
  [132000, "template parameters do not match the template's placeholders (132000)"],
  [132001, 'template does not exist in this language (132001): run zia whatsapp templates sync'],
  [132005, 'template text too long once filled (132005)'],
  [132007, 'template content violates policy (132007)'],
  [132012, "template parameter format does not match the template's (132012)"],
  [132015, 'template paused for low quality (132015)'],
  [132016, 'template disabled for low quality (132016)'],
  [133010, 'the phone number is not registered with the Cloud API (133010)'],
  [131005, 'access denied (131005): the token lacks whatsapp_business_messaging'],
  [131008, 'a required parameter is missing (131008)'],
  [131009, 'a parameter value is invalid (131009)'],
]);

export function classifyGraphError(e: Pick<GraphErrorInfo, 'status' | 'code' | 'subcode' | 'network'>): { transient: boolean; reason: string } {
  const { code, subcode, status } = e;
  if (e.network) return { transient: true, reason: `network error (${e.network})` };
  if (code === 190) return { transient: false, reason: 'access token invalid or expired (190): give the tenant a new token' };
  const refusal = code !== null ? WHATSAPP_REFUSALS.get(code) : undefined;
  if (refusal) return { transient: false, reason: refusal };
  if (code === 551) return { transient: false, reason: 'the person is not available (551): blocked the page or turned off messages' };
  if (code === 10 && subcode === 2018278) return { transient: false, reason: 'outside the Messenger 24 h window (10/2018278)' };
  if (code === 10 && subcode === 2534022) return { transient: false, reason: 'outside the Instagram messaging window (10/2534022)' };
  if (code === 368) return { transient: false, reason: 'temporarily blocked for policy (368)' };
  if (code === 100) return { transient: false, reason: 'invalid parameter (100): a bad id or a deprecated field' };
  if (code !== null && code >= 200 && code <= 299) return { transient: false, reason: `missing permission (${code}): fix the app's grants` };
  if (code !== null && TRANSIENT_CODES.has(code)) return { transient: true, reason: `temporary or rate-limited (${code})` };
  if (status !== null && (status >= 500 || status === 429)) return { transient: true, reason: `server error (HTTP ${status})` };
  return { transient: false, reason: `refused (HTTP ${status ?? '?'}, code ${code ?? '?'}${subcode ? `/${subcode}` : ''})` };
}

export class GraphError extends Error {
  readonly transient: boolean;
  readonly reason: string;
  constructor(readonly info: GraphErrorInfo) {
    const c = classifyGraphError(info);
    super(`Graph API: ${c.reason}: ${info.message}`);
    this.name = 'GraphError';
    this.transient = c.transient;
    this.reason = c.reason;
  }
  /** Sent, maybe: the request may have reached Meta (a timeout), so it must not be repeated blindly. */
  get ambiguous(): boolean {
    return this.info.network === 'timeout';
  }
}

export interface GraphClientOptions {
  baseUrl: string;
  version: string;
  timeoutMs?: number;
}

export type SendApiBody =
  | { recipient: { id: string }; messaging_type: 'RESPONSE' | 'UPDATE'; message: { text: string } }
  | { recipient: { comment_id: string }; message: { text: string } };

export class GraphClient {
  constructor(private readonly options: GraphClientOptions) {}

  /** POST /{version}/me/messages with the page token; returns the provider's message id. */
  async sendMessage(token: string, body: SendApiBody): Promise<string | null> {
    const res = (await this.post('me/messages', token, body)) as { message_id?: string };
    return res.message_id ?? null;
  }

  /** Public reply: Facebook POST /{comment-id}/comments, Instagram POST /{comment-id}/replies. */
  async replyToComment(token: string, platform: 'facebook' | 'instagram', commentId: string, message: string): Promise<string | null> {
    const edge = platform === 'facebook' ? 'comments' : 'replies';
    const res = (await this.post(`${encodeURIComponent(commentId)}/${edge}`, token, { message })) as { id?: string };
    return res.id ?? null;
  }

  private post(path: string, token: string, body: unknown): Promise<unknown> {
    return this.call('POST', path, token, body);
  }

  /** One Graph call with a bearer token: the parsed answer, or a classified GraphError. */
  async call(method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<unknown> {
    const url = `${this.options.baseUrl}/${this.options.version}/${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 20_000),
      });
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string; errors?: Array<{ code?: string }> } };
      // fetch says only "fetch failed"; the cause (or the first of several tried addresses) says why.
      const cause = e.cause?.code ?? e.cause?.errors?.[0]?.code;
      const network = e.name === 'TimeoutError' ? 'timeout' : cause === 'ECONNREFUSED' ? 'refused' : 'other';
      throw new GraphError({ status: null, code: null, subcode: null, message: `${String((err as Error).message)}${cause ? ` (${cause})` : ''}`, network });
    }
    const text = await res.text();
    let json: any = undefined;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = undefined;
    }
    if (res.ok && json !== undefined && !json.error) return json;
    const error = json?.error ?? {};
    throw new GraphError({
      status: res.status,
      code: typeof error.code === 'number' ? error.code : null,
      subcode: typeof error.error_subcode === 'number' ? error.error_subcode : null,
      message: typeof error.message === 'string' ? error.message : text.slice(0, 200),
      fbtraceId: error.fbtrace_id,
    });
  }
}
