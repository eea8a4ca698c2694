import { Router } from 'express';
import type { z } from 'zod';
import { noteAudit, type Api } from '../../http/api.js';
import type { ConversationService } from '../chat/chat.types.js';
import { scopedTenant } from '../tenants/tenant-routes.js';
import type { TenantService } from '../tenants/tenant-service.js';
import { tenantQuerySchema } from '../tenants/tenant.schemas.js';
import { leadView, type CaptureInput, type LeadService } from './lead-service.js';
import { leadFormSchema } from './lead.schemas.js';
import * as R from '../../http/response-schemas.js';

type LeadForm = z.output<typeof leadFormSchema>;

export interface LeadRouteDeps {
  leads: LeadService;
  tenants: TenantService;
  conversations: ConversationService;
}

export function leadRoutes(api: Api, deps: LeadRouteDeps): Router {
  const router = Router();

  /** A conversation id must be this tenant's (404 otherwise); the lead keeps its channel. */
  const captureInput = async (tenantId: string, body: LeadForm): Promise<CaptureInput> => {
    const conversation = body.conversation_id ? await deps.conversations.get(tenantId, body.conversation_id) : undefined;
    return { name: body.name, email: body.email, whatsapp: body.whatsapp ?? null, channel: conversation?.channel ?? 'web', conversationId: conversation?.id ?? null };
  };

  api.route(
    router,
    {
      method: 'post',
      path: '/v1/leads',
      summary: "The widget's lead form. Answers a known and a new email alike (202, what was submitted) and never changes a stored lead",
      tag: 'leads',
      auth: 'public',
      query: tenantQuerySchema,
      body: leadFormSchema,
      status: 202,
      response: R.leadReceived,
      errors: [429],
    },
    async ({ query, body }) => {
      const tenant = await deps.tenants.get(query.tenant);
      const { submitted } = await deps.leads.submit(tenant.id, await captureInput(tenant.id, body));
      return { received: true, lead: submitted };
    },
  );

  api.route(
    router,
    {
      method: 'post',
      path: '/v1/admin/leads',
      summary: 'Create a lead, or fill in the name and WhatsApp number of the stored one with this email (201 created, 200 updated)',
      tag: 'leads',
      auth: 'tenant',
      response: R.leadUpsert,
      statuses: [201],
      query: tenantQuerySchema,
      body: leadFormSchema,
      audit: 'lead.created',
    },
    async ({ res, query, body, principal }) => {
      const tenant = (await scopedTenant(deps.tenants, principal, query.tenant))!;
      const { lead, created } = await deps.leads.upsert(tenant.id, await captureInput(tenant.id, body));
      noteAudit(res, { action: created ? 'lead.created' : 'lead.updated', tenant, target: lead.id });
      res.status(created ? 201 : 200);
      return { lead: leadView(lead), created };
    },
  );
  return router;
}
