import { Router } from 'express';
import { NotFoundError } from '../../errors.js';
import { noteAudit, type Api, type Principal } from '../../http/api.js';
import type { ConversationRecord } from '../chat/chat.types.js';
import { scopedTenant } from '../tenants/tenant-routes.js';
import type { Tenant, TenantService } from '../tenants/tenant-service.js';
import type { HandoffService } from './handoff-service.js';
import type { MessageView } from '../chat/conversation-read-model.js';
import { sendView, type OutboundSends } from '../channels/outbound-sends.js';
import { conversationListQuery, conversationParams, conversationShowQuery, feedQuery, operatorMessagesQuery, operatorReplyBody, sendParams } from './handoff.schemas.js';
import { createSse, SseHeartbeat, type SseStream } from '../../http/sse.js';
import { parseInput, ulidSchema } from '../../validation.js';
import type { ConversationFeed, FeedItem } from './conversation-feed.js';
import { operatorLabel } from './handoff-policy.js';
import * as R from '../../http/response-schemas.js';

interface Deps {
  tenants: TenantService;
  sends: OutboundSends;
  handoff: HandoffService;
  feed: ConversationFeed;
  /** Open feed streams end when the server shuts down. */
  shutdown: AbortSignal;
  openStreams?: { inc(): void; dec(): void };
}

/** Operators' view of conversations: read them, pause and resume the bot, reply on the channel. */
export function handoffRoutes(api: Api, deps: Deps): Router {
  const router = Router();

  /** The conversation's tenant, as far as the caller may see: another tenant's id is a plain 404. */
  async function owner(principal: Principal | undefined, id: string): Promise<Tenant> {
    if (principal?.kind === 'tenant-key') return deps.tenants.getById(principal.tenantId);
    const tenantId = await deps.handoff.tenantIdOf(id);
    if (!tenantId) throw new NotFoundError('conversation not found');
    return deps.tenants.getById(tenantId);
  }
  const by = (p: Principal | undefined) => (p?.kind === 'tenant-key' ? `key:${p.keyId}` : 'admin');
  const heartbeat = new SseHeartbeat(15_000, deps.openStreams);

  // Before /:id, which would take "stream" for an id.
  api.route(
    router,
    {
      method: 'get',
      path: '/v1/admin/conversations/stream',
      summary: 'Live feed of conversations (Server-Sent Events): messages, handoff requests, pauses, delivery status; resumable with Last-Event-ID',
      tag: 'conversations',
      auth: 'tenant',
      query: feedQuery,
      produces:
        'text/event-stream: `ready` {tenant}, then one event per recorded event, named by its type (message_received, reply_sent, operator_reply, handoff_requested, handoff_paused, …) with `id:` its stored id and data {id, type, tenant, conversation_id, created_at, data, message}. A resumed stream may repeat events of the few seconds before Last-Event-ID: skip ids already seen.',
      content: ['text/event-stream'],
    },
    async ({ query, principal, req, res }) => {
      const tenant = await scopedTenant(deps.tenants, principal, query.tenant);
      const lastEventId = resumeId(req.get('last-event-id'), query.last_event_id);
      const sse = createSse(res, { shutdown: deps.shutdown, heartbeat });
      // Items wait behind `ready`, which is sent once the subscription (and its catch-up read) worked:
      // until then a failure is still a JSON error status.
      const queue = serialAfterOpen();
      const view = feedViewer(deps.tenants);
      const stop = await deps.feed.subscribe({ tenantId: tenant?.id }, (item) => queue.push(async () => sse.send(item.event.type, await view(item), item.event.id)), lastEventId);
      sse.send('ready', { tenant: tenant?.slug ?? null, resumed_after: lastEventId ?? null });
      queue.open();
      await untilClosed(sse, stop);
      return undefined;
    },
  );

  api.route(
    router,
    { method: 'get', path: '/v1/admin/conversations', summary: 'Conversations, newest first, keyset-paged (next_cursor)', tag: 'conversations', auth: 'tenant', response: R.conversationPage, query: conversationListQuery },
    async ({ query, principal }) => {
      const tenant = await scopedTenant(deps.tenants, principal, query.tenant);
      const page = await deps.handoff.list(tenant, { channel: query.channel, paused: query.paused, waiting: query.waiting, limit: query.limit, cursor: query.cursor });
      return { conversations: page.conversations.map(conversationView), next_cursor: page.nextCursor };
    },
  );
  api.route(
    router,
    { method: 'get', path: '/v1/admin/conversations/:id', summary: 'One conversation with its latest messages', tag: 'conversations', auth: 'tenant', response: R.conversationShow, params: conversationParams, query: conversationShowQuery },
    async ({ params, query, principal }) => {
      const tenant = await owner(principal, params.id);
      const { conversation, messages } = await deps.handoff.show(tenant, params.id, query.messages);
      const doubts = await deps.sends.inDoubt(tenant.id, { conversationId: conversation.id });
      return { conversation: conversationView(conversation), tenant: tenant.slug, messages: messages.map(messageView), sends_in_doubt: doubts.map(sendView) };
    },
  );
  for (const action of ['pause', 'resume'] as const) {
    api.route(
      router,
      { method: 'post', path: `/v1/admin/conversations/:id/${action}`, summary: action === 'pause' ? 'Pause the bot: messages are stored, nothing is answered' : 'Let the bot answer again', tag: 'conversations', auth: 'tenant', params: conversationParams, response: R.conversationOne, audit: `conversation.${action}d` },
      async ({ params, principal, res }) => {
        const tenant = await owner(principal, params.id);
        noteAudit(res, { tenant });
        return { conversation: conversationView(await deps.handoff.setPaused(tenant, params.id, action === 'pause', by(principal))) };
      },
    );
  }
  api.route(
    router,
    { method: 'post', path: '/v1/admin/conversations/:id/reply', summary: "An operator's reply, sent on the conversation's own channel", tag: 'conversations', auth: 'tenant', response: R.operatorReply, params: conversationParams, body: operatorReplyBody, audit: 'conversation.replied' },
    async ({ params, body, principal, res }) => {
      const tenant = await owner(principal, params.id);
      const r = await deps.handoff.reply(tenant, params.id, body.text, by(principal));
      noteAudit(res, { tenant, details: { message_id: r.messageId, channel: r.conversation.channel } });
      res.status(202);
      return { message_id: r.messageId, conversation_id: r.conversation.id, channel: r.conversation.channel, delivery: r.delivery };
    },
  );
  api.route(
    router,
    { method: 'post', path: '/v1/admin/sends/:id/resend', summary: 'Send a reply in doubt (held, uncertain) or a failed send again by hand; a delivered one is refused (409)', tag: 'conversations', auth: 'tenant', response: R.resent, errors: [409, 502], params: sendParams, audit: 'send.resent' },
    async ({ params, principal, res }) => {
      const scope = principal?.kind === 'tenant-key' ? { tenantId: principal.tenantId } : undefined;
      const r = await deps.sends.resend(params.id, by(principal), scope);
      noteAudit(res, { tenant: { id: r.send.tenantId } });
      return { send: sendView(r.send), provider_message_id: r.providerMessageId };
    },
  );
  // The web widget has no push channel outside a turn's SSE stream, so it polls for operator replies. The
  // conversation id is the capability here, exactly as for continuing the chat; only web conversations.
  api.route(
    router,
    { method: 'get', path: '/v1/chat/operator-messages', summary: "Operator replies in a web conversation after a message id (the widget's poll)", tag: 'chat', auth: 'public', response: R.operatorMessages, query: operatorMessagesQuery },
    async ({ query }) => {
      const tenant = await deps.tenants.get(query.tenant);
      const conversation = await deps.handoff.show(tenant, query.conversation_id, 1).then((r) => r.conversation);
      if (conversation.channel !== 'web') throw new NotFoundError('conversation not found');
      const messages = await deps.handoff.operatorMessages(tenant, conversation.id, query.after);
      return { messages: messages.map((m) => ({ id: m.id, text: m.text, created_at: m.createdAt })), bot_paused: conversation.botPaused };
    },
  );
  // The widget's stream: operator replies in a web conversation the moment they are stored, and whether
  // the bot is paused or the visitor waits for a person. The conversation id is the capability, as for
  // the poll above; only web conversations.
  api.route(
    router,
    {
      method: 'get',
      path: '/v1/chat/operator-stream',
      summary: "Operator replies and handoff status of a web conversation as they happen (the widget's stream; resumable with Last-Event-ID)",
      tag: 'chat',
      auth: 'public',
      query: operatorMessagesQuery,
      produces: 'text/event-stream: `status` {bot_paused, waiting} first and on every change, `operator` {id, text, label, created_at} with `id:` the message id',
      content: ['text/event-stream'],
    },
    async ({ query, req, res }) => {
      const tenant = await deps.tenants.get(query.tenant);
      const { conversation } = await deps.handoff.show(tenant, query.conversation_id, 1);
      if (conversation.channel !== 'web') throw new NotFoundError('conversation not found');
      const after = resumeId(req.get('last-event-id'), query.after);
      const label = operatorLabel(tenant);
      const sse = createSse(res, { shutdown: deps.shutdown, heartbeat });
      const sent = new Set<string>();
      const operator = (m: MessageView) => {
        if (sent.has(m.id)) return;
        sent.add(m.id);
        sse.send('operator', { id: m.id, text: m.text, label, created_at: m.createdAt }, m.id);
      };
      const status = (c: ConversationRecord) => sse.send('status', { bot_paused: c.botPaused, waiting: c.handoffRequestedAt !== null });
      // A failure ends the stream: the widget reconnects and catches up.
      const queue = serialAfterOpen(() => sse.end());
      const deliver = (item: FeedItem) =>
        queue.push(async () => {
          if (item.event.type === 'operator_reply' && item.message) operator(item.message);
          // An operator's reply ends the wait; pauses and requests change the rest.
          if (item.event.type === 'operator_reply' || item.event.type.startsWith('handoff_')) {
            status((await deps.handoff.show(tenant, conversation.id, 1)).conversation);
          }
        });
      const stop = await deps.feed.subscribe({ tenantId: tenant.id, conversationId: conversation.id }, deliver);
      const missed = await deps.handoff.operatorMessages(tenant, conversation.id, after).catch((err) => {
        stop();
        throw err;
      });
      status(conversation);
      for (const m of missed) operator(m);
      queue.open();
      await untilClosed(sse, stop);
      return undefined;
    },
  );
  return router;
}

export function conversationView(c: ConversationRecord) {
  return {
    id: c.id,
    tenant_id: c.tenantId,
    channel: c.channel,
    external_user_id: c.externalUserId,
    user_name: c.userName,
    bot_paused: c.botPaused,
    handoff_requested_at: c.handoffRequestedAt,
    last_inbound_at: c.lastInboundAt,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

/** Who said it, in the operator's words: the customer, the bot, or a person from the team. */
export function authorOf(role: MessageView['role']): 'customer' | 'bot' | 'operator' | 'system' {
  return role === 'user' ? 'customer' : role === 'assistant' ? 'bot' : role;
}

export function messageView(m: MessageView) {
  return { id: m.id, role: m.role, author: authorOf(m.role), text: m.text, delivery_status: m.deliveryStatus, error_code: m.errorCode, created_at: m.createdAt };
}

/** Where a stream resumes: the Last-Event-ID header (a reconnecting browser sends it) or the query's id, upper-case as ids are stored. */
function resumeId(header: string | undefined, fallback: string | undefined): string | undefined {
  return (header ? parseInput(ulidSchema, header, 'Last-Event-ID') : fallback)?.toUpperCase();
}

/**
 * Work run one piece after another, none before open(): what the feed delivers while a stream catches
 * up is sent after the catch-up, in order. A piece that fails stops the rest (`onError`).
 */
function serialAfterOpen(onError: () => void = () => {}): { push(work: () => Promise<void>): void; open(): void } {
  let open!: () => void;
  let chain = new Promise<void>((resolve) => (open = resolve));
  return {
    push: (work) => {
      chain = chain.then(work).catch(onError);
    },
    open: () => open(),
  };
}

/** Holds a stream open until the client leaves or the server stops, then ends its subscription. */
async function untilClosed(sse: SseStream, stop: () => void): Promise<void> {
  try {
    if (!sse.signal.aborted) await new Promise((resolve) => sse.signal.addEventListener('abort', resolve, { once: true }));
  } finally {
    stop();
    sse.end();
  }
}

/** Feed items as the API shows them, each with its tenant's slug (looked up once per tenant). */
export function feedViewer(tenants: TenantService): (item: FeedItem) => Promise<ReturnType<typeof feedView>> {
  const slugs = new Map<string, string>();
  return async (item) => {
    let slug = slugs.get(item.event.tenantId);
    if (slug === undefined) {
      slug = await tenants.getById(item.event.tenantId).then((t) => t.slug, () => '');
      slugs.set(item.event.tenantId, slug);
    }
    return feedView(item, slug);
  };
}

function feedView(item: FeedItem, tenantSlug: string) {
  const { event, message } = item;
  return {
    id: event.id,
    type: event.type,
    tenant: tenantSlug,
    conversation_id: event.conversationId,
    created_at: event.createdAt,
    data: event.data,
    message: message ? messageView(message) : null,
  };
}
