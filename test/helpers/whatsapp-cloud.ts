import { randomBytes } from 'node:crypto';

/** WhatsApp Cloud API webhooks as Meta posts them (object whatsapp_business_account), for tests. */

export const WABA_ID = '102290129340398';
export const PHONE_NUMBER_ID = '106540352242922';
export const DISPLAY_NUMBER = '15550783881';
export const CLOUD_TOKEN = 'EAAJ-system-user-token-for-tests-0123456789';
export const CUSTOMER_WA = '16505551234';
export const CUSTOMER_USER_ID = 'US.13491208655302741918';

export const wamid = () => `wamid.HBgL${randomBytes(18).toString('base64url')}`;

type Value = Record<string, unknown>;

function envelope(field: string, value: Value, wabaId = WABA_ID) {
  return { object: 'whatsapp_business_account', entry: [{ id: wabaId, changes: [{ value, field }] }] };
}

function messagesValue(extra: Value, phoneNumberId = PHONE_NUMBER_ID): Value {
  return { messaging_product: 'whatsapp', metadata: { display_phone_number: DISPLAY_NUMBER, phone_number_id: phoneNumberId }, ...extra };
}

export interface Sender {
  /** Digits, as Meta writes wa_id and from; omitted for a customer who hides their number. */
  wa?: string | null;
  userId?: string | null;
  name?: string;
}

/** One inbound message of any type (`message` holds the type's own object, e.g. {type: 'text', text: {body}}). */
export function cloudMessage(id: string, message: Value, from: Sender = {}, phoneNumberId = PHONE_NUMBER_ID) {
  const wa = from.wa === undefined ? CUSTOMER_WA : from.wa;
  const userId = from.userId === undefined ? CUSTOMER_USER_ID : from.userId;
  return envelope(
    'messages',
    messagesValue(
      {
        contacts: [{ profile: { name: from.name ?? 'Sheena Nelson' }, ...(wa ? { wa_id: wa } : {}), ...(userId ? { user_id: userId } : {}) }],
        messages: [{ ...(wa ? { from: wa } : {}), ...(userId ? { from_user_id: userId } : {}), id, timestamp: String(Math.floor(Date.now() / 1000)), ...message }],
      },
      phoneNumberId,
    ),
  );
}

export const cloudText = (id: string, body: string, from?: Sender, phoneNumberId?: string) => cloudMessage(id, { type: 'text', text: { body } }, from, phoneNumberId);

/** A tap on a reply button zia sent. */
export const cloudButtonReply = (id: string, buttonId: string, title: string, from?: Sender) => cloudMessage(id, { type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: buttonId, title } } }, from);

export function cloudStatus(messageId: string, status: 'sent' | 'delivered' | 'read' | 'failed', error?: { code: number; title: string }) {
  return envelope(
    'messages',
    messagesValue({
      statuses: [
        {
          id: messageId,
          status,
          timestamp: String(Math.floor(Date.now() / 1000)),
          recipient_id: CUSTOMER_WA,
          ...(status === 'failed' && error ? { errors: [{ code: error.code, title: error.title, error_data: { details: error.title } }] } : { pricing: { billable: true, pricing_model: 'PMP', category: 'service' } }),
        },
      ],
    }),
  );
}

export function templateCategoryUpdate(templateId: string, name: string, previous: string, next: string) {
  return envelope('template_category_update', { message_template_id: Number(templateId), message_template_name: name, message_template_language: 'en_US', previous_category: previous, new_category: next });
}
