import { Router } from 'express';
import { noteAudit, type Api, type Principal } from '../../http/api.js';
import { requiredTenant } from '../tenants/tenant-routes.js';
import type { TenantService } from '../tenants/tenant-service.js';
import type { ContactService } from './contact-service.js';
import { erasedView, exportView, foundView } from './contact-views.js';
import { contactErased, contactEraseBody, contactExport, contactFound, contactQuery, identifierOf } from './contacts.schemas.js';

interface Deps {
  tenants: TenantService;
  contacts: ContactService;
}

/** A person's data in one tenant, as `zia contacts` has it: for the admin key or a key scoped to the tenant. */
export function contactRoutes(api: Api, deps: Deps): Router {
  const router = Router();
  const base = '/v1/admin/contacts';

  const tenantOf = (principal: Principal | undefined, slug: string | undefined) => requiredTenant(deps.tenants, principal, slug);

  api.route(
    router,
    { method: 'get', path: base, summary: "A person's conversations (with message counts), leads and orders, found by email, phone, PSID or visitor id", tag: 'contacts', auth: 'tenant', query: contactQuery, response: contactFound },
    async ({ query, principal }) => {
      const tenant = await tenantOf(principal, query.tenant);
      const id = identifierOf(query);
      return foundView(id, await deps.contacts.find(tenant, id));
    },
  );
  api.route(
    router,
    { method: 'get', path: `${base}/export`, summary: 'Everything held about a person as one JSON document: conversations, messages, leads, orders, events, inbox deliveries and sends', tag: 'contacts', auth: 'tenant', query: contactQuery, response: contactExport, audit: 'contact.exported' },
    async ({ query, principal, res }) => {
      const tenant = await tenantOf(principal, query.tenant);
      const id = identifierOf(query);
      noteAudit(res, { details: { identified_by: id.kind } });
      return exportView(tenant.slug, id, await deps.contacts.export(tenant, id));
    },
  );
  api.route(
    router,
    {
      method: 'post',
      path: `${base}/erase`,
      summary: "Erase a person: messages and leads deleted; conversations, orders, events and deliveries kept under a pseudonym with nothing personal left (revenue unchanged); recorded in contact_erasures",
      tag: 'contacts',
      auth: 'tenant',
      body: contactEraseBody,
      response: contactErased,
      audit: 'contact.erased',
    },
    async ({ body, principal, res }) => {
      const tenant = await tenantOf(principal, body.tenant);
      const view = erasedView(await deps.contacts.erase(tenant, identifierOf(body)));
      // The erasure and its pseudonym, never the identifier it was asked for.
      noteAudit(res, { target: view.id, details: { identified_by: identifierOf(body).kind, reference: view.reference } });
      return view;
    },
  );
  return router;
}
