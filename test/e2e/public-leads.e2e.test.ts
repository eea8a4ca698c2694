import ava from 'ava';
import { startApp } from '../helpers/app.js';
import { chat, chatStream, createTenant } from '../helpers/chat.js';
import { dialects } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';

const SECRET = 'whsec-leads-secret-0123456789';
const VICTIM = { name: 'Victoria Stored', email: 'victoria@example.com', whatsapp: '+4790000001' };

const postLead = (url: string, slug: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/leads?tenant=${slug}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** Everything an anonymous caller could compare between two answers: status and the body's shape. */
function shapeOf(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return typeof value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, shapeOf(v)]));
}

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: the public lead form answers a known and a new email alike and never reveals or changes the stored lead`, async (t) => {
    const receiver = await WebhookReceiver.start(SECRET);
    const app = await startApp(dialect, { ZIA_CATALOG_ALLOW_PRIVATE: 'true', ZIA_JOB_BACKOFF_MS: '30' });
    try {
      await createTenant(app, 'shop', { outbound_webhook_url: receiver.url, outbound_webhook_secret: SECRET });
      await app.services.startWorker();
      const knex = app.services.db.knex;

      // The real customer, captured first.
      let res = await postLead(app.url, 'shop', VICTIM);
      t.is(res.status, 202);
      const first = (await res.json()) as any;
      t.deepEqual(first, { received: true, lead: { name: VICTIM.name, email: VICTIM.email, whatsapp: VICTIM.whatsapp } });
      const stored = await knex('leads').where({ email: VICTIM.email }).first();

      // Someone else types the victim's email with their own details, and a brand-new email alike.
      const known = await postLead(app.url, 'shop', { name: 'Mallory', email: 'VICTORIA@example.com', whatsapp: '+4799999999' });
      const unknown = await postLead(app.url, 'shop', { name: 'Mallory', email: 'someone-new@example.com', whatsapp: '+4799999999' });
      t.is(known.status, unknown.status, 'same status for a known and an unknown email');
      t.is(known.status, 202);
      const knownBody = (await known.json()) as any;
      const unknownBody = (await unknown.json()) as any;
      t.deepEqual(shapeOf(knownBody), shapeOf(unknownBody), 'same shape');
      t.deepEqual(knownBody.lead, { name: 'Mallory', email: VICTIM.email, whatsapp: '+4799999999' }, 'only what was typed comes back');
      const raw = JSON.stringify(knownBody);
      t.false(raw.includes(VICTIM.whatsapp), 'the stored number is never in the answer');
      t.false(raw.includes(VICTIM.name));
      t.false(raw.includes(stored.id), 'nor the stored lead id');
      t.false('created' in knownBody);

      const after = await knex('leads').where({ email: VICTIM.email }).first();
      t.deepEqual(
        { name: after.name, whatsapp: after.whatsapp, source_channel: after.source_channel },
        { name: VICTIM.name, whatsapp: VICTIM.whatsapp, source_channel: 'web' },
        'the stored lead is unchanged',
      );

      // What the visitor typed is kept for the operator, linked to the stored lead.
      res = await app.admin('/v1/admin/events?tenant=shop&type=lead_resubmitted');
      const { events } = (await res.json()) as any;
      t.is(events.length, 1);
      t.like(events[0].data, { lead_id: stored.id, name: 'Mallory', whatsapp: '+4799999999', channel: 'web' });
      // The operator's lead list shows one row per person, with the details first captured.
      const list = (await (await app.admin('/v1/admin/leads?tenant=shop')).json()) as any;
      t.deepEqual(list.leads.map((l: any) => [l.email, l.whatsapp]), [[VICTIM.email, VICTIM.whatsapp], ['someone-new@example.com', '+4799999999']]);

      // lead.created fires for the two new leads only: the event and the outbound webhook.
      t.is((await knex('events').where({ type: 'lead_captured' })).length, 2);
      await waitFor('two lead.created deliveries', () => receiver.received.filter((r) => r.event === 'lead.created').length === 2);
      await new Promise((r) => setTimeout(r, 200));
      const sent = receiver.received.filter((r) => r.event === 'lead.created').map((r) => r.json.data.lead.email);
      t.deepEqual(sent.sort(), ['someone-new@example.com', VICTIM.email]);
    } finally {
      await app.close();
      await receiver.close();
    }
  });

  test(`${dialect}: the chat lead flow with someone else's email shows only what was typed and leaves the stored lead alone`, async (t) => {
    const app = await startApp(dialect);
    try {
      await createTenant(app, 'shop');
      await postLead(app.url, 'shop', VICTIM);
      const say = async (message: string, conversation_id?: string) => (await chat(app, 'shop', { message, ...(conversation_id ? { conversation_id } : {}) })).json;
      let r = await say('please contact me');
      const cid = r.conversation_id;
      await say('Mallory', cid);
      await say(VICTIM.email, cid);
      r = await say('skip', cid);
      t.deepEqual(r.lead, { name: 'Mallory', email: VICTIM.email, whatsapp: null });
      t.false(JSON.stringify(r).includes(VICTIM.whatsapp), 'the stored number never reaches the visitor');
      t.notRegex(r.reply, /\+4790000001/);

      // The stream path: same answer in the done event.
      r = await say('can someone call me back?');
      await say('Mallory', r.conversation_id);
      await say(VICTIM.email, r.conversation_id);
      const s = await chatStream(app, 'shop', { message: '+4798888888', conversation_id: r.conversation_id });
      const done = s.events.at(-1)!;
      t.is(done.event, 'done');
      t.deepEqual(done.data.lead, { name: 'Mallory', email: VICTIM.email, whatsapp: '+4798888888' });
      t.false(s.raw.includes(VICTIM.whatsapp));

      const rows = await app.services.db.knex('leads').where({ email: VICTIM.email });
      t.is(rows.length, 1);
      t.deepEqual([rows[0].name, rows[0].whatsapp], [VICTIM.name, VICTIM.whatsapp], 'not overwritten by the flow');
      const resubmitted = await app.services.db.knex('events').where({ type: 'lead_resubmitted' });
      t.is(resubmitted.length, 2, 'both attempts are kept for the operator');
      t.true(resubmitted.every((e: any) => e.conversation_id), 'linked to the conversation they came from');
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: an operator with a key creates and updates leads through the admin API`, async (t) => {
    const app = await startApp(dialect);
    try {
      await createTenant(app, 'shop');
      await createTenant(app, 'other');
      await postLead(app.url, 'shop', VICTIM);
      const key = ((await (await app.admin('/v1/admin/tenants/shop/keys', { method: 'POST', body: JSON.stringify({ name: 'crm' }) })).json()) as any).key;
      const withKey = (slug: string, body: unknown, k: string) =>
        fetch(`${app.url}/v1/admin/leads?tenant=${slug}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': k }, body: JSON.stringify(body) });

      let res = await withKey('shop', { name: 'Victoria S.', email: VICTIM.email, whatsapp: '+4790000002' }, key);
      t.is(res.status, 200);
      const updated = (await res.json()) as any;
      t.false(updated.created);
      t.deepEqual([updated.lead.name, updated.lead.whatsapp], ['Victoria S.', '+4790000002'], 'the operator may update');
      res = await app.admin('/v1/admin/leads?tenant=shop', { method: 'POST', body: JSON.stringify({ name: 'New', email: 'new@example.com' }) });
      t.is(res.status, 201);
      t.true(((await res.json()) as any).created);
      t.is((await withKey('other', { name: 'X', email: 'x@example.com' }, key)).status, 404, "a tenant key cannot write another tenant's leads");
      t.is((await withKey('shop', { name: 'X', email: 'x@example.com' }, 'zk_wrong000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status, 401);
      // A key sent to the public form changes nothing: the public route is anonymous.
      res = await postLead(app.url, 'shop', { name: 'Public', email: VICTIM.email, whatsapp: '+4790000003' }, { 'x-api-key': key });
      t.is(res.status, 202);
      const row = await app.services.db.knex('leads').where({ email: VICTIM.email }).first();
      t.is(row.whatsapp, '+4790000002');
    } finally {
      await app.close();
    }
  });
}
