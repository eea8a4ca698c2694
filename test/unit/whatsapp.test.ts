import test from 'ava';
import fc from 'fast-check';
import { charCount, splitText } from '../../src/features/channels/split-text.js';
import { plainText } from '../../src/features/channels/whatsapp/plain-text.js';
import { classifyTwilioError } from '../../src/features/channels/whatsapp/twilio-client.js';
import { WHATSAPP_LIMIT } from '../../src/features/channels/whatsapp/whatsapp-sender.js';
import { replaceableBy } from '../../src/features/channels/whatsapp/whatsapp-status.js';
import { inboundFormSchema, toItem } from '../../src/features/channels/whatsapp/whatsapp.schemas.js';

const err = (status: number | null, code: number | null) => ({ status, code });

test('Twilio errors: 21211, 21610, 20003, 63016 park; 20429, 5xx and network errors retry', (t) => {
  for (const [status, code] of [[400, 21211], [400, 21610], [401, 20003], [400, 63016], [400, 21619]] as const) {
    t.false(classifyTwilioError(err(status, code)).transient, `code ${code}`);
  }
  t.regex(classifyTwilioError(err(400, 63016)).reason, /24 h window/);
  t.regex(classifyTwilioError(err(400, 21610)).reason, /opted out/);
  t.true(classifyTwilioError(err(429, 20429)).transient);
  t.true(classifyTwilioError(err(429, null)).transient);
  for (const status of [500, 502, 503]) t.true(classifyTwilioError(err(status, 20500)).transient, `HTTP ${status}`);
  t.true(classifyTwilioError({ ...err(null, null), network: 'timeout' }).transient);
  t.true(classifyTwilioError({ ...err(null, null), network: 'refused' }).transient);
});

test('status order: a report replaces only statuses before it; failures are terminal', (t) => {
  const order = ['queued', 'sending', 'sent', 'delivered', 'read'];
  for (const [i, s] of order.entries()) {
    const replaces = replaceableBy(s)!;
    t.true(replaces.includes(null));
    for (const earlier of order.slice(0, i)) t.true(replaces.includes(earlier), `${s} replaces ${earlier}`);
    for (const later of order.slice(i)) t.false(replaces.includes(later), `${s} keeps ${later}`);
    t.false(replaces.includes('failed'));
    t.false(replaces.includes('undelivered'));
  }
  for (const s of ['failed', 'undelivered']) {
    const replaces = replaceableBy(s)!;
    for (const earlier of order) t.true(replaces.includes(earlier));
    t.false(replaces.includes('failed'));
    t.false(replaces.includes('undelivered'));
  }
  t.is(replaceableBy('partially_delivered'), undefined);
});

test('WhatsApp replies split at 1,600 characters, at sentence ends when there are any', (t) => {
  const sentence = (i: number) => `Sentence number ${i} says something about shipping to Oslo and Bergen.`;
  const text = Array.from({ length: 80 }, (_, i) => sentence(i)).join(' ');
  const parts = splitText(text, WHATSAPP_LIMIT, charCount);
  t.true(parts.length >= 3);
  for (const p of parts) {
    t.true(charCount(p) <= WHATSAPP_LIMIT);
    t.true(p.endsWith('.'), 'each part ends a sentence');
  }
  t.is(parts.join(' '), text);
  fc.assert(
    fc.property(fc.array(fc.constantFrom('word', 'end.', 'what?', 'wow!', '“quote.”', '😀'), { minLength: 1, maxLength: 1200 }), (words) => {
      const all = words.join(' ');
      const split = splitText(all, WHATSAPP_LIMIT, charCount);
      return split.every((p) => charCount(p) <= WHATSAPP_LIMIT) && split.join(' ') === all;
    }),
  );
});

test('plainText removes markdown and keeps the words and links', (t) => {
  t.is(plainText('## Prices\n\n**Basic**: 19 kr, *Pro*: 49 kr. See [the shop](https://shop.example.com/x).'), 'Prices\n\nBasic: 19 kr, Pro: 49 kr. See the shop: https://shop.example.com/x.');
  t.is(plainText('* one\n* two\n\n```\ncode here\n```'), '- one\n- two\n\ncode here');
  t.is(plainText('2 * 3 = 6 and snake_case_name stay'), '2 * 3 = 6 and snake_case_name stay');
  t.is(plainText('~~old~~ new `x`'), 'old new x');
});

test('an inbound form becomes an inbox item: numbers without the prefix, media refs in order', (t) => {
  const form = inboundFormSchema.parse({
    MessageSid: `MM${'0'.repeat(32)}`,
    From: 'whatsapp:+4791234567',
    To: 'whatsapp:+14155238886',
    Body: ['  look at this ', 'ignored'],
    ProfileName: 'Ana',
    NumMedia: '2',
    MediaUrl0: 'https://api.twilio.com/m0',
    MediaContentType0: 'image/jpeg',
    MediaUrl1: 'https://api.twilio.com/m1',
    MediaContentType1: 'audio/ogg',
    Extra: 'kept in the signature only',
  });
  t.deepEqual(toItem(form), {
    messageSid: `MM${'0'.repeat(32)}`,
    from: '+4791234567',
    to: '+14155238886',
    text: 'look at this',
    profileName: 'Ana',
    media: [
      { url: 'https://api.twilio.com/m0', contentType: 'image/jpeg' },
      { url: 'https://api.twilio.com/m1', contentType: 'audio/ogg' },
    ],
  });
  t.throws(() => inboundFormSchema.parse({ MessageSid: 'SMx', From: '+47', To: 'whatsapp:+14155238886' }));
});
