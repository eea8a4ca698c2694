/**
 * The Twilio calls zia makes, through the twilio SDK (imported on first use so the CLI starts fast):
 * sending a WhatsApp message and checking a webhook signature. TWILIO_API_URL sends the SDK's requests
 * to another origin (a proxy, or the fake in tests) by rewriting each request's scheme and host.
 * Errors are classified once, here: transient ones are retried by the job, permanent ones park it.
 */

export interface TwilioCredentials {
  accountSid: string;
  authToken: string;
}

export interface TwilioSendParams {
  from: string;
  to: string;
  body?: string;
  contentSid?: string;
  /** A JSON object as a string, as Twilio's Content API expects. */
  contentVariables?: string;
  statusCallback: string;
}

export interface TwilioErrorInfo {
  status: number | null;
  code: number | null;
  message: string;
  network?: 'refused' | 'timeout' | 'other';
}

const PERMANENT: Record<number, string> = {
  20003: 'Twilio refused the credentials (20003): check twilio_account_sid and twilio_auth_token',
  21211: "the recipient is not a valid WhatsApp number (21211)",
  21610: 'the recipient opted out of messages from this number (21610)',
  63016: 'outside the WhatsApp 24 h window: only an approved template can be sent (63016)',
};

export function classifyTwilioError(e: Pick<TwilioErrorInfo, 'status' | 'code' | 'network'>): { transient: boolean; reason: string } {
  if (e.network) return { transient: true, reason: `network error (${e.network})` };
  if (e.code !== null && PERMANENT[e.code]) return { transient: false, reason: PERMANENT[e.code]! };
  if (e.code === 20429 || e.status === 429) return { transient: true, reason: 'rate-limited by Twilio (20429)' };
  if (e.status !== null && e.status >= 500) return { transient: true, reason: `Twilio server error (HTTP ${e.status})` };
  return { transient: false, reason: `refused by Twilio (HTTP ${e.status ?? '?'}, code ${e.code ?? '?'})` };
}

export class TwilioError extends Error {
  readonly transient: boolean;
  readonly reason: string;
  constructor(readonly info: TwilioErrorInfo) {
    const c = classifyTwilioError(info);
    super(`Twilio: ${c.reason}: ${info.message}`);
    this.name = 'TwilioError';
    this.transient = c.transient;
    this.reason = c.reason;
  }
  /** The request may have reached Twilio (a timeout), so it must not be repeated blindly. */
  get ambiguous(): boolean {
    return this.info.network === 'timeout';
  }
}

type TwilioSdk = typeof import('twilio');
type TwilioRestClient = ReturnType<TwilioSdk>;

export interface TwilioClientOptions {
  /** Another origin for api.twilio.com (TWILIO_API_URL). */
  apiUrl?: string;
  timeoutMs?: number;
}

export class TwilioClient {
  private sdk: Promise<TwilioSdk> | undefined;
  private readonly clients = new Map<string, TwilioRestClient>();

  constructor(private readonly options: TwilioClientOptions = {}) {}

  private load(): Promise<TwilioSdk> {
    // The package is CommonJS: under ESM its export arrives as `default`.
    this.sdk ??= import('twilio').then((m) => ((m as unknown as { default?: TwilioSdk }).default ?? m) as TwilioSdk);
    return this.sdk;
  }

  /** Twilio's own check of X-Twilio-Signature over the public URL and every POST parameter. */
  async validSignature(authToken: string, signature: string, url: string, params: Record<string, unknown>): Promise<boolean> {
    const twilio = await this.load();
    return twilio.validateRequest(authToken, signature, url, params as Record<string, any>);
  }

  /** POST /2010-04-01/Accounts/{sid}/Messages.json; answers the new message's SID and status. */
  async send(creds: TwilioCredentials, params: TwilioSendParams): Promise<{ sid: string; status: string }> {
    const client = await this.client(creds);
    try {
      const m = await client.messages.create({
        from: params.from,
        to: params.to,
        statusCallback: params.statusCallback,
        ...(params.body !== undefined ? { body: params.body } : {}),
        ...(params.contentSid ? { contentSid: params.contentSid } : {}),
        ...(params.contentVariables ? { contentVariables: params.contentVariables } : {}),
      });
      return { sid: m.sid, status: m.status };
    } catch (err) {
      throw toTwilioError(err);
    }
  }

  private async client(creds: TwilioCredentials): Promise<TwilioRestClient> {
    const key = `${creds.accountSid}:${creds.authToken}`;
    const cached = this.clients.get(key);
    if (cached) return cached;
    const twilio = await this.load();
    const timeout = this.options.timeoutMs ?? 20_000;
    const base = this.options.apiUrl ? new URL(this.options.apiUrl) : undefined;
    let httpClient: InstanceType<TwilioSdk['RequestClient']>;
    if (base) {
      class RewritingClient extends twilio.RequestClient {
        override request<T>(opts: Parameters<InstanceType<TwilioSdk['RequestClient']>['request']>[0] & { data?: T }) {
          const u = new URL(opts.uri);
          u.protocol = base!.protocol;
          u.host = base!.host;
          const prefix = base!.pathname.replace(/\/+$/, '');
          u.pathname = `${prefix}${u.pathname}`;
          return super.request<T>({ ...opts, uri: u.toString() });
        }
      }
      httpClient = new RewritingClient({ timeout });
    } else {
      httpClient = new twilio.RequestClient({ timeout });
    }
    const client = twilio(creds.accountSid, creds.authToken, { httpClient });
    this.clients.set(key, client);
    return client;
  }
}

function toTwilioError(err: unknown): TwilioError {
  const e = err as { status?: unknown; code?: unknown; message?: string; name?: string };
  if (typeof e.status === 'number') {
    return new TwilioError({ status: e.status, code: typeof e.code === 'number' ? e.code : null, message: String(e.message ?? '') });
  }
  const code = typeof e.code === 'string' ? e.code : '';
  const network = code === 'ECONNABORTED' || code === 'ETIMEDOUT' || /timeout/i.test(String(e.message)) ? 'timeout' : code === 'ECONNREFUSED' ? 'refused' : 'other';
  return new TwilioError({ status: null, code: null, message: String(e.message ?? err), network });
}
