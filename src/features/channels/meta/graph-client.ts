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

const TRANSIENT_CODES = new Set([1, 2, 4, 17, 32, 613]);

export function classifyGraphError(e: Pick<GraphErrorInfo, 'status' | 'code' | 'subcode' | 'network'>): { transient: boolean; reason: string } {
  const { code, subcode, status } = e;
  if (e.network) return { transient: true, reason: `network error (${e.network})` };
  if (code === 190) return { transient: false, reason: 'page access token invalid or expired (190): reconnect the page' };
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

  private async post(path: string, token: string, body: unknown): Promise<unknown> {
    const url = `${this.options.baseUrl}/${this.options.version}/${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 20_000),
      });
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string } };
      const network = e.name === 'TimeoutError' ? 'timeout' : e.cause?.code === 'ECONNREFUSED' ? 'refused' : 'other';
      throw new GraphError({ status: null, code: null, subcode: null, message: String((err as Error).message), network });
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
