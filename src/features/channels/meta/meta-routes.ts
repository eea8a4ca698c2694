import { createHmac, timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import type { Config } from '../../../config.js';
import { BadRequestError, ForbiddenError, NotConfiguredError, UnauthorizedError } from '../../../errors.js';
import type { Api } from '../../../http/api.js';
import type { Logger } from '../../../logger.js';
import { keysMatch } from '../../../http/middleware/admin-auth.js';
import { beforeBody, webhookBody } from '../../../http/middleware/webhook-body.js';
import { parseInput } from '../../../validation.js';
import type { TenantService } from '../../tenants/tenant-service.js';
import type { InboxItem, WebhookService } from '../../webhooks/webhook-service.js';
import { parseMetaPayload } from './meta-parser.js';
import type { CloudWebhooks } from '../whatsapp/cloud-webhooks.js';
import { envelopeSchema, verifyQuerySchema } from './meta.schemas.js';
import * as R from '../../../http/response-schemas.js';

export interface MetaRouteDeps {
  config: Pick<Config, 'META_VERIFY_TOKEN' | 'META_APP_SECRET'>;
  tenants: TenantService;
  inbox: WebhookService;
  cloud: CloudWebhooks;
  logger: Logger;
}

/**
 * GET|POST /v1/meta/webhook. Mounted before the app's JSON parser: the POST body is read here as raw
 * bytes, the signature is checked on exactly those bytes, and only then is it parsed. The answer is
 * sent once the items are in the inbox — no Graph or model call happens before it.
 */
export function metaRoutes(api: Api, deps: MetaRouteDeps): Router {
  const router = Router();
  const { config, logger } = deps;

  api.route(
    router,
    { method: 'get', path: '/v1/meta/webhook', summary: 'Meta webhook verification handshake', tag: 'webhooks', auth: 'public', content: ['text/plain'], errors: [403], query: verifyQuerySchema, produces: 'the hub.challenge, as text/plain' },
    ({ query, res }) => {
      const expected = config.META_VERIFY_TOKEN;
      if (!expected) logger.warn('Meta verification refused: META_VERIFY_TOKEN is not set');
      const ok = expected !== undefined && query['hub.mode'] === 'subscribe' && keysMatch(query['hub.verify_token'] ?? '', expected) && query['hub.challenge'] !== undefined;
      if (!ok) throw new ForbiddenError('verification failed');
      res.status(200).type('text/plain').send(query['hub.challenge']);
      return undefined;
    },
  );

  api.route(
    router,
    { method: 'post', path: '/v1/meta/webhook', summary: 'Meta webhook events (Messenger, Instagram, page feed, WhatsApp Cloud API), signed with X-Hub-Signature-256', tag: 'webhooks', auth: 'public', response: R.webhookAck, errors: [401, 403, 503] },
    async ({ req }) => {
      // Set: the check before the body refused the request otherwise.
      const secret = config.META_APP_SECRET!;
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const verdict = checkSignature(secret, raw, req.get('x-hub-signature-256'));
      if (verdict === 'bad') {
        logger.warn('Meta webhook with an invalid signature refused');
        throw new ForbiddenError('invalid signature');
      }
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new BadRequestError('body is not JSON');
      }
      const envelope = parseInput(envelopeSchema, json, 'body');
      // WhatsApp Cloud API numbers use the same app, callback URL and signature.
      if (envelope.object === 'whatsapp_business_account') return deps.cloud.accept(envelope.entry);
      const { items, dropped } = parseMetaPayload(envelope);
      if (dropped.length > 0) logger.debug({ dropped }, 'Meta updates dropped');
      const column = envelope.object === 'instagram' ? 'ig_user_id' : 'fb_page_id';
      const tenantIds = new Map<string, string | null>();
      const inbox: InboxItem[] = [];
      for (const p of items) {
        if (!tenantIds.has(p.accountId)) tenantIds.set(p.accountId, (await deps.tenants.findByRouting(column, p.accountId))?.id ?? null);
        const tenantId = tenantIds.get(p.accountId)!;
        inbox.push({
          externalId: p.externalId,
          tenantId,
          kind: p.kind,
          payload: p.item,
          // One person's messages (or comments) on one channel are answered one at a time, in order.
          orderKey: `${p.accountId}:${p.item.channel}:${p.kind === 'meta.message' ? p.item.senderId : p.item.fromId}`,
          ...(tenantId ? {} : { ignoredReason: `no tenant has ${column} ${p.accountId}` }),
        });
      }
      const summary = await deps.inbox.accept('meta', inbox);
      if (summary.ignored > 0) logger.warn({ accounts: [...tenantIds].filter(([, t]) => !t).map(([a]) => a) }, 'Meta items for an unknown page or account recorded as ignored');
      return { received: items.length, ...summary };
    },
    // Unsigned or unverifiable webhooks are refused before a byte of their body is read.
    beforeBody((req) => {
      // Logged by the error handler as one warning every few minutes, not an error per delivery.
      if (!config.META_APP_SECRET) throw new NotConfiguredError('Meta webhook POST refused: META_APP_SECRET is not set, so signatures cannot be checked');
      if (!req.get('x-hub-signature-256')) throw new UnauthorizedError('missing X-Hub-Signature-256');
    }),
    webhookBody('raw'),
  );
  return router;
}

function checkSignature(secret: string, raw: Buffer, header: string | undefined): 'ok' | 'bad' {
  if (!header) return 'bad';
  const m = /^sha256=([0-9a-f]{64})$/i.exec(header.trim());
  if (!m) return 'bad';
  const expected = createHmac('sha256', secret).update(raw).digest();
  return timingSafeEqual(expected, Buffer.from(m[1]!, 'hex')) ? 'ok' : 'bad';
}

