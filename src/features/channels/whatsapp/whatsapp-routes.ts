import { Router, type Request } from 'express';
import type { Config } from '../../../config.js';
import { ForbiddenError, NotConfiguredError, NotFoundError } from '../../../errors.js';
import type { Api } from '../../../http/api.js';
import type { Logger } from '../../../logger.js';
import { webhookBody } from '../../../http/middleware/webhook-body.js';
import { parseInput } from '../../../validation.js';
import type { ConversationService } from '../../chat/chat.types.js';
import type { Tenant, TenantService } from '../../tenants/tenant-service.js';
import type { WebhookService } from '../../webhooks/webhook-service.js';
import { WHATSAPP_KIND } from './whatsapp-worker.js';
import type { WhatsAppTransport } from './whatsapp-sender.js';
import { applyStatus } from './whatsapp-status.js';
import { inboundFormSchema, statusFormSchema, statusQuerySchema, toItem, twilioQuerySchema } from './whatsapp.schemas.js';

export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

export interface WhatsAppRouteDeps {
  config: Pick<Config, 'SITE_URL'>;
  tenants: TenantService;
  inbox: WebhookService;
  sends: WhatsAppTransport;
  conversations: ConversationService;
  logger: Logger;
}

/**
 * POST /v1/twilio/whatsapp/webhook and /status. Mounted before the app's body parsers: each reads its
 * own form, capped (webhookBody). Twilio signs the URL it was given (SITE_URL + path + query, whatever
 * proxy sits in between) and every POST parameter, so the check uses exactly those: the public URL and
 * the whole parsed body.
 */
export function whatsappRoutes(api: Api, deps: WhatsAppRouteDeps): Router {
  const router = Router();
  const { logger } = deps;

  /** Refuses (403, nothing stored) anything Twilio did not sign with this tenant's (or the global) token. */
  async function verify(req: Request, tenant: Tenant | undefined, params: Record<string, unknown>): Promise<void> {
    const token = deps.sends.authToken(tenant);
    if (!token && !tenant) {
      // Nobody here could have signed it: not a configuration fault of a tenant, just not ours.
      logger.warn({ path: req.path }, 'Twilio webhook for a number no tenant has, and no TWILIO_AUTH_TOKEN to check it with: refused');
      throw new ForbiddenError('no tenant has this WhatsApp number');
    }
    // Logged by the error handler as one warning every few minutes, not an error per delivery.
    if (!token) throw new NotConfiguredError(`Twilio webhook refused: no twilio_auth_token for tenant '${tenant?.slug}' and no TWILIO_AUTH_TOKEN`);
    const signature = req.get('x-twilio-signature');
    if (!signature) throw new ForbiddenError('missing X-Twilio-Signature');
    const url = `${deps.config.SITE_URL}${req.originalUrl}`;
    if (!(await deps.sends.twilio.validSignature(token, signature, url, params))) {
      logger.warn({ tenant: tenant?.slug, path: req.path }, 'Twilio webhook with an invalid signature refused');
      throw new ForbiddenError('invalid signature');
    }
  }

  api.route(
    router,
    { method: 'post', path: '/v1/twilio/whatsapp/webhook', summary: 'Twilio WhatsApp inbound message, signed with X-Twilio-Signature', tag: 'webhooks', auth: 'public', content: ['text/xml'], errors: [403, 503], query: twilioQuerySchema, produces: 'empty TwiML, as text/xml' },
    async ({ req, res, query }) => {
      const params = formOf(req);
      let tenant: Tenant | undefined;
      let routedBy: string | undefined;
      if (query.tenant) {
        tenant = await deps.tenants.find(query.tenant);
        if (!tenant) throw new NotFoundError(`tenant '${query.tenant}' not found`);
      } else {
        const to = typeof params.To === 'string' ? params.To.replace(/^whatsapp:/, '') : '';
        tenant = to ? await deps.tenants.findByRouting('whatsapp_from', to) : undefined;
        routedBy = to;
      }
      await verify(req, tenant, params);
      const form = parseInput(inboundFormSchema, params, 'body');
      const item = toItem(form);
      const summary = await deps.inbox.accept('twilio', [
        {
          externalId: item.messageSid,
          tenantId: tenant?.id ?? null,
          kind: WHATSAPP_KIND,
          payload: item,
          // One person's messages are answered one at a time, in order.
          orderKey: `whatsapp:${tenant?.id ?? ''}:${item.from}`,
          ...(tenant ? {} : { ignoredReason: `no tenant has whatsapp_from ${routedBy}` }),
        },
      ]);
      if (summary.ignored > 0) logger.warn({ to: routedBy }, 'WhatsApp message for an unknown number recorded as ignored');
      res.status(200).type('text/xml').send(EMPTY_TWIML);
      return undefined;
    },
    webhookBody('form'),
  );

  api.route(
    router,
    { method: 'post', path: '/v1/twilio/whatsapp/status', summary: 'Twilio message status callback, signed with X-Twilio-Signature', tag: 'webhooks', auth: 'public', status: 204, errors: [403, 503], query: statusQuerySchema },
    async ({ req, res, query }) => {
      const tenant = await deps.tenants.find(query.tenant);
      if (!tenant) throw new NotFoundError(`tenant '${query.tenant}' not found`);
      const params = formOf(req);
      await verify(req, tenant, params);
      const form = parseInput(statusFormSchema, params, 'body');
      const status = form.MessageStatus.toLowerCase();
      const { tracked } = await applyStatus(deps.conversations, tenant.id, { providerMessageId: form.MessageSid, status, errorCode: form.ErrorCode ?? null });
      if (!tracked) logger.debug({ status }, 'WhatsApp status not tracked');
      res.status(204).end();
      return undefined;
    },
    webhookBody('form'),
  );
  return router;
}

/** The parsed form; repeated keys stay arrays, as Twilio's signature covers each of their values. */
function formOf(req: Request): Record<string, unknown> {
  const body = req.body as unknown;
  return body && typeof body === 'object' && !Buffer.isBuffer(body) ? (body as Record<string, unknown>) : {};
}
