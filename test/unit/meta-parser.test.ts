import test from 'ava';
import { parseMetaPayload } from '../../src/features/channels/meta/meta-parser.js';
import { envelopeSchema } from '../../src/features/channels/meta/meta.schemas.js';

const parse = (p: unknown) => parseMetaPayload(envelopeSchema.parse(p));

test('Messenger messages, postbacks and standby events become items keyed by mid', (t) => {
  const r = parse({
    object: 'page',
    entry: [
      {
        id: '42',
        messaging: [
          { sender: { id: 'U1' }, recipient: { id: '42' }, timestamp: 1, message: { mid: 'm1', text: 'hi' } },
          { sender: { id: 'U1' }, recipient: { id: '42' }, timestamp: 2, postback: { mid: 'm2', title: 'Buy', payload: 'BUY_1' } },
          { sender: { id: 'U2' }, recipient: { id: '42' }, timestamp: 3, message: { mid: 'm3', attachments: [{ type: 'image', payload: { url: 'https://x/y.jpg' } }] } },
        ],
        standby: [{ sender: { id: 'U3' }, recipient: { id: '42' }, timestamp: 4, message: { mid: 'm4', text: 'held by another app' } }],
      },
    ],
  });
  t.deepEqual(r.items.map((i) => i.externalId), ['mid:m1', 'mid:m2', 'mid:m3', 'mid:m4']);
  const [a, b, c] = r.items;
  t.is(a!.kind, 'meta.message');
  t.is(a!.item.channel, 'messenger');
  t.is((b!.item as { text: string }).text, 'Buy');
  t.deepEqual((c!.item as { media: unknown[] }).media, [{ url: 'https://x/y.jpg', contentType: 'image' }]);
});

test('echoes, receipts, edits, deletions and own comments are dropped', (t) => {
  const r = parse({
    object: 'page',
    entry: [
      {
        id: '42',
        messaging: [
          { sender: { id: '42' }, recipient: { id: 'U1' }, message: { mid: 'e1', text: 'x', is_echo: true } },
          { sender: { id: 'U1' }, recipient: { id: '42' }, delivery: { mids: ['m'], watermark: 1 } },
          { sender: { id: 'U1' }, recipient: { id: '42' }, read: { watermark: 1 } },
          { sender: { id: 'U1' }, recipient: { id: '42' }, message_edit: { mid: 'm', text: 'y' } },
        ],
        changes: [
          { field: 'feed', value: { item: 'comment', verb: 'add', comment_id: 'c1', from: { id: '42' }, message: 'thanks' } },
          { field: 'feed', value: { item: 'comment', verb: 'edited', comment_id: 'c2', from: { id: 'U1' }, message: 'x' } },
          { field: 'feed', value: { item: 'comment', verb: 'remove', comment_id: 'c3', from: { id: 'U1' } } },
          { field: 'feed', value: { item: 'reaction', verb: 'add', from: { id: 'U1' } } },
        ],
      },
    ],
  });
  t.deepEqual(r.items, []);
  t.is(r.dropped.length, 8);
});

test('Facebook and Instagram comments become items keyed by their comment ids', (t) => {
  const fb = parse({ object: 'page', entry: [{ id: '42', changes: [{ field: 'feed', value: { item: 'comment', verb: 'add', comment_id: '42_9', from: { id: 'U1', name: 'Ana' }, message: 'Price?', created_time: 100 } }] }] });
  t.deepEqual(fb.items.map((i) => [i.kind, i.externalId, i.item.channel]), [['meta.comment', 'fb_comment:42_9', 'fb_comment']]);
  const ig = parse({ object: 'instagram', entry: [{ id: '17', changes: [{ field: 'comments', value: { id: '179', text: 'stock?', from: { id: 'IG1', username: 'a' } } }, { field: 'comments', value: { id: '180', text: 'our reply', from: { id: '17' } } }] }] });
  t.deepEqual(ig.items.map((i) => i.externalId), ['ig_comment:179']);
  t.is(ig.items[0]!.item.channel, 'ig_comment');
});

test('a malformed event is dropped without losing the rest of the batch', (t) => {
  const r = parse({ object: 'instagram', entry: [{ id: '17', messaging: [{ nonsense: true }, { sender: { id: 'I1' }, recipient: { id: '17' }, message: { mid: 'ok', text: 'hi' } }] }] });
  t.deepEqual(r.items.map((i) => [i.externalId, i.item.channel]), [['mid:ok', 'instagram']]);
});
