import type { GraphClient } from '../meta/graph-client.js';

/**
 * The WhatsApp Cloud API calls zia makes, over the one Graph client (same base URL, version, error
 * classification). Bodies follow Meta's Messages API: `messaging_product: "whatsapp"`, the customer as
 * `to` (a number) or `recipient` (a business-scoped user id), and one of text, template or interactive.
 */

export type CloudRecipient = { to: string } | { recipient: string };

export type CloudMessage =
  | { type: 'text'; text: { body: string; preview_url?: boolean } }
  | { type: 'template'; template: { name: string; language: { code: string }; components?: Array<{ type: 'body'; parameters: Array<{ type: 'text'; text: string }> }> } }
  | {
      type: 'interactive';
      interactive:
        | { type: 'button'; body: { text: string }; action: { buttons: Array<{ type: 'reply'; reply: { id: string; title: string } }> } }
        | { type: 'cta_url'; body: { text: string }; action: { name: 'cta_url'; parameters: { display_text: string; url: string } } };
    };

export type CloudSendBody = { messaging_product: 'whatsapp'; recipient_type: 'individual' } & CloudRecipient & CloudMessage;

export interface CloudTemplateInfo {
  id: string;
  name: string;
  language: string;
  category: string;
  status: string;
  /** The body text with its {{n}} placeholders. */
  body: string | null;
}

/** A conversation key: an E.164 number, or a business-scoped user id (CC.xxxx). */
export function recipientOf(key: string): CloudRecipient {
  return key.startsWith('+') ? { to: key.slice(1) } : { recipient: key };
}

/** How many distinct {{n}} placeholders a template body has. */
export function bodyParameters(body: string | null): number {
  return body ? new Set([...body.matchAll(/\{\{\s*(\d+)\s*\}\}/g)].map((m) => m[1])).size : 0;
}

export class CloudClient {
  constructor(private readonly graph: GraphClient) {}

  /** POST /{phone-number-id}/messages: the message's wamid. */
  async send(token: string, phoneNumberId: string, body: CloudSendBody): Promise<string | null> {
    const res = (await this.graph.call('POST', `${encodeURIComponent(phoneNumberId)}/messages`, token, body)) as { messages?: Array<{ id?: string }> };
    return res.messages?.[0]?.id ?? null;
  }

  /** Every template of the WABA, page by page. */
  async templates(token: string, wabaId: string): Promise<CloudTemplateInfo[]> {
    const out: CloudTemplateInfo[] = [];
    let after: string | undefined;
    for (let page = 0; page < 200; page++) {
      const query = new URLSearchParams({ fields: 'id,name,language,category,status,components', limit: '100', ...(after ? { after } : {}) });
      const res = (await this.graph.call('GET', `${encodeURIComponent(wabaId)}/message_templates?${query}`, token)) as {
        data?: Array<{ id: string; name: string; language: string; category: string; status: string; components?: Array<{ type?: string; text?: string }> }>;
        paging?: { next?: string; cursors?: { after?: string } };
      };
      for (const t of res.data ?? []) {
        const body = t.components?.find((c) => c.type?.toUpperCase() === 'BODY')?.text ?? null;
        out.push({ id: String(t.id), name: t.name, language: t.language, category: t.category.toUpperCase(), status: t.status.toUpperCase(), body });
      }
      after = res.paging?.next ? res.paging.cursors?.after : undefined;
      if (!after) break;
    }
    return out;
  }

  async phoneNumbers(token: string, wabaId: string): Promise<Array<{ id: string; display_phone_number?: string }>> {
    const res = (await this.graph.call('GET', `${encodeURIComponent(wabaId)}/phone_numbers?fields=id,display_phone_number`, token)) as { data?: Array<{ id: string }> };
    return (res.data ?? []).map((n) => ({ ...n, id: String(n.id) }));
  }

  /** The apps subscribed to the WABA's webhooks. */
  async subscribedApps(token: string, wabaId: string): Promise<Array<{ id: string; name?: string }>> {
    const res = (await this.graph.call('GET', `${encodeURIComponent(wabaId)}/subscribed_apps`, token)) as { data?: Array<{ whatsapp_business_api_data?: { id?: string; name?: string } }> };
    return (res.data ?? []).flatMap((a) => (a.whatsapp_business_api_data?.id ? [{ id: String(a.whatsapp_business_api_data.id), name: a.whatsapp_business_api_data.name }] : []));
  }

  /** The webhook fields an app has subscribed for whatsapp_business_account (app access token: id|secret). */
  async appFields(appId: string, appSecret: string): Promise<string[]> {
    const res = (await this.graph.call('GET', `${encodeURIComponent(appId)}/subscriptions`, `${appId}|${appSecret}`)) as { data?: Array<{ object?: string; active?: boolean; fields?: Array<{ name?: string }> }> };
    const sub = (res.data ?? []).find((s) => s.object === 'whatsapp_business_account' && s.active !== false);
    return (sub?.fields ?? []).flatMap((f) => (f.name ? [f.name] : []));
  }
}
