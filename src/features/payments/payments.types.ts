import type { Tenant } from '../tenants/tenant-service.js';

export interface CheckoutRequest {
  kind: 'plan' | 'item';
  /** Plan id from the tenant's settings, or catalog item id. */
  ref: string;
  quantity?: number;
  conversationId?: string | null;
  customerEmail?: string | null;
}

export interface CheckoutLink {
  orderId: string;
  url: string;
  sessionId: string;
  kind: 'plan' | 'item';
  name: string;
  /** Minor units; for plans, per interval. */
  amount: number;
  currency: string;
  quantity: number;
}

/** What the chat engine's create_checkout_link tool needs from payments. */
export interface CheckoutCreator {
  /** Throws an AppError (503 not configured, 409 tenant cannot charge, 404 unknown plan/item). */
  createCheckout(tenant: Tenant, request: CheckoutRequest): Promise<CheckoutLink>;
}
