import type { Command } from 'commander';
import { z } from 'zod';
import type { Services } from '../../container.js';
import type { CatalogSnapshot } from '../../features/catalog/catalog-store.js';
import { CatalogFetchError } from '../../features/catalog/catalog-error.js';
import type { Tenant } from '../../features/tenants/tenant-service.js';
import { auditCli, withContext } from '../context.js';
import { colors, printJson, println, printTable, UsageError, type CliIO, type ExitHolder } from '../io.js';

/** What an operator needs to know about a tenant's catalog: how much came in, what was skipped, why. */
export interface CatalogReport {
  tenant: string;
  source_url: string | null;
  item_count: number;
  total_in_document: number | null;
  skipped: number;
  skipped_reasons: Record<string, number>;
  skipped_samples: Array<{ index: number; id: string | null; reason: string }>;
  truncated: boolean;
  fetched_at: string | null;
  stale: boolean;
  last_error: string | null;
  last_error_at: string | null;
}

const limitSchema = z.coerce.number().int().min(0).max(5000);

export function registerCatalog(program: Command, io: CliIO, exit: ExitHolder): void {
  const catalog = program.command('catalog').description("Inspect and refresh tenants' product catalogs");

  catalog
    .command('show')
    .description('Show the cached catalog (fetching it first if there is no copy yet)')
    .argument('<slug>')
    .option('--limit <n>', 'how many items to list', '20')
    .option('--json', 'print JSON (the report plus the listed items)')
    .action(async (slug: string, opts: { limit: string; json?: boolean }) => {
      const parsed = limitSchema.safeParse(opts.limit);
      if (!parsed.success) throw new UsageError('--limit must be a whole number from 0 to 5000');
      exit.code = await withContext(io, async (services) => {
        const tenant = await tenantWithCatalog(services, slug);
        let snapshot: CatalogSnapshot | undefined;
        let stale = false;
        let failure: Error | undefined;
        try {
          // No background refresh from a one-shot command: a stale copy is reported as stale.
          ({ snapshot, stale } = await services.catalog.state(tenant, { revalidate: false }));
        } catch (err) {
          if (!(err instanceof CatalogFetchError)) throw err;
          failure = err;
          snapshot = await services.catalog.stored(tenant);
        }
        const report = reportOf(tenant, snapshot, stale);
        const items = (snapshot?.report ? snapshot.items : []).slice(0, parsed.data);
        if (opts.json) printJson(io, { ...report, items: items.map((i) => ({ ...i, price_text: services.catalog.formatPrice(tenant, i.price, i.currency) })) });
        else {
          printReport(io, report);
          if (items.length > 0) {
            println(io.stdout);
            printTable(io, ['ID', 'NAME', 'PRICE', 'AVAILABLE'], items.map((i) => [i.id, i.name, services.catalog.formatPrice(tenant, i.price, i.currency), i.available === null ? '' : i.available ? 'yes' : 'no']));
          }
        }
        if (failure) println(io.stderr, `zia: ${failure.message}`);
        return failure ? 1 : 0;
      });
    });

  catalog
    .command('refresh')
    .description('Fetch the catalog now; on failure the previous copy keeps serving')
    .argument('<slug>')
    .option('--json', 'print JSON')
    .action(async (slug: string, opts: { json?: boolean }) => {
      exit.code = await withContext(io, async (services) => {
        const tenant = await tenantWithCatalog(services, slug);
        let failure: Error | undefined;
        try {
          await services.catalog.refresh(tenant);
        } catch (err) {
          if (!(err instanceof CatalogFetchError)) throw err;
          failure = err;
        }
        const report = reportOf(tenant, await services.catalog.stored(tenant), false);
        await auditCli(services, io, { action: 'catalog.refreshed', tenant, details: { ok: !failure, items: report.item_count } });
        if (opts.json) printJson(io, report);
        else printReport(io, report);
        if (failure) {
          const keeping = report.fetched_at ? `; still serving the copy from ${report.fetched_at} (${report.item_count} items)` : '';
          println(io.stderr, `zia: catalog refresh failed: ${failure.message}${keeping}`);
          return 1;
        }
        return 0;
      });
    });
}

async function tenantWithCatalog(services: Services, slug: string): Promise<Tenant> {
  const tenant = await services.tenants.get(slug);
  if (!tenant.settings.catalog_url) {
    throw new UsageError(`tenant '${slug}' has no catalog_url; set one with \`zia tenant update ${slug} --set catalog_url=https://…\``);
  }
  return tenant;
}

export function reportOf(tenant: Tenant, snapshot: CatalogSnapshot | undefined, stale: boolean): CatalogReport {
  const good = snapshot?.report ? snapshot : undefined;
  return {
    tenant: tenant.slug,
    source_url: tenant.settings.catalog_url ?? null,
    item_count: good?.items.length ?? 0,
    total_in_document: good?.report?.total ?? null,
    skipped: good?.report?.skipped ?? 0,
    skipped_reasons: good?.report?.skipped_reasons ?? {},
    skipped_samples: good?.report?.samples ?? [],
    truncated: good?.report?.truncated ?? false,
    fetched_at: good?.fetchedAt ?? null,
    stale,
    last_error: snapshot?.lastError ?? null,
    last_error_at: snapshot?.lastErrorAt ?? null,
  };
}

function printReport(io: CliIO, r: CatalogReport): void {
  const c = colors(io);
  println(io.stdout, `${c.bold(r.tenant)}  ${r.source_url ?? ''}`);
  println(io.stdout, `items      ${r.item_count}${r.truncated ? ` (document had ${r.total_in_document}; capped)` : ''}`);
  println(io.stdout, `fetched    ${r.fetched_at ?? 'never'}${r.stale ? ' (stale: a refresh is due)' : ''}`);
  println(io.stdout, `skipped    ${r.skipped}`);
  for (const [reason, n] of Object.entries(r.skipped_reasons)) println(io.stdout, `  ${n} × ${reason}`);
  if (r.last_error) println(io.stdout, `last error ${c.red(r.last_error)} at ${r.last_error_at}`);
}
