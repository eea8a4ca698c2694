import { z } from 'zod';
import type { CatalogItem } from './catalog.types.js';
import { CatalogFetchError } from './catalog-error.js';

/**
 * Shops publish catalogs in many shapes; this turns the common ones into CatalogItem. One bad item is
 * skipped and counted (with the reason), never fatal: a typo in one product must not hide the rest.
 */

export const MAX_ITEMS = 5_000;
const MAX_SAMPLES = 20;

export interface NormaliseReport {
  /** Items the document held (before the cap). */
  total: number;
  accepted: number;
  skipped: number;
  /** Reason → how many items were skipped for it. */
  skipped_reasons: Record<string, number>;
  /** The first few skipped items, to point an operator at them. */
  samples: Array<{ index: number; id: string | null; reason: string }>;
  /** True when the document held more than MAX_ITEMS items and the rest were ignored. */
  truncated: boolean;
}

export interface Normalised {
  items: CatalogItem[];
  report: NormaliseReport;
}

const text = (max: number) => z.string().trim().min(1).max(max);
const idValue = z.union([text(200), z.number().int().nonnegative().transform(String)]);
/** A decimal amount: a number, or a numeric string ("12.50", "12,50", " 12 "). */
const amount = z.union([
  z.number().finite(),
  z
    .string()
    .trim()
    .regex(/^\d+(?:[.,]\d+)?$/, 'not a number')
    .transform((s) => Number(s.replace(',', '.'))),
]);
const httpUrl = z
  .string()
  .trim()
  .max(2000)
  .refine((v) => {
    try {
      return ['http:', 'https:'].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, 'not an http(s) URL');
const imageRef = z.union([httpUrl, z.looseObject({ src: httpUrl }).transform((o) => o.src), z.looseObject({ url: httpUrl }).transform((o) => o.url)]);

/** What a raw item may carry; unknown keys are allowed (shops add plenty) and ignored. */
const rawItem = z.looseObject({
  id: idValue.optional(),
  sku: idValue.optional(),
  name: text(300).optional(),
  title: text(300).optional(),
  price: amount.optional(),
  price_cents: z.number().int().optional(),
  amount_cents: z.number().int().optional(),
  price_minor: z.number().int().optional(),
  unit_amount: z.number().int().optional(),
  currency: z.string().trim().regex(/^[A-Za-z]{3}$/, 'not an ISO 4217 code').optional(),
  description: z.string().max(10_000).nullable().optional(),
  url: z.unknown().optional(),
  link: z.unknown().optional(),
  image: z.unknown().optional(),
  image_url: z.unknown().optional(),
  images: z.unknown().optional(),
  available: z.boolean().optional(),
  in_stock: z.boolean().optional(),
  availability: z.union([z.string(), z.boolean()]).optional(),
  stock: z.number().int().optional(),
});

/** Finds the item array in the accepted document shapes. */
export function itemsOf(doc: unknown): unknown[] {
  if (Array.isArray(doc)) return doc;
  if (doc && typeof doc === 'object') {
    for (const key of ['products', 'items', 'data'] as const) {
      const value = (doc as Record<string, unknown>)[key];
      if (Array.isArray(value)) return value;
    }
  }
  throw new CatalogFetchError('invalid_shape', 'catalog must be a JSON array of products, or an object with a "products", "items" or "data" array');
}

export function normaliseCatalog(doc: unknown, defaultCurrency: string): Normalised {
  const all = itemsOf(doc);
  const report: NormaliseReport = { total: all.length, accepted: 0, skipped: 0, skipped_reasons: {}, samples: [], truncated: all.length > MAX_ITEMS };
  const items: CatalogItem[] = [];
  const seen = new Set<string>();
  const digits = memoDigits();
  const skip = (index: number, id: string | null, reason: string) => {
    report.skipped++;
    report.skipped_reasons[reason] = (report.skipped_reasons[reason] ?? 0) + 1;
    if (report.samples.length < MAX_SAMPLES) report.samples.push({ index, id, reason });
  };
  all.slice(0, MAX_ITEMS).forEach((raw, index) => {
    const result = normaliseItem(raw, defaultCurrency, digits);
    if ('reason' in result) return skip(index, result.id, result.reason);
    if (seen.has(result.item.id)) return skip(index, result.item.id, 'duplicate id');
    seen.add(result.item.id);
    items.push(result.item);
  });
  report.accepted = items.length;
  return { items, report };
}

type ItemResult = { item: CatalogItem } | { reason: string; id: string | null };

export function normaliseItem(raw: unknown, defaultCurrency: string, digitsOf: (currency: string) => number | undefined = fractionDigits): ItemResult {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { reason: 'not an object', id: null };
  const parsed = rawItem.safeParse(raw);
  const rawId = (raw as Record<string, unknown>).id ?? (raw as Record<string, unknown>).sku;
  const idHint = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId).slice(0, 200) : null;
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { reason: `${issue.path.join('.') || 'item'}: ${issue.message}`, id: idHint };
  }
  const r = parsed.data;
  const id = r.id ?? r.sku;
  if (id === undefined) return { reason: 'missing id/sku', id: null };
  const name = r.name ?? r.title;
  if (name === undefined) return { reason: 'missing name/title', id };
  const currency = (r.currency ?? defaultCurrency).toLowerCase();
  const digits = digitsOf(currency);
  if (digits === undefined) return { reason: `unknown currency '${currency}'`, id };
  const minor = r.price_cents ?? r.amount_cents ?? r.price_minor ?? r.unit_amount;
  let price: number;
  if (minor !== undefined) price = minor;
  else if (r.price !== undefined) price = toMinor(r.price, digits);
  else return { reason: 'missing price', id };
  if (!Number.isSafeInteger(price) || price < 0) return { reason: 'price out of range', id };
  const { available, stock } = availabilityOf(r);
  return {
    item: {
      id,
      name,
      description: r.description?.trim() || null,
      price,
      currency,
      url: optional(httpUrl, r.url ?? r.link),
      image: optional(imageRef, r.image ?? r.image_url ?? (Array.isArray(r.images) ? r.images[0] : undefined)),
      available,
      stock,
    },
  };
}

/** Links and images are nice to have: a bad one becomes null rather than costing the item. */
function optional(schema: z.ZodType<string, unknown>, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const r = schema.safeParse(value);
  return r.success ? r.data : null;
}

/** Major units to minor units for the currency, without binary-float surprises (19.99 → 1999). */
function toMinor(major: number, digits: number): number {
  return Math.round(Number((major * 10 ** digits).toPrecision(15)));
}

/** 2 for usd/eur, 0 for jpy, 3 for kwd; undefined when Intl does not know the code. */
export function fractionDigits(currency: string): number | undefined {
  try {
    if (!Intl.supportedValuesOf('currency').includes(currency.toUpperCase())) return undefined;
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return undefined;
  }
}

/** One lookup per currency per document: a 5,000-item catalog usually has one currency. */
function memoDigits(): (currency: string) => number | undefined {
  const memo = new Map<string, number | undefined>();
  return (currency) => {
    if (!memo.has(currency)) memo.set(currency, fractionDigits(currency));
    return memo.get(currency);
  };
}

const IN_STOCK = new Set(['in stock', 'in_stock', 'instock', 'available', 'yes', 'true', 'preorder', 'pre-order', 'pre_order', 'limited availability']);
const OUT_OF_STOCK = new Set(['out of stock', 'out_of_stock', 'outofstock', 'sold out', 'sold_out', 'soldout', 'unavailable', 'discontinued', 'no', 'false']);

function availabilityOf(r: z.output<typeof rawItem>): { available: boolean | null; stock: number | null } {
  const stock = r.stock !== undefined ? Math.max(0, r.stock) : null;
  let available: boolean | null = r.available ?? r.in_stock ?? null;
  if (available === null && r.availability !== undefined) {
    if (typeof r.availability === 'boolean') available = r.availability;
    else {
      // schema.org values arrive as URLs: https://schema.org/InStock
      const v = r.availability.trim().toLowerCase().replace(/^https?:\/\/schema\.org\//, '');
      if (IN_STOCK.has(v)) available = true;
      else if (OUT_OF_STOCK.has(v)) available = false;
    }
  }
  if (available === null && stock !== null) available = stock > 0;
  return { available, stock };
}
