import type { Tenant } from '../tenants/tenant-service.js';

/** A product as zia understands it, whatever shape the shop published. Prices are in minor units. */
export interface CatalogItem {
  id: string;
  name: string;
  description: string | null;
  /** Minor units (cents), an integer. */
  price: number;
  /** ISO 4217, lowercase. */
  currency: string;
  url: string | null;
  image: string | null;
  /** null when the shop does not say. */
  available: boolean | null;
  stock: number | null;
}

export interface CatalogSearchHit {
  item: CatalogItem;
  score: number;
  /** The price formatted for the tenant's locale and currency, e.g. "NOK 249.00" or "€12.50". */
  priceText: string;
}

/** What the chat engine and checkout need from the catalog. */
export interface CatalogLookup {
  /** Whether the tenant has a catalog at all: false means "not configured", which is not "no matches". */
  configured(tenant: Tenant): boolean;
  /** Ranked matches on name and description; empty when the tenant has no catalog. */
  search(tenant: Tenant, query: string, limit?: number): Promise<CatalogSearchHit[]>;
  /** One item by id (or sku), from the server-side catalog: the only source of item prices. */
  find(tenant: Tenant, itemId: string): Promise<CatalogItem | undefined>;
  formatPrice(tenant: Tenant, amountMinor: number, currency: string): string;
}
