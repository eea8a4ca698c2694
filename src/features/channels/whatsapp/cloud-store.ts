import type { Db } from '../../../db/create-db.js';
import { nowIso, readTime } from '../../../db/dialect.js';
import { bodyParameters, type CloudTemplateInfo } from './cloud-client.js';

export interface StoredTemplate {
  name: string;
  language: string;
  templateId: string;
  category: string;
  status: string;
  bodyParameters: number;
  body: string | null;
  syncedAt: string;
  updatedAt: string;
}

function template(r: any): StoredTemplate {
  return {
    name: r.name,
    language: r.language,
    templateId: r.template_id,
    category: r.category,
    status: r.status,
    bodyParameters: Number(r.body_parameters),
    body: r.body ?? null,
    syncedAt: readTime(r.synced_at)!,
    updatedAt: readTime(r.updated_at)!,
  };
}

/** A Cloud API customer: the conversation they have, under the number or the user id first seen. */
export interface CloudContact {
  userId: string;
  externalUserId: string;
  phone: string | null;
  profileName: string | null;
}

/**
 * The WhatsApp Cloud API's rows: each tenant's message templates as last synced from its WABA (and as
 * Meta's template webhooks changed them since), and the business-scoped user ids of its customers.
 * Every query is scoped to one tenant.
 */
export class CloudStore {
  constructor(private readonly db: Db) {}

  /** The WABA's templates replace the stored copy: new ones added, changed ones updated, gone ones removed. */
  async replaceTemplates(tenantId: string, templates: CloudTemplateInfo[]): Promise<void> {
    const now = nowIso();
    await this.db.knex.transaction(async (trx) => {
      await trx('whatsapp_templates').where({ tenant_id: tenantId }).delete();
      const rows = templates.map((t) => ({
        tenant_id: tenantId,
        name: t.name,
        language: t.language,
        template_id: t.id,
        category: t.category,
        status: t.status,
        body_parameters: bodyParameters(t.body),
        body: t.body,
        synced_at: now,
        updated_at: now,
      }));
      for (let i = 0; i < rows.length; i += 200) await trx('whatsapp_templates').insert(rows.slice(i, i + 200));
    });
  }

  async templates(tenantId: string): Promise<StoredTemplate[]> {
    const rows = await this.db.knex('whatsapp_templates').where({ tenant_id: tenantId }).orderBy(['name', 'language']);
    return rows.map(template);
  }

  async template(tenantId: string, name: string, language: string): Promise<StoredTemplate | undefined> {
    const r = await this.db.knex('whatsapp_templates').where({ tenant_id: tenantId, name, language }).first();
    return r ? template(r) : undefined;
  }

  /** A template webhook's change (category or status) to the stored copy; false when no copy has it. */
  async updateTemplate(tenantId: string, templateId: string, change: { category?: string; status?: string }): Promise<boolean> {
    const patch: Record<string, unknown> = { updated_at: nowIso() };
    if (change.category) patch.category = change.category.toUpperCase();
    if (change.status) patch.status = change.status.toUpperCase();
    return (await this.db.knex('whatsapp_templates').where({ tenant_id: tenantId, template_id: templateId }).update(patch)) > 0;
  }

  /**
   * The conversation key of a customer known by a user id: the key first recorded for them, else (first
   * time) their number when the message carries one, else the user id. Their number and profile name
   * are kept current.
   */
  async contactKey(tenantId: string, c: { userId: string; phone: string | null; profileName: string | null }): Promise<string> {
    const now = nowIso();
    const key = c.phone ?? c.userId;
    await this.db.knex('whatsapp_contacts')
      .insert({ tenant_id: tenantId, user_id: c.userId, external_user_id: key, phone: c.phone, profile_name: c.profileName, created_at: now, updated_at: now })
      .onConflict(['tenant_id', 'user_id'])
      .ignore();
    const row = await this.db.knex('whatsapp_contacts').where({ tenant_id: tenantId, user_id: c.userId }).first();
    const patch: Record<string, unknown> = {};
    if (c.phone && row.phone !== c.phone) patch.phone = c.phone;
    if (c.profileName && row.profile_name !== c.profileName) patch.profile_name = c.profileName;
    if (Object.keys(patch).length > 0) await this.db.knex('whatsapp_contacts').where({ tenant_id: tenantId, user_id: c.userId }).update({ ...patch, updated_at: now });
    return row.external_user_id as string;
  }

  /**
   * A customer's new user id (Meta gives a new one when the number changes) keeps the conversation of
   * the previous one; nothing happens when the previous one is unknown or the new one already has one.
   */
  async linkUserId(tenantId: string, previousUserId: string, userId: string, phone: string | null): Promise<boolean> {
    const previous = await this.db.knex('whatsapp_contacts').where({ tenant_id: tenantId, user_id: previousUserId }).first();
    if (!previous) return false;
    const now = nowIso();
    const inserted = await this.db.knex('whatsapp_contacts')
      .insert({ tenant_id: tenantId, user_id: userId, external_user_id: previous.external_user_id, phone: phone ?? previous.phone ?? null, profile_name: previous.profile_name ?? null, created_at: now, updated_at: now })
      .onConflict(['tenant_id', 'user_id'])
      .ignore()
      .returning('user_id');
    return inserted.length > 0;
  }

  async contactByKey(tenantId: string, externalUserId: string): Promise<CloudContact | undefined> {
    const r = await this.db.knex('whatsapp_contacts').where({ tenant_id: tenantId, external_user_id: externalUserId }).orderBy('updated_at', 'desc').first();
    return r ? { userId: r.user_id, externalUserId: r.external_user_id, phone: r.phone ?? null, profileName: r.profile_name ?? null } : undefined;
  }
}
