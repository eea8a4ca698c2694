import type { Command } from 'commander';
import type { Services } from '../../container.js';
import type { StoredTemplate } from '../../features/channels/whatsapp/cloud-store.js';
import type { Tenant } from '../../features/tenants/tenant-service.js';
import { NotConfiguredError, UpstreamError } from '../../errors.js';
import { auditCli, withContext } from '../context.js';
import { colors, printJson, println, printTable, type CliIO, type ExitHolder } from '../io.js';

export function registerWhatsapp(program: Command, io: CliIO, exit: ExitHolder): void {
  const whatsapp = program.command('whatsapp').description("WhatsApp through Meta's Cloud API: the WABA's message templates");
  const templates = whatsapp.command('templates').description('Message templates, and whether whatsapp.template can be sent outside the 24-hour window');

  templates
    .command('sync')
    .description("Read the WABA's templates from Meta; they replace the stored copy")
    .argument('<slug>')
    .option('--json', 'print JSON')
    .action(async (slug: string, opts: { json?: boolean }) => {
      exit.code = await withContext(io, async (services) => {
        const tenant = await cloudTenant(services, slug);
        const wabaId = services.whatsappCloud.wabaId(tenant);
        let stored: StoredTemplate[];
        try {
          stored = await services.whatsappCloud.syncTemplates(tenant);
        } catch (err) {
          throw await graphFailure(err, tenant, `could not read the templates of WABA ${wabaId}`);
        }
        await auditCli(services, io, { action: 'whatsapp_templates.synced', tenant, target: wabaId, details: { templates: stored.length } });
        await report(io, services, tenant, stored, opts.json, 'sync');
        return 0;
      });
    });

  templates
    .command('list')
    .description('The stored copy of the templates (as last synced, kept current by Meta\'s template webhooks)')
    .argument('<slug>')
    .option('--json', 'print JSON')
    .action(async (slug: string, opts: { json?: boolean }) => {
      exit.code = await withContext(io, async (services) => {
        const tenant = await cloudTenant(services, slug);
        await report(io, services, tenant, await services.whatsappCloud.templates(tenant), opts.json, 'list');
        return 0;
      });
    });
}

async function cloudTenant(services: Services, slug: string): Promise<Tenant> {
  const { usesCloud } = await import('../../features/channels/whatsapp/cloud-transport.js');
  const tenant = await services.tenants.get(slug);
  if (!usesCloud(tenant)) {
    throw new NotConfiguredError(
      `tenant '${slug}' does not use the WhatsApp Cloud API (whatsapp.provider is ${tenant.settings.whatsapp?.provider ?? 'twilio'}): ` +
        `zia tenant update ${slug} --set whatsapp.provider=cloud --set whatsapp.phone_number_id=… --set whatsapp.waba_id=… --set whatsapp_access_token=…`,
    );
  }
  return tenant;
}

/** Meta's refusal (or no answer) as one line an operator can act on; anything else as it is. */
async function graphFailure(err: unknown, tenant: Tenant, what: string): Promise<unknown> {
  const [{ GraphError }, { networkReason }] = await Promise.all([import('../../features/channels/meta/graph-client.js'), import('../../features/diagnostics/webhook-diagnostics.js')]);
  if (!(err instanceof GraphError)) return err;
  if (err.info.network) return new UpstreamError(`could not reach the Graph API: ${networkReason(err)}`);
  const fix = err.info.code === 190 ? `; zia tenant update ${tenant.slug} --set whatsapp_access_token=…` : '';
  return new UpstreamError(`${what}: ${err.reason}${fix}`);
}

/** The templates, and the verdict on the configured one: exactly the check a send outside the window makes. */
async function report(io: CliIO, services: Services, tenant: Tenant, stored: StoredTemplate[], json: boolean | undefined, mode: 'sync' | 'list'): Promise<void> {
  const configured = tenant.settings.whatsapp?.template;
  const found = await services.whatsappCloud.outsideWindowTemplate(tenant);
  const usable = !('reason' in found);
  const syncedAt = stored.reduce<string | null>((latest, t) => (latest === null || t.syncedAt > latest ? t.syncedAt : latest), null);
  const wabaId = tenant.settings.whatsapp?.waba_id ?? null;
  if (json) {
    printJson(io, {
      tenant: tenant.slug,
      waba_id: wabaId,
      synced_at: syncedAt,
      templates: stored.map((t) => ({
        name: t.name,
        language: t.language,
        category: t.category,
        status: t.status,
        body_parameters: t.bodyParameters,
        template_id: t.templateId,
        body: t.body,
        synced_at: t.syncedAt,
        updated_at: t.updatedAt,
      })),
      outside_window: {
        template: configured ? { name: configured.name, language: configured.language, parameters: configured.parameters ?? null } : null,
        usable,
        reason: 'reason' in found ? found.reason : null,
      },
    });
    return;
  }
  const c = colors(io);
  if (mode === 'sync') println(io.stdout, `synced ${stored.length} template${stored.length === 1 ? '' : 's'} of WABA ${wabaId} for ${tenant.slug}`);
  else if (syncedAt === null) println(io.stdout, `no templates stored for ${tenant.slug}: run zia whatsapp templates sync ${tenant.slug}`);
  else println(io.stdout, `${stored.length} template${stored.length === 1 ? '' : 's'} of WABA ${wabaId} for ${tenant.slug}, synced ${syncedAt}`);
  if (stored.length > 0) {
    const headers = ['NAME', 'LANGUAGE', 'CATEGORY', 'STATUS', 'BODY PARAMETERS'];
    const rows = stored.map((t) => [t.name, t.language, t.category, t.status, t.bodyParameters]);
    // A template Meta changed since the sync (status or category webhook) says when.
    if (mode === 'list' && stored.some((t) => t.updatedAt !== t.syncedAt)) printTable(io, [...headers, 'CHANGED BY META'], stored.map((t, i) => [...rows[i]!, t.updatedAt !== t.syncedAt ? t.updatedAt : '']));
    else printTable(io, headers, rows);
  }
  const name = configured ? `${configured.name} (${configured.language})` : 'not set';
  if ('reason' in found) println(io.stdout, `whatsapp.template: ${name} — ${c.yellow('cannot be sent outside the 24-hour window')}: ${found.reason}`);
  else {
    const t = found.template;
    println(io.stdout, `whatsapp.template: ${name} — ${c.green('can be sent outside the 24-hour window')} (${t.status}, ${t.category}, ${t.bodyParameters} body parameter${t.bodyParameters === 1 ? '' : 's'} filled)`);
  }
}
