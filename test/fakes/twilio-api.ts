import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';

/**
 * A fake Twilio REST API on 127.0.0.1, checked the way Twilio checks: HTTP Basic auth with the account
 * SID of the path and its auth token (401, code 20003, otherwise), a form-encoded Messages.json body
 * with whatsapp:+E.164 addresses and a Body or a ContentSid. Answers 201 with the message resource as
 * Twilio shapes it; records every accepted message; answers any Twilio error for the next N sends on
 * demand; and posts status callbacks to the message's StatusCallback, signed as Twilio signs them,
 * in whatever order a test asks for.
 */

export interface TwilioMessage {
  sid: string;
  accountSid: string;
  from: string;
  to: string;
  body: string | null;
  contentSid: string | null;
  contentVariables: string | null;
  statusCallback: string | null;
}

export interface TwilioFailure {
  status: number;
  code: number;
  message?: string;
  /** Close the connection without answering (a network error). */
  drop?: boolean;
  /** Take the request and never answer (a provider that hangs): recorded in `hung`, not in `messages`. */
  hang?: boolean;
}

const ADDRESS = /^whatsapp:\+[1-9]\d{6,14}$/;

export class FakeTwilioApi {
  readonly messages: TwilioMessage[] = [];
  /** Sends that arrived and were never answered (failNext with `hang`): who they were for. */
  readonly hung: Array<{ to: string; body: string | null }> = [];
  readonly refused: Array<{ status: number; code: number; message: string }> = [];
  private readonly accounts = new Map<string, string>();
  private readonly failures: Array<{ remaining: number; error: TwilioFailure }> = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeTwilioApi> {
    let fake!: FakeTwilioApi;
    const server = createServer((req, res) => void fake.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    fake = new FakeTwilioApi(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return fake;
  }

  allowAccount(accountSid: string, authToken: string): void {
    this.accounts.set(accountSid, authToken);
  }

  /** The next `times` sends answer with this Twilio error instead. */
  failNext(times: number, error: TwilioFailure): void {
    this.failures.push({ remaining: times, error });
  }

  sentTo(to: string): TwilioMessage[] {
    return this.messages.filter((m) => m.to === to);
  }

  /**
   * Posts one status callback per status, in the order given, to the message's StatusCallback URL,
   * signed with its account's token over that URL. `via` is where the request really goes (the app
   * behind the public URL, as a proxy would forward it); the signature stays over the public URL.
   */
  async callback(sid: string, statuses: Array<string | { status: string; errorCode: string }>, via: string): Promise<number[]> {
    const m = this.messages.find((x) => x.sid === sid);
    if (!m?.statusCallback) throw new Error(`no message ${sid} with a StatusCallback`);
    const token = this.accounts.get(m.accountSid)!;
    const codes: number[] = [];
    for (const s of statuses) {
      const status = typeof s === 'string' ? s : s.status;
      const params: Record<string, string> = {
        MessageSid: sid,
        SmsSid: sid,
        MessageStatus: status,
        SmsStatus: status,
        AccountSid: m.accountSid,
        From: m.from,
        To: m.to,
        ApiVersion: '2010-04-01',
        ChannelPrefix: 'whatsapp',
        ChannelToAddress: m.to.replace(/^whatsapp:/, ''),
        ...(typeof s === 'string' ? {} : { ErrorCode: s.errorCode, ErrorMessage: 'Message failed' }),
      };
      const publicUrl = new URL(m.statusCallback);
      const target = new URL(via);
      const res = await fetch(`${target.origin}${publicUrl.pathname}${publicUrl.search}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilio.getExpectedTwilioSignature(token, m.statusCallback, params),
        },
        body: new URLSearchParams(params).toString(),
      });
      await res.arrayBuffer();
      codes.push(res.status);
    }
    return codes;
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
    const fail = (status: number, code: number, message: string) => {
      this.refused.push({ status, code, message });
      send(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
    };

    const m = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Messages\.json$/.exec(url.pathname);
    if (!m || req.method !== 'POST') return fail(404, 20404, 'The requested resource was not found');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [user, pass] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(/:(.*)/s) : [];
    if (!user || user !== m[1] || this.accounts.get(user) !== pass) return fail(401, 20003, 'Authenticate');
    if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return fail(400, 20001, 'unsupported content type');

    const form = new URLSearchParams(raw);
    const to = form.get('To') ?? '';
    const from = form.get('From') ?? '';
    const body = form.get('Body');
    const contentSid = form.get('ContentSid');
    if (!ADDRESS.test(to)) return fail(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (!ADDRESS.test(from)) return fail(400, 21212, `The 'From' number ${from} is not a valid phone number.`);
    if (!body && !contentSid) return fail(400, 21619, 'A text message body or media urls must be specified.');
    if (body && body.length > 1600) return fail(400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
    if (contentSid && !/^HX[0-9a-fA-F]{32}$/.test(contentSid)) return fail(400, 21656, 'The ContentSid is invalid.');
    const variables = form.get('ContentVariables');
    if (variables !== null) {
      try {
        JSON.parse(variables);
      } catch {
        return fail(400, 21656, 'The ContentVariables parameter is invalid.');
      }
    }

    const f = this.failures.find((x) => x.remaining > 0);
    if (f) {
      f.remaining--;
      if (f.error.drop) {
        req.socket.destroy();
        return;
      }
      if (f.error.hang) {
        this.hung.push({ to, body });
        return;
      }
      return fail(f.error.status, f.error.code, f.error.message ?? 'injected failure');
    }

    const sid = `SM${randomBytes(16).toString('hex')}`;
    const message: TwilioMessage = { sid, accountSid: m[1]!, from, to, body, contentSid, contentVariables: variables, statusCallback: form.get('StatusCallback') };
    this.messages.push(message);
    const now = new Date().toUTCString().replace('GMT', '+0000');
    send(res, 201, {
      sid,
      account_sid: message.accountSid,
      from,
      to,
      body: body ?? '',
      status: 'queued',
      direction: 'outbound-api',
      num_media: '0',
      num_segments: '1',
      error_code: null,
      error_message: null,
      price: null,
      price_unit: 'USD',
      api_version: '2010-04-01',
      messaging_service_sid: null,
      date_created: now,
      date_sent: null,
      date_updated: now,
      uri: `/2010-04-01/Accounts/${message.accountSid}/Messages/${sid}.json`,
      subresource_uris: { media: `/2010-04-01/Accounts/${message.accountSid}/Messages/${sid}/Media.json` },
    });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
