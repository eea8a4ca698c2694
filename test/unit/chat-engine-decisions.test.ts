import test from 'ava';
import type { Write } from '../../src/db/create-db.js';
import type { Tx } from '../../src/db/unit-of-work.js';
import type { AiProvider, GenerateRequest } from '../../src/features/ai/provider.js';
import type { PromptBuilder } from '../../src/features/ai/prompt-builder.js';
import { ChatEngine } from '../../src/features/chat/chat-engine.js';
import type { Channel, TurnInput } from '../../src/features/chat/chat.types.js';
import type { ConversationRow, ConversationStore, NewMessage, StoredMessage } from '../../src/features/chat/conversation-store.js';
import type { EventService } from '../../src/features/events/event-service.js';
import type { LeadState } from '../../src/features/leads/lead-flow.js';
import type { CaptureInput, LeadService } from '../../src/features/leads/lead-service.js';
import type { Tenant } from '../../src/features/tenants/tenant-service.js';
import type { Logger } from '../../src/logger.js';

/*
 * The engine's decisions — who answers, what is stored, which events — over in-memory stand-ins for
 * the stores, the event and lead services and the model. The database side of a turn (one statement,
 * a transaction, a taken conversation) is covered end to end on both dialects in chat-engine.e2e.
 */

type Applied = Write & { apply(): void };
/** A write the fake store runs itself when the recorder commits it. */
const write = (apply: () => void): Applied => Object.assign((() => {
  throw new Error('a fake write never reaches knex');
}) as unknown as Write, { apply });

interface Message extends NewMessage {
  id: string;
  seq: number;
}

class FakeStore {
  conversations: ConversationRow[] = [];
  messages: Message[] = [];
  private seq = 0;

  add(c: Partial<ConversationRow> & { channel: Channel; externalUserId: string }): ConversationRow {
    const row: ConversationRow = { id: `c${this.conversations.length + 1}`, tenantId: 't1', userName: null, botPaused: false, handoffRequestedAt: null, lastInboundAt: null, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', leadState: null, ...c };
    this.conversations.push(row);
    return row;
  }
  push(m: NewMessage & { id?: string }): string {
    const id = m.id ?? `m${++this.seq}`;
    this.messages.push({ ...m, id, seq: this.seq++ });
    return id;
  }
  byRole(role: string) {
    return this.messages.filter((m) => m.role === role);
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return fn({ afterCommit: (f: () => void) => f() } as unknown as Tx);
  }
  async runAll(writes: Write[]): Promise<void> {
    for (const w of writes) (w as Applied).apply();
  }
  async writeAll(writes: Write[]): Promise<void> {
    for (const w of writes) (w as Applied).apply();
  }
  async findById(tenantId: string, id: string) {
    return this.conversations.find((c) => c.tenantId === tenantId && c.id === id);
  }
  async findByUser(tenantId: string, channel: Channel, externalUserId: string) {
    return this.conversations.find((c) => c.tenantId === tenantId && c.channel === channel && c.externalUserId === externalUserId);
  }
  async findOrCreate(tenantId: string, channel: Channel, externalUserId: string, userName: string | null) {
    const existing = await this.findByUser(tenantId, channel, externalUserId);
    return existing ? { conversation: existing, created: false } : { conversation: this.add({ tenantId, channel, externalUserId, userName }), created: true };
  }
  conversationWrite(tenantId: string, channel: Channel, externalUserId: string, userName: string | null, id: string) {
    const conversation: ConversationRow = { id, tenantId, channel, externalUserId, userName, botPaused: false, handoffRequestedAt: null, lastInboundAt: null, createdAt: '', updatedAt: '', leadState: null };
    return { conversation, write: write(() => this.conversations.push(conversation)) };
  }
  updateWrite(_tenantId: string, id: string, patch: { leadState?: LeadState | null; lastInboundAt?: string; userName?: string; botPaused?: boolean; handoffRequestedAt?: string | null }) {
    return write(() => Object.assign(this.conversations.find((c) => c.id === id)!, patch));
  }
  messageWrite(_tenantId: string, m: NewMessage) {
    const id = `m${++this.seq}`;
    return { id, write: write(() => this.push({ ...m, id })) };
  }
  async insertMessage(_tenantId: string, m: NewMessage) {
    if (m.providerMessageId && this.messages.some((x) => x.providerMessageId === m.providerMessageId)) return { id: '', duplicate: true };
    return { id: this.push(m), duplicate: false };
  }
  async inboundWithReply(_tenantId: string, _channel: Channel, providerMessageId: string) {
    const user = this.messages.find((m) => m.providerMessageId === providerMessageId);
    if (!user) return undefined;
    const reply = this.messages.find((m) => m.conversationId === user.conversationId && m.role === 'assistant' && m.seq > user.seq);
    return { userMessageId: user.id, reply: reply ? { id: reply.id, text: reply.text } : null };
  }
  async countUserMessages(_tenantId: string, conversationId: string) {
    return this.messages.filter((m) => m.conversationId === conversationId && m.role === 'user').length;
  }
  async recentMessages(_tenantId: string, conversationId: string, limit: number): Promise<StoredMessage[]> {
    return this.messages
      .filter((m) => m.conversationId === conversationId)
      .slice(-limit)
      .map((m) => ({ id: m.id, role: m.role, text: m.text, createdAt: '' }));
  }
}

interface Recorded {
  type: string;
  conversationId?: string | null;
  data?: Record<string, unknown>;
}

function setup(options: { answer?: string | Error; usesHistory?: boolean; lead?: Record<string, unknown>; settings?: Record<string, unknown>; now?: string; toolCall?: { name: string; args: string } } = {}) {
  const store = new FakeStore();
  const events: Recorded[] = [];
  const submitted: CaptureInput[] = [];
  const asked: GenerateRequest[] = [];
  const eventService = {
    prepareAll: (_tenantId: string, items: Recorded[]) => ({ write: items.length ? write(() => events.push(...items)) : undefined, events: [], announce() {} }),
    record: async (_tenantId: string, type: string, opts: { conversationId?: string | null; data?: Record<string, unknown> } = {}) => {
      events.push({ type, conversationId: opts.conversationId, data: opts.data });
      return {};
    },
  };
  const leads = {
    submit: async (_tenantId: string, input: CaptureInput) => {
      submitted.push(input);
      return { submitted: { email: input.email, name: input.name ?? null, whatsapp: input.whatsapp ?? null }, created: true };
    },
  };
  const provider: AiProvider = {
    name: 'openai',
    usesHistory: options.usesHistory ?? true,
    async generate(request) {
      asked.push(request);
      if (options.toolCall) await request.tools.run(options.toolCall.name, options.toolCall.args);
      const answer = options.answer ?? 'From the model.';
      if (answer instanceof Error) throw answer;
      request.onToken(answer);
      return { text: answer, tokens: 1 };
    },
  };
  const logger = { warn() {}, info() {}, debug() {}, error() {} } as unknown as Logger;
  const engine = new ChatEngine({
    store: store as unknown as ConversationStore,
    events: eventService as unknown as EventService,
    leads: leads as unknown as LeadService,
    provider,
    prompts: { build: () => 'system prompt' } as unknown as PromptBuilder,
    logger,
    ...(options.now ? { now: () => Date.parse(options.now!) } : {}),
  });
  const tenant = { id: 't1', slug: 'shop', name: 'Shop', settings: { lead: options.lead ?? { mode: 'intent' }, ...options.settings } } as unknown as Tenant;
  const input = (over: Partial<TurnInput>): TurnInput => ({ tenant, channel: 'messenger', externalUserId: 'psid-1', text: 'What are your hours?', ...over });
  return { store, events, submitted, asked, engine, input };
}

test('a provider message answered before is handed back as a duplicate: the model is not asked, nothing is written', async (t) => {
  const { store, asked, engine, input } = setup();
  const c = store.add({ channel: 'messenger', externalUserId: 'psid-1' });
  const userId = store.push({ conversationId: c.id, channel: 'messenger', role: 'user', text: 'hi', providerMessageId: 'mid.1' });
  const replyId = store.push({ conversationId: c.id, channel: 'messenger', role: 'assistant', text: 'Hello!' });
  const before = store.messages.length;
  const result = await engine.runTurn(input({ text: 'hi', providerMessageId: 'mid.1' }));
  t.deepEqual(
    { duplicate: result.duplicate, reply: result.reply, replyMessageId: result.replyMessageId, userMessageId: result.userMessageId },
    { duplicate: true, reply: 'Hello!', replyMessageId: replyId, userMessageId: userId },
  );
  t.is(asked.length, 0);
  t.is(store.messages.length, before);
});

test('a provider message whose turn a crash cut short before the reply is answered now, under its first message id', async (t) => {
  const { store, asked, engine, input } = setup();
  const c = store.add({ channel: 'messenger', externalUserId: 'psid-1' });
  const userId = store.push({ conversationId: c.id, channel: 'messenger', role: 'user', text: 'hi', providerMessageId: 'mid.2' });
  const result = await engine.runTurn(input({ text: 'hi', providerMessageId: 'mid.2' }));
  t.false(result.duplicate);
  t.is(result.userMessageId, userId);
  t.is(result.reply, 'From the model.');
  t.is(asked.length, 1);
  t.is(store.byRole('user').length, 1, 'the message is stored once');
  t.deepEqual(store.byRole('assistant').map((m) => m.text), ['From the model.']);
});

test('a paused conversation stores the message and answers nothing', async (t) => {
  const { store, asked, engine, input, events } = setup();
  store.add({ channel: 'messenger', externalUserId: 'psid-1', botPaused: true });
  const result = await engine.runTurn(input({ providerMessageId: 'mid.3' }));
  t.is(result.reply, null);
  t.is(result.replyMessageId, null);
  t.is(asked.length, 0);
  t.is(store.byRole('user').length, 1);
  t.is(store.byRole('assistant').length, 0);
  t.deepEqual(events.map((e) => e.type), ['message_received']);
});

test("lead mode 'intent': a request to be contacted starts the lead flow instead of the model", async (t) => {
  const { store, asked, engine, input, events } = setup();
  const result = await engine.runTurn(input({ text: 'Can someone contact me please?', providerMessageId: 'mid.4' }));
  t.is(asked.length, 0);
  t.true(result.leadFlowActive);
  t.regex(result.reply!, /name/i);
  t.deepEqual(store.conversations[0]!.leadState, { step: 'name' });
  t.deepEqual(events.find((e) => e.type === 'lead_started')?.data, { channel: 'messenger', mode: 'intent' });
});

test("lead mode 'off': the same request goes to the model", async (t) => {
  const { asked, engine, input } = setup({ lead: { mode: 'off' } });
  const result = await engine.runTurn(input({ text: 'Can someone contact me please?', providerMessageId: 'mid.5' }));
  t.is(asked.length, 1);
  t.false(result.leadFlowActive);
  t.is(result.reply, 'From the model.');
});

test('the lead flow ends on a valid email: the lead is submitted with the conversation, the flow is cleared, the caller gets what was typed', async (t) => {
  const { store, asked, engine, input, submitted } = setup({ lead: { mode: 'intent', ask_whatsapp: false } });
  const c = store.add({ channel: 'messenger', externalUserId: 'psid-1', leadState: { step: 'email', name: 'Ana' } });
  const result = await engine.runTurn(input({ text: 'ana@example.com', providerMessageId: 'mid.6' }));
  t.is(asked.length, 0);
  t.deepEqual(result.lead, { email: 'ana@example.com', name: 'Ana', whatsapp: null });
  t.false(result.leadFlowActive);
  t.is(store.conversations[0]!.leadState, null);
  t.is(submitted.length, 1);
  t.like(submitted[0], { email: 'ana@example.com', name: 'Ana', channel: 'messenger', conversationId: c.id });
});

test('a failed model request records ai_error with the provider and fails the turn; a client that left records nothing', async (t) => {
  const failing = setup({ answer: Object.assign(new Error('upstream down'), { status: 502, code: 'upstream' }) });
  await t.throwsAsync(failing.engine.runTurn(failing.input({ providerMessageId: 'mid.7' })), { message: 'upstream down' });
  t.deepEqual(failing.events.find((e) => e.type === 'ai_error')?.data, { provider: 'openai', code: 'upstream', status: 502 });

  const left = setup({ answer: new Error('aborted') });
  const gone = new AbortController();
  gone.abort();
  await t.throwsAsync(left.engine.runTurn(left.input({ channel: 'web', externalUserId: 'v1', signal: gone.signal })));
  t.false(left.events.some((e) => e.type === 'ai_error'));
});

test('an empty answer becomes the fallback sentence; U+0000 from a model is never stored', async (t) => {
  const empty = setup({ answer: '  \n ' });
  const r1 = await empty.engine.runTurn(empty.input({ providerMessageId: 'mid.8' }));
  t.is(r1.reply, "Sorry, I don't have an answer to that right now.");
  t.is(empty.store.byRole('assistant')[0]!.text, r1.reply!);

  const nul = setup({ answer: 'Open\u0000 9 to 5' });
  const r2 = await nul.engine.runTurn(nul.input({ providerMessageId: 'mid.9' }));
  t.is(r2.reply, 'Open 9 to 5');
  t.false(nul.store.byRole('assistant')[0]!.text.includes('\u0000'));
});

test('the model sees the recent messages with their roles, ending with the new one; a provider without history sees only the new one', async (t) => {
  const withHistory = setup();
  const c = withHistory.store.add({ channel: 'messenger', externalUserId: 'psid-1' });
  withHistory.store.push({ conversationId: c.id, channel: 'messenger', role: 'system', text: 'paused by operator' });
  withHistory.store.push({ conversationId: c.id, channel: 'messenger', role: 'user', text: 'Do you ship?' });
  withHistory.store.push({ conversationId: c.id, channel: 'messenger', role: 'operator', text: 'Yes, everywhere.' });
  await withHistory.engine.runTurn(withHistory.input({ text: 'How long does it take?', providerMessageId: 'mid.10' }));
  t.deepEqual(withHistory.asked[0]!.messages, [
    { role: 'user', content: 'Do you ship?' },
    { role: 'assistant', content: '[Team] Yes, everywhere.' },
    { role: 'user', content: 'How long does it take?' },
  ]);

  const without = setup({ usesHistory: false });
  const c2 = without.store.add({ channel: 'messenger', externalUserId: 'psid-1' });
  without.store.push({ conversationId: c2.id, channel: 'messenger', role: 'user', text: 'Do you ship?' });
  await without.engine.runTurn(without.input({ text: 'How long does it take?', providerMessageId: 'mid.11' }));
  t.deepEqual(without.asked[0]!.messages, [{ role: 'user', content: 'How long does it take?' }]);
});

test("a new web visitor's first message is all the model sees, and no conversation is looked up for a visitor id made for the request", async (t) => {
  const { store, asked, engine, input } = setup();
  let lookups = 0;
  const findByUser = store.findByUser.bind(store);
  store.findByUser = (...args) => (lookups++, findByUser(...args));
  const result = await engine.runTurn(input({ channel: 'web', externalUserId: 'anon-1', newVisitor: true, text: 'Hello' }));
  t.is(lookups, 0);
  t.deepEqual(asked[0]!.messages, [{ role: 'user', content: 'Hello' }]);
  t.is(store.conversations.length, 1);
  t.is(result.conversationId, store.conversations[0]!.id);
});

test('canned lead-flow replies stream as tokens like model output', async (t) => {
  const { engine, input } = setup();
  const tokens: string[] = [];
  const result = await engine.runTurn(input({ channel: 'web', externalUserId: 'v2', text: 'please call me back', onToken: (s) => tokens.push(s) }));
  t.true(tokens.length > 1);
  t.is(tokens.join(''), result.reply!);
});

test('reply_sent is recorded for a web reply (the response delivers it) and left to the channel sender elsewhere', async (t) => {
  const web = setup();
  await web.engine.runTurn(web.input({ channel: 'web', externalUserId: 'v3' }));
  const replyId = web.store.byRole('assistant')[0]!.id;
  t.deepEqual(web.events.filter((e) => e.type === 'reply_sent').map((e) => e.data), [{ channel: 'web', message_id: replyId, length: 'From the model.'.length }]);

  const messenger = setup();
  await messenger.engine.runTurn(messenger.input({ providerMessageId: 'mid.12' }));
  t.false(messenger.events.some((e) => e.type === 'reply_sent'));
});

const HOURS = { time_zone: 'Europe/Oslo', handoff: { enabled: true, hours: { mon: ['09:00-17:00'], tue: ['09:00-17:00'] } } };

test('a customer who asks for a person in hours: told what happens next, the bot pauses, the conversation waits, handoff_requested once', async (t) => {
  // Monday 2026-12-07 10:00 in Oslo (09:00 UTC).
  const { store, asked, engine, input, events } = setup({ settings: HOURS, now: '2026-12-07T09:00:00Z' });
  const result = await engine.runTurn(input({ text: 'Can I talk to a human please?', providerMessageId: 'mid.h1' }));
  t.is(asked.length, 0, 'the model is not asked');
  t.regex(result.reply!, /person from our team/);
  const c = store.conversations[0]!;
  t.true(c.botPaused);
  t.truthy(c.handoffRequestedAt);
  t.deepEqual(events.find((e) => e.type === 'handoff_requested')?.data, { channel: 'messenger', by: 'customer', reason: null, within_hours: true, bot_paused: true });
});

test('outside hours with bot_while_waiting: told when someone answers, the bot keeps helping, and asking again records nothing new', async (t) => {
  const settings = { ...HOURS, handoff: { ...HOURS.handoff, bot_while_waiting: true } };
  // Monday 2026-12-07 18:30 in Oslo: next opening Tuesday 09:00, "tomorrow".
  const { store, asked, engine, input, events } = setup({ settings, now: '2026-12-07T17:30:00Z' });
  const first = await engine.runTurn(input({ text: 'agent', providerMessageId: 'mid.h2' }));
  t.is(first.reply, 'Our team is away right now. A person will answer here tomorrow at 09:00. Meanwhile I\'m happy to keep helping.');
  const c = store.conversations[0]!;
  t.false(c.botPaused);
  const since = c.handoffRequestedAt;
  t.truthy(since);
  const second = await engine.runTurn(input({ text: 'What are your hours?', providerMessageId: 'mid.h3' }));
  t.is(second.reply, 'From the model.', 'the bot keeps answering while the customer waits');
  await engine.runTurn(input({ text: 'a real person please', providerMessageId: 'mid.h4' }));
  t.is(events.filter((e) => e.type === 'handoff_requested').length, 1);
  t.is(c.handoffRequestedAt, since, 'still waiting since the first request');
  t.is(asked.length, 1);
});

test('handoff off (the default): asking for a person is a question for the model like any other', async (t) => {
  const { store, asked, engine, input, events } = setup({ lead: { mode: 'off' } });
  const result = await engine.runTurn(input({ text: 'talk to a human', providerMessageId: 'mid.h5' }));
  t.is(result.reply, 'From the model.');
  t.is(asked.length, 1);
  t.false(asked[0]!.tools.specs.some((s) => s.name === 'request_human'), 'no request_human tool');
  t.false(store.conversations[0]!.botPaused);
  t.false(events.some((e) => e.type === 'handoff_requested'));
});

test("the model's request_human tool hands over like the customer's words, with the model's reason", async (t) => {
  const { store, asked, engine, input, events } = setup({ settings: HOURS, now: '2026-12-08T08:00:00Z', answer: '', toolCall: { name: 'request_human', args: '{"reason":"refund over the limit"}' } });
  const result = await engine.runTurn(input({ text: 'I want my money back for three orders', providerMessageId: 'mid.h6' }));
  t.true(asked[0]!.tools.specs.some((s) => s.name === 'request_human'));
  t.regex(result.reply!, /person from our team/, 'an empty model answer becomes the handoff message');
  t.true(store.conversations[0]!.botPaused);
  t.like(events.find((e) => e.type === 'handoff_requested')?.data, { by: 'model', reason: 'refund over the limit', within_hours: true });
});

test("after a handoff the model sees the operator's words marked as theirs, and is told to build on them", async (t) => {
  const { store, asked, engine, input } = setup({ settings: { ...HOURS, handoff: { ...HOURS.handoff, operator_label: 'Anna' } } });
  const c = store.add({ channel: 'messenger', externalUserId: 'psid-1' });
  store.push({ conversationId: c.id, channel: 'messenger', role: 'user', text: 'Is my order late?' });
  store.push({ conversationId: c.id, channel: 'messenger', role: 'operator', text: 'It ships tomorrow, sorry for the wait.' });
  await engine.runTurn(input({ text: 'Thanks! And do you sell gift cards?', providerMessageId: 'mid.h7' }));
  const request = asked[0]!;
  t.deepEqual(request.messages.slice(0, 2), [
    { role: 'user', content: 'Is my order late?' },
    { role: 'assistant', content: '[Anna] It ships tomorrow, sorry for the wait.' },
  ]);
  t.regex(request.system, /Handoff: a person from the team answered this customer once above \(their messages start with \[Anna\]\)/);
});

test('a public comment that says "agent" is not a handoff: comments are answered in public, not taken over', async (t) => {
  const { store, asked, engine, input, events } = setup({ settings: HOURS, now: '2026-12-07T09:00:00Z', lead: { mode: 'off' } });
  const result = await engine.runTurn(input({ channel: 'fb_comment', externalUserId: 'comment-user', text: 'agent', providerMessageId: 'c.1' }));
  t.is(result.reply, 'From the model.');
  t.is(asked.length, 1);
  t.false(asked[0]!.tools.specs.some((s) => s.name === 'request_human'));
  t.false(store.conversations[0]!.botPaused);
  t.false(events.some((e) => e.type === 'handoff_requested'));
});
