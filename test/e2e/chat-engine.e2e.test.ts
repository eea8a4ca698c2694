import test from 'ava';
import type { Write } from '../../src/db/create-db.js';
import { NotFoundError } from '../../src/errors.js';
import { OfflineProvider } from '../../src/features/ai/offline-provider.js';
import { PromptBuilder } from '../../src/features/ai/prompt-builder.js';
import type { AiProvider, GenerateRequest, GenerateResult } from '../../src/features/ai/provider.js';
import type { CatalogItem, CatalogLookup } from '../../src/features/catalog/catalog.types.js';
import { ChatEngine } from '../../src/features/chat/chat-engine.js';
import { ConversationStore } from '../../src/features/chat/conversation-store.js';
import type { Tx } from '../../src/db/unit-of-work.js';
import type { CheckoutCreator, CheckoutRequest } from '../../src/features/payments/payments.types.js';
import type { Tenant } from '../../src/features/tenants/tenant-service.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createTenant } from '../helpers/chat.js';
import { dialects } from '../helpers/db.js';

// A small catalog and checkout, injected the way the container will inject the real ones.
const ITEMS: CatalogItem[] = [
  { id: 'grinder-1', name: 'Burr Coffee Grinder', description: 'Conical burrs', price: 8900, currency: 'eur', url: null, image: null, available: true, stock: 4 },
  { id: 'beans-1', name: 'Ethiopian Coffee Beans', description: '1 kg', price: 2450, currency: 'eur', url: null, image: null, available: false, stock: 0 },
];
const catalog: CatalogLookup = {
  configured: () => true,
  async search(_tenant, query) {
    const words = query.toLowerCase().split(/\W+/).filter((w) => w.length > 2).map((w) => w.replace(/s$/, ''));
    return ITEMS.filter((i) => words.some((w) => i.name.toLowerCase().includes(w))).map((item) => ({ item, score: 1, priceText: `€${(item.price / 100).toFixed(2)}` }));
  },
  async find(_tenant, id) {
    return ITEMS.find((i) => i.id === id);
  },
  formatPrice: (_t, amount) => `€${(amount / 100).toFixed(2)}`,
};
function checkoutRecorder() {
  const calls: CheckoutRequest[] = [];
  const creator: CheckoutCreator = {
    async createCheckout(tenant: Tenant, request: CheckoutRequest) {
      calls.push(request);
      const item = ITEMS.find((i) => i.id === request.ref);
      if (!item) throw new NotFoundError('unknown item');
      return { orderId: `ord_${calls.length}`, url: `https://pay.example/${tenant.slug}/${item.id}`, sessionId: 'cs_1', kind: 'item', name: item.name, amount: item.price, currency: item.currency, quantity: request.quantity ?? 1 };
    },
  };
  return { calls, creator };
}

function engine(app: TestApp, deps: { catalog?: CatalogLookup; checkout?: CheckoutCreator }) {
  const s = app.services;
  return new ChatEngine({ store: new ConversationStore(s.db), leads: s.leads, events: s.events, provider: new OfflineProvider(), prompts: new PromptBuilder(), logger: s.logger, ...deps });
}

for (const dialect of dialects()) {
  test(`${dialect}: offline tools use the injected catalog and checkout; "not configured" without them`, async (t) => {
    const app = await startApp(dialect);
    try {
      await createTenant(app, 'acme');
      const tenant = await app.services.tenants.get('acme');
      const { calls, creator } = checkoutRecorder();
      const wired = engine(app, { catalog, checkout: creator });
      const turn = (text: string, user = 'u1') => wired.runTurn({ tenant, channel: 'web', externalUserId: user, text });

      let r = await turn('How much is the coffee grinder?');
      t.regex(r.reply!, /Burr Coffee Grinder costs €89\.00/);
      t.regex(r.reply!, /in stock/);
      r = await turn('do you have ethiopian beans in stock?');
      t.regex(r.reply!, /€24\.50.*out of stock/);
      r = await turn('I want to buy 2 grinders');
      t.is(r.checkoutUrl, 'https://pay.example/acme/grinder-1');
      t.regex(r.reply!, /pay\.example/);
      t.deepEqual(calls.map((c) => [c.kind, c.ref, c.quantity, c.conversationId]), [['item', 'grinder-1', 2, r.conversationId]]);
      const ev = await app.services.db.knex('events').where({ type: 'checkout_created' });
      t.is(ev.length, 1);

      const bare = engine(app, {});
      r = await bare.runTurn({ tenant, channel: 'web', externalUserId: 'u2', text: 'I want to buy the grinder' });
      t.is(r.checkoutUrl, undefined);
      t.regex(r.reply!, /not set up|contact me/);
      r = await bare.runTurn({ tenant, channel: 'web', externalUserId: 'u2', text: 'How much is the grinder?' });
      t.regex(r.reply!, /contact me/, 'no catalog: the fallback, never an invented price');
      t.notRegex(r.reply!, /€/);
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: other channels: dedupe by provider message id, 24 h window, paused bot`, async (t) => {
    const app = await startApp(dialect);
    try {
      await createTenant(app, 'acme', { faq: [{ q: 'What are your opening hours?', a: 'Nine to five.' }] });
      const tenant = await app.services.tenants.get('acme');
      const chat = app.services.chat;
      const base = { tenant, channel: 'whatsapp' as const, externalUserId: '+4791234567' };

      const first = await chat.runTurn({ ...base, text: 'opening hours?', providerMessageId: 'SM1' });
      t.false(first.duplicate);
      t.is(first.reply, 'Nine to five.');
      const repeat = await chat.runTurn({ ...base, text: 'opening hours?', providerMessageId: 'SM1' });
      t.true(repeat.duplicate);
      t.is(repeat.reply, 'Nine to five.', 'a retried turn gets the stored reply back, to deliver it');
      t.is(repeat.replyMessageId, first.replyMessageId);
      t.is(repeat.conversationId, first.conversationId);

      // A provider's id has no documented maximum; a long one is stored and recognised like any other.
      const longId = `m_${'Xy9'.repeat(150)}`;
      const long = await chat.runTurn({ tenant, channel: 'messenger', externalUserId: 'psid-long', text: 'opening hours?', providerMessageId: longId });
      t.false(long.duplicate);
      t.true((await chat.runTurn({ tenant, channel: 'messenger', externalUserId: 'psid-long', text: 'opening hours?', providerMessageId: longId })).duplicate);
      const stored = await app.services.db.knex('messages').where({ conversation_id: first.conversationId });
      t.is(stored.length, 2, 'stored once, answered once');
      // A crash after the message was stored but before the reply: the retry answers it.
      await app.services.db.knex('messages').where({ id: first.replyMessageId }).delete();
      const resumed = await chat.runTurn({ ...base, text: 'opening hours?', providerMessageId: 'SM1' });
      t.false(resumed.duplicate);
      t.is(resumed.reply, 'Nine to five.');
      t.is(resumed.userMessageId, first.userMessageId);
      t.is((await app.services.db.knex('messages').where({ conversation_id: first.conversationId })).length, 2);
      // The same provider id on another channel is another message.
      const messenger = await chat.runTurn({ tenant, channel: 'messenger', externalUserId: 'psid-1', text: 'hours?', providerMessageId: 'SM1' });
      t.false(messenger.duplicate);

      const conv = await app.services.conversations.get(tenant.id, first.conversationId);
      t.truthy(conv.lastInboundAt, 'last_inbound_at is set for non-web channels');
      t.is(conv.channel, 'whatsapp');

      await app.services.conversations.setPaused(tenant.id, first.conversationId, true);
      const paused = await chat.runTurn({ ...base, text: 'hello?', providerMessageId: 'SM2' });
      t.is(paused.reply, null);
      t.truthy(paused.userMessageId, 'the message is still stored');
      const roles = (await app.services.db.knex('messages').where({ conversation_id: first.conversationId }).orderBy('id')).map((m: any) => m.role);
      t.deepEqual(roles, ['user', 'assistant', 'user']);

      // Operator messages through the service, and delivery updates.
      const { id } = await app.services.conversations.appendMessage(tenant.id, first.conversationId, { role: 'operator', text: 'A human here', providerMessageId: 'SMop' });
      await app.services.conversations.updateDelivery(tenant.id, { providerMessageId: 'SMop' }, { status: 'delivered' });
      const row = await app.services.db.knex('messages').where({ id }).first();
      t.is(row.delivery_status, 'delivered');
      await t.throwsAsync(app.services.conversations.get('someone-else', first.conversationId), { instanceOf: NotFoundError });

      // The web channel cannot continue a WhatsApp thread by id.
      await t.throwsAsync(chat.runTurn({ tenant, channel: 'web', externalUserId: 'x', text: 'hi', conversationId: first.conversationId }), { instanceOf: NotFoundError });
    } finally {
      await app.close();
    }
  });

  test(`${dialect}: the user's message is committed before the model is asked; a failed commit asks no model`, async (t) => {
    const app = await startApp(dialect);
    try {
      await createTenant(app, 'acme');
      const tenant = await app.services.tenants.get('acme');
      const s = app.services;
      const log: string[] = [];
      // The first commit of the turn is logged when it is done, whichever way it goes.
      class LoggedStore extends ConversationStore {
        override transaction<T>(fn: (trx: Tx) => Promise<T>): Promise<T> {
          return super.transaction(fn).then((v) => (log.push('committed'), v));
        }
        override writeAll(writes: Write[]): Promise<void> {
          return super.writeAll(writes).then(() => void log.push('committed'));
        }
      }
      const provider: AiProvider = {
        name: 'openai',
        usesHistory: true,
        async generate(req: GenerateRequest): Promise<GenerateResult> {
          log.push(`model asked (${req.messages.map((m) => m.content).join('|')})`);
          req.onToken('Noted, ');
          const lead = await req.tools.run('capture_lead', JSON.stringify({ name: 'Ada', email: 'ada@example.com' }));
          log.push(`tool: ${JSON.stringify(lead).includes('"ok":true') ? 'ok' : JSON.stringify(lead)}`);
          req.onToken('Ada.');
          return { text: 'Noted, Ada.', tokens: 0 };
        },
      };
      const chat = new ChatEngine({ store: new LoggedStore(s.db), leads: s.leads, events: s.events, provider, prompts: new PromptBuilder(), logger: s.logger });
      const r = await chat.runTurn({
        tenant,
        channel: 'web',
        externalUserId: 'visitor-1',
        text: 'I am Ada',
        onConversation: (id) => log.push(`meta ${id.length}`),
        onToken: (text) => log.push(`token ${text}`),
      });
      t.deepEqual(log, ['committed', 'meta 26', 'model asked (I am Ada)', 'token Noted, ', 'tool: ok', 'token Ada.', 'committed']);
      t.is(r.reply, 'Noted, Ada.');
      const leads = await s.db.knex('leads').where({ tenant_id: tenant.id });
      t.is(leads.length, 1);
      t.is(leads[0].conversation_id, r.conversationId);
      const messages = await s.db.knex('messages').where({ conversation_id: r.conversationId }).orderBy('id');
      t.deepEqual(messages.map((m) => m.role), ['user', 'assistant']);
      t.is(messages[0].id, r.userMessageId);

      // The next turn of the same visitor continues the conversation, with its history.
      log.length = 0;
      const next = await chat.runTurn({ tenant, channel: 'web', externalUserId: 'visitor-1', text: 'thanks' });
      t.is(next.conversationId, r.conversationId);
      t.is(log[1], 'model asked (I am Ada|Noted, Ada.|thanks)');

      // A commit that fails ends the turn with the commit's error, and the model is never asked.
      class FailingStore extends ConversationStore {
        override transaction<T>(): Promise<T> {
          return Promise.reject(new Error('disk full'));
        }
        override writeAll(): Promise<void> {
          return this.transaction();
        }
      }
      let asked = false;
      const never: AiProvider = {
        name: 'openai',
        usesHistory: false,
        generate: async () => {
          asked = true;
          return { text: 'no', tokens: 0 };
        },
      };
      const failing = new ChatEngine({ store: new FailingStore(s.db), leads: s.leads, events: s.events, provider: never, prompts: new PromptBuilder(), logger: s.logger });
      await t.throwsAsync(failing.runTurn({ tenant, channel: 'web', externalUserId: 'visitor-2', text: 'hello' }), { message: 'disk full' });
      t.false(asked, 'no model request for a message that was not stored');
      t.is((await s.db.knex('events').where({ tenant_id: tenant.id, type: 'ai_error' })).length, 0);
    } finally {
      await app.close();
    }
  });

  // A model that answers later, and one whose answer is there at once (written with the user's message).
  for (const delayMs of [50, 0]) {
    test(`${dialect}: four first messages of one visitor at once: one conversation, all answered in it (answer after ${delayMs} ms)`, async (t) => {
      const app = await startApp(dialect);
      try {
        await createTenant(app, 'acme', { faq: [{ q: 'What are your opening hours?', a: 'Nine to five.' }] });
        const tenant = await app.services.tenants.get('acme');
        const s = app.services;
        // Each answer names the conversation its model request was made for (tools write rows that refer to it).
        const provider: AiProvider = {
          name: 'openai',
          usesHistory: true,
          generate: (req) =>
            delayMs === 0
              ? Promise.resolve({ text: `Nine to five. (${req.conversationId})`, tokens: 0 })
              : new Promise((resolve, reject) => {
                  const timer = setTimeout(() => resolve({ text: `Nine to five. (${req.conversationId})`, tokens: 0 }), delayMs);
                  req.signal?.addEventListener('abort', () => (clearTimeout(timer), reject(req.signal!.reason)));
                }),
        };
        const chat = new ChatEngine({ store: new ConversationStore(s.db), leads: s.leads, events: s.events, provider, prompts: new PromptBuilder(), logger: s.logger });
        const results = await Promise.all(
          Array.from({ length: 4 }, () => chat.runTurn({ tenant, channel: 'web', externalUserId: 'same-visitor', text: 'opening hours?' })),
        );
        const id = results[0]!.conversationId;
        t.true(results.every((r) => r.conversationId === id));
        t.deepEqual(results.map((r) => r.reply), Array(4).fill(`Nine to five. (${id})`), 'every model request is made for the one conversation');
        const k = app.services.db.knex;
        t.is((await k('conversations').where({ tenant_id: tenant.id })).length, 1);
        t.is((await k('messages').where({ conversation_id: results[0]!.conversationId })).length, 8);
        t.is((await k('events').where({ tenant_id: tenant.id, type: 'conversation_started' })).length, 1);
      } finally {
        await app.close();
      }
    });
  }

  test(`${dialect}: a new visitor's FAQ turn is two writes after one read: the message, then the reply`, async (t) => {
    const app = await startApp(dialect);
    try {
      await createTenant(app, 'acme', { faq: [{ q: 'What are your opening hours?', a: 'Nine to five.' }] });
      const tenant = await app.services.tenants.get('acme');
      const chat = engine(app, {});
      const k = app.services.db.knex;
      const statements: string[] = [];
      const onQuery = (q: { sql: string }) => statements.push(q.sql);
      k.on('query', onQuery);
      const result = await chat.runTurn({ tenant, channel: 'web', externalUserId: 'visitor-1', text: 'What are your opening hours?' });
      k.off('query', onQuery);
      t.is(result.reply, 'Nine to five.');
      // The lookup of the visitor's conversation, then two writes: a statement each on PostgreSQL, a transaction each on SQLite.
      if (dialect === 'pg') t.is(statements.length, 3, statements.join('\n'));
      else t.is(statements.filter((q) => /^begin/i.test(q)).length, 2, statements.join('\n'));
      const messages = await k('messages').where({ conversation_id: result.conversationId }).orderBy('id');
      t.deepEqual(messages.map((m) => [m.role, m.id]), [['user', result.userMessageId], ['assistant', result.replyMessageId]]);
      const events = await k('events').where({ tenant_id: tenant.id }).orderBy('id');
      t.deepEqual(events.map((e) => e.type), ['conversation_started', 'message_received', 'reply_sent']);
    } finally {
      await app.close();
    }
  });
}
