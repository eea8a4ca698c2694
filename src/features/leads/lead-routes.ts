import { Router } from 'express';
import type { Api } from '../../http/api.js';
import { enforceRateLimit, type ChatRouteDeps } from '../chat/chat-routes.js';
import type { ConversationService } from '../chat/chat.types.js';
import type { TenantService } from '../tenants/tenant-service.js';
import { tenantQuerySchema } from '../tenants/tenant.schemas.js';
import { leadView, type LeadService } from './lead-service.js';
import { leadFormSchema } from './lead.schemas.js';
import * as R from '../../http/response-schemas.js';

export interface LeadRouteDeps extends Pick<ChatRouteDeps, 'limiter' | 'config'> {
  leads: LeadService;
  tenants: TenantService;
  conversations: ConversationService;
}

export function leadRoutes(api: Api, deps: LeadRouteDeps): Router {
  const router = Router();
  api.route(
    router,
    { method: 'post', path: '/v1/leads', summary: "The widget's lead form: create or update a lead by email", tag: 'leads', auth: 'public', response: R.leadUpsert, statuses: [201], errors: [429], query: tenantQuerySchema, body: leadFormSchema },
    async ({ req, res, query, body }) => {
      const tenant = await deps.tenants.get(query.tenant);
      enforceRateLimit(deps, tenant, req, 'leads');
      // A conversation id must be this tenant's (404 otherwise); the lead keeps its channel.
      const conversation = body.conversation_id ? await deps.conversations.get(tenant.id, body.conversation_id) : undefined;
      const { lead, created } = await deps.leads.capture(tenant.id, {
        name: body.name,
        email: body.email,
        whatsapp: body.whatsapp ?? null,
        channel: conversation?.channel ?? 'web',
        conversationId: conversation?.id ?? null,
      });
      res.status(created ? 201 : 200);
      return { lead: leadView(lead), created };
    },
  );
  return router;
}
