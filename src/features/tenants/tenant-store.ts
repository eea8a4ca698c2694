import type { Knex } from 'knex';
import type { Db } from '../../db/create-db.js';
import { translateDbError } from '../../db/db-errors.js';
import { nowIso, readBool, readJson, readTime } from '../../db/dialect.js';
import type { TenantSettings } from './tenant.schemas.js';
import { type Tx, on } from '../../db/unit-of-work.js';

export interface TenantRecord {
  id: string;
  slug: string;
  name: string;
  whatsapp: string | null;
  settings: TenantSettings;
  /** The sealed secrets blob; opened only by the service, on demand. */
  sealedSecrets: string | null;
  fbPageId: string | null;
  igUserId: string | null;
  whatsappFrom: string | null;
  /** The WhatsApp Cloud API phone number id (settings.whatsapp.phone_number_id). */
  waPhoneNumberId: string | null;
  stripeAccountId: string | null;
  chargesEnabled: boolean;
  detailsSubmitted: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface TenantRow {
  slug: string;
  name: string;
  whatsapp: string | null;
  settings: TenantSettings;
  sealedSecrets: string | null;
  fbPageId: string | null;
  igUserId: string | null;
  whatsappFrom: string | null;
  waPhoneNumberId: string | null;
}

export type RoutingColumn = 'fb_page_id' | 'ig_user_id' | 'whatsapp_from' | 'wa_phone_number_id' | 'stripe_account_id';

function fromRow(r: any): TenantRecord {
  return {
    id: r.id,
    slug: r.slug,
    name: r.name,
    whatsapp: r.whatsapp ?? null,
    settings: readJson<TenantSettings>(r.settings, {}),
    sealedSecrets: r.secrets ?? null,
    fbPageId: r.fb_page_id ?? null,
    igUserId: r.ig_user_id ?? null,
    whatsappFrom: r.whatsapp_from ?? null,
    waPhoneNumberId: r.wa_phone_number_id ?? null,
    stripeAccountId: r.stripe_account_id ?? null,
    chargesEnabled: readBool(r.charges_enabled),
    detailsSubmitted: readBool(r.details_submitted),
    createdAt: readTime(r.created_at)!,
    updatedAt: readTime(r.updated_at)!,
  };
}

function toRow(t: TenantRow) {
  return {
    slug: t.slug,
    name: t.name,
    whatsapp: t.whatsapp,
    settings: JSON.stringify(t.settings),
    secrets: t.sealedSecrets,
    fb_page_id: t.fbPageId,
    ig_user_id: t.igUserId,
    whatsapp_from: t.whatsappFrom,
    wa_phone_number_id: t.waPhoneNumberId,
  };
}

export class TenantStore {
  constructor(private readonly db: Db) {}

  async insert(id: string, t: TenantRow): Promise<void> {
    const now = nowIso();
    try {
      await this.db.knex('tenants').insert({ id, ...toRow(t), created_at: now, updated_at: now });
    } catch (err) {
      throw translateDbError(err, 'tenant');
    }
  }

  async update(id: string, t: TenantRow): Promise<void> {
    try {
      await this.db.knex('tenants').where({ id }).update({ ...toRow(t), updated_at: nowIso() });
    } catch (err) {
      throw translateDbError(err, 'tenant');
    }
  }

  async setStripe(
    id: string,
    patch: { stripeAccountId?: string; chargesEnabled?: boolean; detailsSubmitted?: boolean },
    trx?: Tx,
  ): Promise<void> {
    const row: Record<string, unknown> = { updated_at: nowIso() };
    if (patch.stripeAccountId !== undefined) row.stripe_account_id = patch.stripeAccountId;
    if (patch.chargesEnabled !== undefined) row.charges_enabled = patch.chargesEnabled;
    if (patch.detailsSubmitted !== undefined) row.details_submitted = patch.detailsSubmitted;
    try {
      await on(this.db, trx)('tenants').where({ id }).update(row);
    } catch (err) {
      throw translateDbError(err, 'tenant');
    }
  }

  async findBySlug(slug: string): Promise<TenantRecord | undefined> {
    const r = await this.db.knex('tenants').where({ slug }).first();
    return r ? fromRow(r) : undefined;
  }

  async findById(id: string, trx?: Tx): Promise<TenantRecord | undefined> {
    const r = await on(this.db, trx)('tenants').where({ id }).first();
    return r ? fromRow(r) : undefined;
  }

  async findByRouting(column: RoutingColumn, value: string): Promise<TenantRecord | undefined> {
    const r = await this.db.knex('tenants').where(column, value).first();
    return r ? fromRow(r) : undefined;
  }

  async list(): Promise<TenantRecord[]> {
    const rows = await this.db.knex('tenants').orderBy('slug');
    return rows.map(fromRow);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.knex('tenants').where({ id }).delete()) > 0;
  }
}
