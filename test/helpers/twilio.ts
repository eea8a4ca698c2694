import { randomBytes } from 'node:crypto';
import twilio from 'twilio';

export const PUBLIC_SITE = 'https://bot.example.com';
export const ACCOUNT_SID = `AC${randomBytes(16).toString('hex')}`;
export const AUTH_TOKEN = randomBytes(16).toString('hex');
export const GLOBAL_SID = `AC${randomBytes(16).toString('hex')}`;
export const GLOBAL_TOKEN = randomBytes(16).toString('hex');
export const BUSINESS = '+14155238886';
export const CUSTOMER = '+4791234567';

export const messageSid = () => `SM${randomBytes(16).toString('hex')}`;

/** An inbound WhatsApp message as Twilio posts it. */
export function inbound(sid: string, body: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SmsMessageSid: sid,
    NumMedia: '0',
    ProfileName: 'Ana',
    MessageType: 'text',
    SmsSid: sid,
    WaId: CUSTOMER.slice(1),
    SmsStatus: 'received',
    Body: body,
    To: `whatsapp:${BUSINESS}`,
    NumSegments: '1',
    ReferralNumMedia: '0',
    MessageSid: sid,
    AccountSid: ACCOUNT_SID,
    From: `whatsapp:${CUSTOMER}`,
    ApiVersion: '2010-04-01',
    ...extra,
  };
}

/**
 * Posts a form to the app (`appUrl`, plain http on loopback) signed with Twilio's own helper for the
 * URL Twilio was given (`signedUrl`, normally the public https one); `send` lets a test alter what
 * actually goes out after signing.
 */
export async function postTwilio(
  appUrl: string,
  pathAndQuery: string,
  params: Record<string, string | string[]>,
  opts: { token?: string; signedUrl?: string; send?: Record<string, string | string[]>; signature?: string | null } = {},
): Promise<Response> {
  const signedUrl = opts.signedUrl ?? `${PUBLIC_SITE}${pathAndQuery}`;
  const signature = opts.signature === undefined ? twilio.getExpectedTwilioSignature(opts.token ?? AUTH_TOKEN, signedUrl, params) : opts.signature;
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(opts.send ?? params)) for (const one of Array.isArray(v) ? v : [v]) form.append(k, one);
  return fetch(`${appUrl}${pathAndQuery}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature !== null ? { 'x-twilio-signature': signature } : {}) },
    body: form.toString(),
  });
}
