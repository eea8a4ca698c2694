import { Router } from 'express';
import { beforeBody, webhookBody } from '../../http/middleware/webhook-body.js';
import { noteAudit, type Api } from '../../http/api.js';
import { BadRequestError } from '../../errors.js';
import { assertTenantAccess } from '../tenants/tenant-routes.js';
import type { Tenant, TenantService } from '../tenants/tenant-service.js';
import { linkView, onboardingView, type PaymentService } from './payment-service.js';
import { PageRenderer } from './pages.js';
import {
  byItemBodySchema,
  byPlanBodySchema,
  onboardBodySchema,
  pageQuerySchema,
  qrBodySchema,
  qrQuerySchema,
  sendWaBodySchema,
  tenantQuerySchema,
} from './payments.schemas.js';
import { qrPng, qrSvg } from './qr.js';
import { SignatureError } from './stripe-gateway.js';
import type { StripeWebhookService } from './stripe-webhook-service.js';
import * as R from '../../http/response-schemas.js';

/**
 * POST /v1/stripe/webhook. Mounted before the app's JSON parser, as Meta's webhook is: the signature
 * covers the exact bytes received, so the body is read here as raw bytes and only the webhook service
 * parses it, once the signature holds.
 */
export function stripeWebhookRoutes(api: Api, webhooks: StripeWebhookService): Router {
  const router = Router();
  api.route(
    router,
    { method: 'post', path: '/v1/stripe/webhook', summary: 'Stripe webhook (platform and Connect endpoints; signature checked on the raw body)', tag: 'webhooks', auth: 'public', response: R.stripeAck, errors: [503] },
    async ({ req }) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : undefined;
      const r = await webhooks.handle(raw, req.get('stripe-signature'));
      return { received: true, duplicate: r.duplicate };
    },
    // An unsigned body is refused before it is read.
    beforeBody((req) => {
      if (!req.get('stripe-signature')) throw new SignatureError('missing Stripe-Signature header');
    }),
    webhookBody('raw'),
  );
  return router;
}

/** The tenant comes from ?tenant= or the body; when both are given they must agree. */
async function tenantOf(tenants: TenantService, query: { tenant?: string }, body: { tenant?: string }): Promise<Tenant> {
  if (query.tenant && body.tenant && query.tenant !== body.tenant) throw new BadRequestError('?tenant= and body.tenant name different tenants');
  const slug = query.tenant ?? body.tenant;
  if (!slug) throw new BadRequestError('tenant is required (?tenant=slug or "tenant" in the body)');
  return tenants.get(slug);
}

export function paymentRoutes(api: Api, deps: { tenants: TenantService; payments: PaymentService }): Router {
  const { tenants, payments } = deps;
  const router = Router();
  const pages = new PageRenderer();

  api.route(
    router,
    { method: 'post', path: '/v1/admin/stripe/connect/onboard', summary: 'Create the tenant\'s connected account (once) and an onboarding link', tag: 'stripe', auth: 'admin', response: R.onboarding, errors: [404, 409, 502], body: onboardBodySchema, audit: 'stripe.onboarded' },
    async ({ body, res }) => {
      const tenant = await tenants.get(body.tenant);
      const r = await payments.onboard(tenant, { country: body.country, email: body.email });
      noteAudit(res, { target: r.accountId });
      return onboardingView(tenant, r);
    },
  );

  api.route(
    router,
    { method: 'post', path: '/v1/stripe/checkout/by-plan', summary: 'Checkout link for a subscription plan from the tenant\'s settings', tag: 'stripe', auth: 'public', response: R.checkoutLink, errors: [409, 429, 502, 503], query: tenantQuerySchema, body: byPlanBodySchema },
    async ({ query, body }) => {
      const tenant = await tenantOf(tenants, query, body);
      const link = await payments.createCheckout(tenant, { kind: 'plan', ref: body.plan_id, conversationId: body.conversation_id, customerEmail: body.customer_email });
      return linkView(link);
    },
  );

  api.route(
    router,
    { method: 'post', path: '/v1/stripe/checkout/by-item', summary: 'Checkout link for a catalog item (price from the catalog only)', tag: 'stripe', auth: 'public', response: R.checkoutLink, errors: [409, 429, 502, 503], query: tenantQuerySchema, body: byItemBodySchema },
    async ({ query, body }) => {
      const tenant = await tenantOf(tenants, query, body);
      const link = await payments.createCheckout(tenant, {
        kind: 'item',
        ref: body.item_id,
        quantity: body.quantity,
        conversationId: body.conversation_id,
        customerEmail: body.customer_email,
      });
      return linkView(link);
    },
  );

  api.route(
    router,
    { method: 'post', path: '/v1/stripe/checkout/qr', summary: 'QR code (PNG, or SVG with ?format=svg) of a checkout link zia creates', tag: 'stripe', auth: 'public', query: qrQuerySchema, body: qrBodySchema, produces: 'image/png or image/svg+xml', content: ['image/png', 'image/svg+xml'], errors: [409, 429, 502, 503] },
    async ({ query, body, res }) => {
      const tenant = await tenantOf(tenants, query, body);
      const link = await payments.linkFor(tenant, body);
      res.setHeader('x-checkout-url', link.url);
      res.setHeader('x-order-id', link.orderId);
      res.setHeader('cache-control', 'no-store');
      if (query.format === 'svg') res.type('image/svg+xml').send(await qrSvg(link.url));
      else res.type('image/png').send(await qrPng(link.url));
      return undefined;
    },
  );

  // Sends messages to any number, so it needs a key: ADMIN_KEY or a key of that tenant.
  api.route(
    router,
    { method: 'post', path: '/v1/stripe/checkout/send-wa', summary: 'Create a checkout link and send it over WhatsApp', tag: 'stripe', auth: 'tenant', response: R.checkoutSent, errors: [409, 502], query: tenantQuerySchema, body: sendWaBodySchema, audit: 'checkout.sent' },
    async ({ query, body, principal, res }) => {
      const tenant = await tenantOf(tenants, query, body);
      assertTenantAccess(principal, tenant);
      const { link, messageId } = await payments.sendLink(tenant, body.to, body);
      noteAudit(res, { tenant, target: link.orderId, details: { message_id: messageId } });
      return { ...linkView(link), to: body.to, message_id: messageId };
    },
  );

  // Pages the buyer and the tenant land on. Neither is proof of anything: the webhook decides.
  api.route(
    router,
    { method: 'get', path: '/checkout/success', summary: 'Page shown after checkout', tag: 'pages', auth: 'public', query: pageQuerySchema, produces: 'text/html', content: ['text/html'] },
    async ({ query, res }) => {
      const tenant = query.tenant ? await tenants.find(query.tenant) : undefined;
      const order = tenant && query.session_id ? await payments.findOrderBySession(tenant, query.session_id) : undefined;
      const paid = order?.status === 'paid';
      const vars = {
        title: paid ? 'Payment received' : 'Thank you!',
        business: tenant?.name ?? 'the shop',
        message: order ? `Your order: ${order.quantity > 1 ? `${order.quantity} × ` : ''}${order.name ?? order.ref} (${payments.formatPrice(tenant!, order.amount, order.currency)}).` : 'Your checkout is complete.',
        detail: paid ? 'Your payment is confirmed.' : 'We are confirming your payment with Stripe; a confirmation follows in your chat.',
        footer: `You can close this page and go back to your chat with ${tenant?.name ?? 'the shop'}.`,
      };
      pages.send(res, vars);
      return undefined;
    },
  );

  api.route(
    router,
    { method: 'get', path: '/checkout/cancel', summary: 'Page shown when a buyer leaves checkout', tag: 'pages', auth: 'public', query: pageQuerySchema, produces: 'text/html', content: ['text/html'] },
    async ({ query, res }) => {
      const tenant = query.tenant ? await tenants.find(query.tenant) : undefined;
      const business = tenant?.name ?? 'the shop';
      pages.send(res, {
        title: 'Checkout cancelled',
        business,
        message: 'Your checkout was cancelled.',
        detail: 'Ask in the chat for a new link whenever you are ready.',
        footer: `Nothing was charged. You can close this page and go back to your chat with ${business}.`,
      });
      return undefined;
    },
  );

  api.route(
    router,
    { method: 'get', path: '/stripe/connect/return', summary: 'Page shown when a tenant leaves Stripe onboarding', tag: 'pages', auth: 'public', query: pageQuerySchema, produces: 'text/html', content: ['text/html'] },
    async ({ query, res }) => {
      const tenant = query.tenant ? await tenants.find(query.tenant) : undefined;
      const ready = tenant?.chargesEnabled === true;
      const vars = {
        title: ready ? 'Stripe is connected' : 'Thanks — Stripe is reviewing',
        business: tenant?.name ?? 'your business',
        message: ready ? 'Payments are enabled: customers can pay from the chat.' : 'Stripe is checking the details you gave. Payments switch on by themselves once Stripe confirms.',
        detail: tenant && !ready ? `If Stripe asked for more information, run \`zia stripe onboard ${tenant.slug}\` for a new link.` : '',
        footer: `zia · Stripe Connect onboarding for ${tenant?.name ?? 'your business'}`,
      };
      pages.send(res, vars);
      return undefined;
    },
  );

  // An expired link cannot be renewed from here: a public page must not hand out onboarding links.
  api.route(
    router,
    { method: 'get', path: '/stripe/connect/refresh', summary: 'Page shown when a Stripe onboarding link has expired', tag: 'pages', auth: 'public', query: pageQuerySchema, produces: 'text/html', content: ['text/html'] },
    async ({ query, res }) => {
      const tenant = query.tenant ? await tenants.find(query.tenant) : undefined;
      const vars = {
        title: 'This onboarding link has expired',
        business: tenant?.name ?? 'your business',
        message: 'Stripe onboarding links work once and only for a few minutes.',
        detail: `Ask your zia operator for a new one: zia stripe onboard ${tenant?.slug ?? '<slug>'}`,
        footer: `zia · Stripe Connect onboarding for ${tenant?.name ?? 'your business'}`,
      };
      pages.send(res, vars);
      return undefined;
    },
  );

  return router;
}
