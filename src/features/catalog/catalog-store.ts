import type { Db } from '../../db/create-db.js';
import { readJson, readTime, writeJson } from '../../db/dialect.js';
import type { CatalogItem } from './catalog.types.js';
import type { NormaliseReport } from './catalog-normalise.js';

/** One row per tenant: the last good copy of its catalog, shared by every process on the database. */
export interface CatalogSnapshot {
  tenantId: string;
  sourceUrl: string;
  items: CatalogItem[];
  /** null while no fetch of sourceUrl has ever succeeded (the row then only records the failure). */
  report: NormaliseReport | null;
  fetchedAt: string;
  lastError: string | null;
  lastErrorAt: string | null;
}

function fromRow(r: any): CatalogSnapshot {
  return {
    tenantId: r.tenant_id,
    sourceUrl: r.source_url,
    items: readJson<CatalogItem[]>(r.items, []),
    report: readJson<NormaliseReport | null>(r.report, null),
    fetchedAt: readTime(r.fetched_at)!,
    lastError: r.last_error ?? null,
    lastErrorAt: readTime(r.last_error_at),
  };
}

export class CatalogStore {
  constructor(private readonly db: Db) {}

  async get(tenantId: string): Promise<CatalogSnapshot | undefined> {
    const row = await this.db.knex('catalog_snapshots').where({ tenant_id: tenantId }).first();
    return row ? fromRow(row) : undefined;
  }

  /** A successful fetch replaces the copy and clears the recorded failure. */
  async save(tenantId: string, s: { sourceUrl: string; items: CatalogItem[]; report: NormaliseReport; fetchedAt: string }): Promise<void> {
    await this.db
      .knex('catalog_snapshots')
      .insert({
        tenant_id: tenantId,
        source_url: s.sourceUrl,
        items: writeJson(s.items),
        report: writeJson(s.report),
        fetched_at: s.fetchedAt,
        last_error: null,
        last_error_at: null,
      })
      .onConflict('tenant_id')
      .merge();
  }

  /**
   * A failed fetch keeps the good copy of the same URL and records why. With no good copy of this URL
   * the row records the failure alone (empty items, null report), so other processes back off too.
   */
  async recordFailure(tenantId: string, sourceUrl: string, message: string, at: string): Promise<void> {
    const knex = this.db.knex;
    await knex.transaction(async (trx) => {
      const row = await trx('catalog_snapshots').where({ tenant_id: tenantId }).first();
      if (row && row.source_url === sourceUrl) {
        await trx('catalog_snapshots').where({ tenant_id: tenantId }).update({ last_error: message, last_error_at: at });
        return;
      }
      const failure = { source_url: sourceUrl, items: writeJson([]), report: null, fetched_at: at, last_error: message, last_error_at: at };
      if (row) await trx('catalog_snapshots').where({ tenant_id: tenantId }).update(failure);
      else await trx('catalog_snapshots').insert({ tenant_id: tenantId, ...failure });
    });
  }

  /**
   * Claims the right to fetch this tenant's catalog for `ms`, unless another process holds an unexpired
   * claim: one conditional upsert, judged by the database's clock. True when `holder` now holds it.
   */
  async claimFetch(tenantId: string, holder: string, ms: number): Promise<boolean> {
    const k = this.db.knex;
    const [now, until] =
      this.db.dialect === 'pg'
        ? [`now()`, `now() + ?::int * interval '1 millisecond'`]
        : [`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`, `strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || (? / 1000.0) || ' seconds')`];
    const result: any = await k.raw(
      `insert into catalog_fetch_leases (tenant_id, holder, expires_at) values (?, ?, ${until})
       on conflict (tenant_id) do update set holder = excluded.holder, expires_at = excluded.expires_at
       where catalog_fetch_leases.expires_at <= ${now}
       returning holder`,
      [tenantId, holder, ms],
    );
    const rows: unknown[] = Array.isArray(result) ? result : result.rows;
    return rows.length === 1;
  }

  /** Gives a claim back at once, so the next fetch (another process's) need not wait for it to run out. */
  async releaseFetch(tenantId: string, holder: string): Promise<void> {
    await this.db.knex('catalog_fetch_leases').where({ tenant_id: tenantId, holder }).delete();
  }

  async delete(tenantId: string): Promise<void> {
    await this.db.knex('catalog_snapshots').where({ tenant_id: tenantId }).delete();
  }
}
