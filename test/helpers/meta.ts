import { createHmac } from 'node:crypto';

export const META_SECRET = 'meta-app-secret-for-tests';
export const VERIFY_TOKEN = 'verify-me-please';
export const PAGE_ID = '1000000001';
export const IG_ID = '17840000000000001';
export const PAGE_TOKEN = 'EAAG-page-token-for-tests';

export function sign(body: string, secret = META_SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function postSigned(url: string, payload: unknown, opts: { secret?: string; signature?: string | null } = {}): Promise<Response> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const sig = opts.signature === undefined ? sign(body, opts.secret) : opts.signature;
  if (sig !== null) headers['x-hub-signature-256'] = sig;
  return fetch(`${url}/v1/meta/webhook`, { method: 'POST', headers, body });
}

export function dm(mid: string, text: string, opts: { psid?: string; page?: string; timestamp?: number } = {}) {
  const page = opts.page ?? PAGE_ID;
  return {
    object: 'page',
    entry: [
      {
        id: page,
        time: Date.now(),
        messaging: [{ sender: { id: opts.psid ?? 'PSID_1' }, recipient: { id: page }, timestamp: opts.timestamp ?? Date.now(), message: { mid, text } }],
      },
    ],
  };
}

export function fbComment(commentId: string, text: string, from = 'FB_USER_1', page = PAGE_ID) {
  return {
    field: 'feed',
    value: {
      item: 'comment',
      verb: 'add',
      comment_id: commentId,
      post_id: `${page}_555`,
      parent_id: `${page}_555`,
      from: { id: from, name: 'Ana' },
      message: text,
      created_time: Math.floor(Date.now() / 1000),
    },
  };
}

export function igComment(id: string, text: string, from = 'IGSID_7') {
  return { field: 'comments', value: { id, text, from: { id: from, username: 'ana.k' }, media: { id: '17800000000000002', media_product_type: 'FEED' } } };
}
