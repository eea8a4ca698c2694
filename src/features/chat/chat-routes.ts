import { Router } from 'express';
import { newId } from '../../db/dialect.js';
import { isAppError } from '../../errors.js';
import type { Api } from '../../http/api.js';
import { createSse, SseHeartbeat } from '../../http/sse.js';
import type { Logger } from '../../logger.js';
import type { Tenant, TenantService } from '../tenants/tenant-service.js';
import { tenantQuerySchema } from '../tenants/tenant.schemas.js';
import { chatBodySchema, type ChatBody } from './chat.schemas.js';
import type { TurnRunner, TurnInput, TurnResult } from './chat.types.js';
import * as R from '../../http/response-schemas.js';

export interface ChatRouteDeps {
  chat: TurnRunner;
  tenants: TenantService;
  logger: Logger;
  shutdown: AbortSignal;
  heartbeatMs?: number;
  /** The open-streams gauge. */
  openStreams?: { inc(): void; dec(): void };
}

/**
 * One object literal with every field (not a spread plus the live ones: V8 gives such an object a
 * hidden class of its own, and a streaming turn keeps its input for as long as the stream lasts).
 */
function turnInput(tenant: Tenant, body: ChatBody, live: Pick<TurnInput, 'signal' | 'onConversation' | 'onToken'>): TurnInput {
  return {
    tenant,
    channel: 'web',
    // Without a visitor id every request is its own visitor; conversation_id continues a conversation.
    externalUserId: body.visitor_id ?? `anon-${newId()}`,
    text: body.message,
    conversationId: body.conversation_id,
    newVisitor: body.visitor_id === undefined && body.conversation_id === undefined,
    signal: live.signal,
    onConversation: live.onConversation,
    onToken: live.onToken,
  };
}

function outcome(result: TurnResult) {
  return {
    conversation_id: result.conversationId,
    reply: result.reply,
    message_id: result.replyMessageId,
    ...(result.checkoutUrl ? { checkout_url: result.checkoutUrl } : {}),
    ...(result.sources ? { sources: result.sources } : {}),
    ...(result.lead ? { lead: result.lead } : {}),
  };
}

export function chatRoutes(api: Api, deps: ChatRouteDeps): Router {
  const router = Router();
  const heartbeat = new SseHeartbeat(deps.heartbeatMs, deps.openStreams);

  api.route(
    router,
    { method: 'post', path: '/v1/chat', summary: 'Send a message, get the whole reply', tag: 'chat', auth: 'public', response: R.chatReply, errors: [429, 502, 503], query: tenantQuerySchema, body: chatBodySchema },
    async ({ res, query, body }) => {
      const tenant = await deps.tenants.get(query.tenant);
      const gone = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) gone.abort(new Error('client disconnected'));
      });
      try {
        return outcome(await deps.chat.runTurn(turnInput(tenant, body, { signal: gone.signal })));
      } catch (err) {
        // Nobody is left to answer: the abort is the expected end, not a server error.
        if (gone.signal.aborted) return undefined;
        throw err;
      }
    },
  );

  api.route(
    router,
    {
      method: 'post',
      path: '/v1/chat/stream',
      summary: 'Send a message, stream the reply as Server-Sent Events (meta, token, done, error)',
      tag: 'chat',
      auth: 'public',
      query: tenantQuerySchema,
      body: chatBodySchema,
      produces: 'text/event-stream: `meta` {conversation_id}, `token` {text}, `done` {message_id, reply, checkout_url?, sources?, lead?}, `error` {code, message}',
      content: ['text/event-stream'],
      // Before the first event; afterwards a failure is an `error` event.
      errors: [429, 502, 503],
    },
    async ({ res, query, body }) => {
      const tenant = await deps.tenants.get(query.tenant);
      const sse = createSse(res, { shutdown: deps.shutdown, heartbeat });
      try {
        const result = await deps.chat.runTurn(
          turnInput(tenant, body, {
            signal: sse.signal,
            onConversation: (id) => sse.send('meta', { conversation_id: id }),
            onToken: (text) => sse.send('token', { text }),
          }),
        );
        const { conversation_id, ...done } = outcome(result);
        sse.send('done', { conversation_id, ...done });
      } catch (err) {
        // Before the first event the normal JSON error answers (404, 429, …); after it, an error event.
        if (!sse.started) throw err;
        if (!sse.signal.aborted) {
          if (!isAppError(err)) deps.logger.error({ err }, 'chat stream failed');
          sse.send('error', isAppError(err) ? { code: err.code, message: err.message } : { code: 'internal', message: 'internal error' });
        }
      } finally {
        sse.end();
      }
      return undefined;
    },
  );

  return router;
}
