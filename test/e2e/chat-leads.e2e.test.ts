import test from 'ava';
import { startApp } from '../helpers/app.js';
import { chat, chatStream, createTenant } from '../helpers/chat.js';
import { dialects } from '../helpers/db.js';

for (const dialect of dialects()) {
  test(`${dialect}: lead flow in conversation (intent mode) stores the lead once, with its channel`, async (t) => {
    const app = await startApp(dialect);
    try {
      await createTenant(app, 'acme');
      const knex = app.services.db.knex;
      const say = async (message: string, conversation_id?: string) => (await chat(app, 'acme', { message, ...(conversation_id ? { conversation_id } : {}) })).json;

      let r = await say('Could someone contact me about a bulk order?');
      const cid = r.conversation_id;
      t.regex(r.reply, /name/i);
      r = await say('My name is Ada Lovelace', cid);
      t.regex(r.reply, /Ada Lovelace/);
      t.regex(r.reply, /email/i);
      r = await say('not an email', cid);
      t.regex(r.reply, /email/i, 'an invalid email is asked again');
      r = await say('sure, it is ADA@Example.com', cid);
      t.regex(r.reply, /WhatsApp/);
      r = await say('12345', cid);
      t.regex(r.reply, /country code/, 'an invalid number is asked again');
      const s = await chatStream(app, 'acme', { message: '+47 912 34 567', conversation_id: cid });
      const done = s.events.at(-1)!;
      t.is(done.event, 'done');
      t.is(done.data.lead.email, 'ada@example.com');
      t.is(done.data.lead.name, 'Ada Lovelace');
      t.is(done.data.lead.whatsapp, '+4791234567');

      let leads = await knex('leads');
      t.is(leads.length, 1);
      t.is(leads[0].source_channel, 'web');
      t.is(leads[0].conversation_id, cid);

      // The flow is over: the next message goes to the assistant again.
      r = await say('thanks!', cid);
      t.notRegex(r.reply, /email/i);

      // The same person again, from a new conversation, skipping WhatsApp: still one lead.
      r = await say('please call me back');
      const cid2 = r.conversation_id;
      await say('Ada', cid2);
      await say('ada@example.com', cid2);
      r = await say('skip', cid2);
      t.is(r.lead.email, 'ada@example.com');
      leads = await knex('leads');
      t.is(leads.length, 1, 'one lead per tenant + email');
      t.is(leads[0].whatsapp, '+4791234567', 'a skipped number does not erase the known one');
      t.is(leads[0].name, 'Ada Lovelace', 'an anonymous resubmission never overwrites the stored name');
      t.deepEqual(r.lead, { name: 'Ada', email: 'ada@example.com', whatsapp: null }, 'the visitor sees what they typed, not the stored number');

      // Cancel leaves the flow without a lead.
      r = await say('I want to talk to a human');
      const cid3 = r.conversation_id;
      r = await say('cancel', cid3);
      t.regex(r.reply, /cancelled/);
      r = await say('Grace', cid3);
      t.notRegex(r.reply, /Grace/, 'no longer collecting a name');

      const events = await knex('events').whereIn('type', ['lead_started', 'lead_captured', 'lead_resubmitted']);
      t.is(events.filter((e: any) => e.type === 'lead_resubmitted').length, 1, 'the second attempt is kept as an event');
      t.is(events.filter((e: any) => e.type === 'lead_started').length, 3);
      t.is(events.filter((e: any) => e.type === 'lead_captured').length, 1, 'lead_captured once per new lead');
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: lead mode first_message and off; the widget lead form`, async (t) => {
    const app = await startApp(dialect);
    try {
      await createTenant(app, 'first', { lead: { mode: 'first_message', ask_whatsapp: false } });
      await createTenant(app, 'off', { lead: { mode: 'off' } });
      let r = (await chat(app, 'first', { message: 'hello' })).json;
      t.regex(r.reply, /name/i);
      r = (await chat(app, 'first', { message: 'Linus', conversation_id: r.conversation_id })).json;
      r = (await chat(app, 'first', { message: 'linus@example.org', conversation_id: r.conversation_id })).json;
      t.deepEqual({ email: r.lead.email, whatsapp: r.lead.whatsapp }, { email: 'linus@example.org', whatsapp: null }, 'ask_whatsapp false ends after the email');
      r = (await chat(app, 'off', { message: 'please contact me' })).json;
      t.notRegex(r.reply, /what's your name/i, 'mode off never starts the flow');

      // The widget form: a new email, then the same email again (kept as an event, the lead unchanged);
      // a conversation of another tenant is a 404.
      const conv = (await chat(app, 'off', { message: 'hi' })).json.conversation_id;
      const post = (slug: string, body: unknown) =>
        fetch(`${app.url}/v1/leads?tenant=${slug}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      let res = await post('off', { name: 'Grace', email: 'Grace@Example.com', conversation_id: conv });
      t.is(res.status, 202);
      const created = (await res.json()) as any;
      t.is(created.lead.email, 'grace@example.com');
      res = await post('off', { name: 'Grace Hopper', email: 'grace@example.com', whatsapp: '+1 555 010 9999' });
      t.is(res.status, 202, 'a known email is answered as a new one');
      const again = (await res.json()) as any;
      t.is(again.lead.whatsapp, '+15550109999', 'the normalised number typed, echoed back');
      t.is(again.lead.id, undefined);
      t.is((await post('first', { name: 'X', email: 'x@example.com', conversation_id: conv })).status, 404);
      t.is((await post('off', { name: 'X', email: 'nope' })).status, 400);
      t.is((await post('nope', { name: 'X', email: 'x@example.com' })).status, 404);
      const row = await app.services.db.knex('leads').where({ email: 'grace@example.com' }).first();
      t.is(row.conversation_id, conv);
      t.deepEqual([row.name, row.whatsapp], ['Grace', null], 'the stored lead is not overwritten by the form');
    } finally {
      await app.close();
    }
  });
}
