import test from 'ava';
import { startApp } from '../helpers/app.js';
import { chat, chatStream, createTenant } from '../helpers/chat.js';
import { dialects } from '../helpers/db.js';

const FAQ = [
  { q: 'What are your opening hours?', a: 'We are open Monday to Friday, 8:00 to 18:00.' },
  { q: 'Do you ship abroad?', a: 'Yes, we ship to every EU country within 5 working days.' },
  { q: 'Can I return a product?', a: 'Returns are accepted within 30 days with the receipt.' },
];

for (const dialect of dialects()) {
  test(`${dialect}: offline provider answers FAQ on /v1/chat and streams it`, async (t) => {
    const app = await startApp(dialect);
    try {
      t.is(app.config.aiProvider, 'offline');
      await createTenant(app, 'acme', { faq: FAQ });

      let r = await chat(app, 'acme', { message: 'When are you open? What hours?' });
      t.is(r.status, 200);
      t.is(r.json.reply, FAQ[0]!.a);
      t.truthy(r.json.conversation_id);
      t.truthy(r.json.message_id);

      r = await chat(app, 'acme', { message: 'do you ship to other countries abroad?' });
      t.is(r.json.reply, FAQ[1]!.a);

      r = await chat(app, 'acme', { message: 'hello!' });
      t.regex(r.json.reply, /Acme Coffee/, 'greets in the tenant name');

      r = await chat(app, 'acme', { message: 'what is the meaning of life?' });
      t.regex(r.json.reply, /contact me/, 'fallback offers the lead flow');

      const s = await chatStream(app, 'acme', { message: 'How can I return a product I bought?' });
      t.is(s.status, 200);
      t.regex(s.headers.get('content-type')!, /^text\/event-stream/);
      t.is(s.headers.get('cache-control'), 'no-cache, no-transform');
      t.is(s.headers.get('x-accel-buffering'), 'no');
      const names = s.events.map((e) => e.event);
      t.is(names[0], 'meta');
      t.is(names.at(-1), 'done');
      const tokens = s.events.filter((e) => e.event === 'token');
      t.true(tokens.length > 1, `${tokens.length} token events`);
      const done = s.events.at(-1)!.data;
      t.is(tokens.map((e) => e.data.text).join(''), done.reply);
      t.is(done.reply, FAQ[2]!.a);
      t.is(done.conversation_id, s.events[0]!.data.conversation_id);
      t.truthy(done.message_id);

      // Both messages of every turn are stored, with events.
      const knex = app.services.db.knex;
      const msgs = await knex('messages').where({ conversation_id: done.conversation_id }).orderBy('id');
      t.deepEqual(msgs.map((m: any) => m.role), ['user', 'assistant']);
      t.is(msgs[1].id, done.message_id);
      const types = (await knex('events').where({ conversation_id: done.conversation_id })).map((e: any) => e.type).sort();
      t.deepEqual(types, ['conversation_started', 'message_received', 'reply_sent']);
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: conversations continue, stay inside their tenant, and inputs are checked`, async (t) => {
    const app = await startApp(dialect);
    try {
      await createTenant(app, 'acme', { faq: FAQ });
      await createTenant(app, 'other', {}, 'Other Shop');

      const first = await chat(app, 'acme', { message: 'hi', visitor_id: 'v-123' });
      const again = await chat(app, 'acme', { message: 'opening hours?', visitor_id: 'v-123' });
      t.is(again.json.conversation_id, first.json.conversation_id, 'the same visitor continues the conversation');
      const byId = await chat(app, 'acme', { message: 'returns?', conversation_id: first.json.conversation_id });
      t.is(byId.json.conversation_id, first.json.conversation_id);
      const count = await app.services.db.knex('messages').where({ conversation_id: first.json.conversation_id }).count({ n: '*' }).first();
      t.is(Number((count as any).n), 6);

      // Another tenant's conversation id is unknown here: 404 on both endpoints, nothing stored.
      const foreign = await chat(app, 'other', { message: 'hi', conversation_id: first.json.conversation_id });
      t.is(foreign.status, 404);
      t.is(foreign.json.error.code, 'not_found');
      const foreignStream = await chatStream(app, 'other', { message: 'hi', conversation_id: first.json.conversation_id });
      t.is(foreignStream.status, 404);
      t.is(JSON.parse(foreignStream.raw).error.code, 'not_found');
      const made = await chat(app, 'acme', { message: 'hi', conversation_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' });
      t.is(made.status, 404);

      t.is((await chat(app, 'nope', { message: 'hi' })).status, 404, 'unknown tenant');
      t.is((await chat(app, 'acme', { message: '' })).status, 400);
      t.is((await chat(app, 'acme', { message: 'x'.repeat(4001) })).status, 400);
      t.is((await chat(app, 'acme', { message: 'hi', extra: 1 })).status, 400);
      const bad = await chatStream(app, 'acme', { message: '   ' });
      t.is(bad.status, 400);
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: per-tenant and per-IP rate limit on both endpoints`, async (t) => {
    const app = await startApp(dialect, { ZIA_RATE_LIMIT_PER_MINUTE: '100' });
    try {
      await createTenant(app, 'tight', { rate_limit_per_minute: 2 });
      await createTenant(app, 'roomy');
      t.is((await chat(app, 'tight', { message: 'hi' })).status, 200);
      t.is((await chatStream(app, 'tight', { message: 'hi' })).status, 200);
      const limited = await chat(app, 'tight', { message: 'hi' });
      t.is(limited.status, 429);
      t.is(limited.json.error.code, 'rate_limited');
      t.truthy(Number(limited.headers.get('retry-after')) > 0);
      const limitedStream = await chatStream(app, 'tight', { message: 'hi' });
      t.is(limitedStream.status, 429);
      t.is((await chat(app, 'roomy', { message: 'hi' })).status, 200, 'another tenant has its own budget');
    } finally {
      await app.close();
    }
  });
}
