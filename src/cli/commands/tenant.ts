import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Services } from '../../container.js';
import type { Tenant } from '../../features/tenants/tenant-service.js';
import { auditCli, withContext } from '../context.js';
import { colors, interactive, printJson, println, printTable, UsageError, type CliIO, type ExitHolder } from '../io.js';
import { registerTenantKey } from './tenant-key.js';

interface WriteOptions {
  name?: string;
  whatsapp?: string;
  settings?: string;
  set?: string[];
  unset?: string[];
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerTenant(program: Command, io: CliIO, exit: ExitHolder): void {
  const tenant = program.command('tenant').description('Create, inspect, change and delete tenants');
  registerTenantKey(tenant, io, exit);

  tenant
    .command('list')
    .description('List tenants')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      exit.code = await withContext(io, async ({ tenants }) => {
        const all = await tenants.list();
        if (opts.json) printJson(io, all.map((t) => tenants.view(t)));
        else if (all.length === 0) println(io.stdout, 'no tenants yet: create one with `zia tenant create <slug> --name "…"`');
        else printTable(io, ['SLUG', 'NAME', 'CHANNELS', 'STRIPE', 'UPDATED'], all.map((t) => [t.slug, t.name, channelsOf(t), stripeState(t), t.updatedAt]));
        return 0;
      });
    });

  tenant
    .command('show')
    .description('Show one tenant (secrets redacted)')
    .argument('<slug>')
    .option('--json', 'print JSON')
    .action(async (slug: string, opts: { json?: boolean }) => {
      exit.code = await withContext(io, async ({ tenants }) => {
        const view = tenants.view(await tenants.get(slug));
        if (opts.json) printJson(io, view);
        else printTenant(io, view);
        return 0;
      });
    });

  tenant
    .command('create')
    .description('Create a tenant (prompts for what is missing on a TTY)')
    .argument('[slug]')
    .option('--name <name>', 'display name')
    .option('--whatsapp <e164>', 'business WhatsApp number, +E.164')
    .option('--settings <file>', 'settings as a JSON file, or - for stdin')
    .option('--set <key=value>', 'one setting (dotted keys reach into objects); repeatable', collect)
    .option('--json', 'print JSON')
    .action(async (slugArg: string | undefined, opts: WriteOptions) => {
      let slug = slugArg;
      let name = opts.name;
      if ((!slug || !name) && interactive(io)) {
        const { input } = await import('@inquirer/prompts');
        const { slugSchema } = await import('../../features/tenants/tenant.schemas.js');
        slug ??= await input({ message: 'Slug (lowercase, digits, hyphens):', validate: (v) => slugSchema.safeParse(v).success || 'lowercase letters, digits and hyphens' });
        name ??= await input({ message: 'Business name:', validate: (v) => v.trim().length > 0 || 'required' });
      }
      if (!slug) throw new UsageError('tenant create needs a slug (zia tenant create <slug> --name "…")');
      if (!name) throw new UsageError('tenant create needs --name');
      // The same schema as POST /v1/tenants: a slug the public routes would refuse is refused here.
      const [{ parseInput }, { tenantCreateSchema }] = await Promise.all([import('../../validation.js'), import('../../features/tenants/tenant.schemas.js')]);
      const input = parseInput(tenantCreateSchema, { slug, name, whatsapp: opts.whatsapp, settings: await readSettings(io, opts) });
      exit.code = await withContext(io, async (services) => {
        if (await services.tenants.find(input.slug)) throw new UsageError(`tenant '${input.slug}' already exists; use \`zia tenant update ${input.slug}\``);
        const created = await services.tenants.create(input);
        await auditTenant(io, services, 'tenant.created', undefined, created);
        return report(io, services, created, opts.json, 'created');
      });
    });

  tenant
    .command('update')
    .description('Change a tenant: settings keys are merged; --unset removes one')
    .argument('<slug>')
    .option('--name <name>', 'display name')
    .option('--whatsapp <e164>', 'business WhatsApp number, +E.164')
    .option('--settings <file>', 'settings to merge, as a JSON file, or - for stdin')
    .option('--set <key=value>', 'one setting (dotted keys reach into objects); repeatable', collect)
    .option('--unset <key>', 'remove a setting; repeatable', collect)
    .option('--json', 'print JSON')
    .action(async (slug: string, opts: WriteOptions) => {
      const [{ parseInput }, { tenantUpdateSchema }] = await Promise.all([import('../../validation.js'), import('../../features/tenants/tenant.schemas.js')]);
      const input = parseInput(tenantUpdateSchema, { name: opts.name, whatsapp: opts.whatsapp, settings: await readSettings(io, opts) });
      exit.code = await withContext(io, async (services) => {
        const before = await services.tenants.findStored(slug);
        const updated = await services.tenants.update(slug, input);
        await auditTenant(io, services, 'tenant.updated', before, updated);
        return report(io, services, updated, opts.json, 'updated');
      });
    });

  tenant
    .command('delete')
    .description('Delete a tenant and all its conversations, leads, orders and events')
    .argument('<slug>')
    .option('-y, --yes', 'do not ask for confirmation (required without a TTY)')
    .option('--json', 'print JSON')
    .action(async (slug: string, opts: { yes?: boolean; json?: boolean }) => {
      exit.code = await withContext(io, async (services) => {
        const { tenants } = services;
        const doomed = await tenants.get(slug);
        if (!opts.yes) {
          if (!interactive(io)) throw new UsageError(`refusing to delete '${slug}' without --yes (no TTY to ask on)`);
          const { confirm } = await import('@inquirer/prompts');
          if (!(await confirm({ message: `Delete tenant '${slug}' and everything it owns?`, default: false }))) {
            println(io.stderr, 'not deleted');
            return 1;
          }
        }
        await tenants.delete(slug);
        await auditCli(services, io, { action: 'tenant.deleted', tenant: doomed, target: slug });
        if (opts.json) printJson(io, { deleted: slug });
        else println(io.stdout, `deleted ${slug}`);
        return 0;
      });
    });
}

async function readSettings(io: CliIO, opts: WriteOptions): Promise<Record<string, unknown> | undefined> {
  const numeric = await numericSettings();
  let settings: Record<string, unknown> | undefined;
  if (opts.settings) settings = await readSettingsFile(io, opts.settings, '--settings');
  for (const pair of opts.set ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects key=value, got '${pair}'`);
    const key = pair.slice(0, eq);
    settings = { ...settings, [key]: parseValue(pair.slice(eq + 1), numeric(key)) };
  }
  for (const key of opts.unset ?? []) settings = { ...settings, [key]: null };
  return settings;
}

/**
 * JSON where the value is JSON, except that digits stay text unless the setting is numeric: page and
 * account ids are long digit strings that a JSON number would round.
 */
function parseValue(raw: string, numeric: boolean): unknown {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return raw;
  }
  return typeof value === 'number' && !numeric ? raw : value;
}

async function numericSettings(): Promise<(key: string) => boolean> {
  const [{ z }, { settingsSchema }] = await Promise.all([import('zod'), import('../../features/tenants/tenant.schemas.js')]);
  type Zod = import('zod').ZodType;
  const unwrap = (field: Zod): Zod => {
    let inner = field;
    while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable || inner instanceof z.ZodPipe) {
      inner = (inner instanceof z.ZodPipe ? inner.in : inner.unwrap()) as Zod;
    }
    return inner;
  };
  return (key) => {
    // A dotted key (`plans.0.amount`) is looked up through the nested objects and arrays.
    let field: Zod | undefined = settingsSchema;
    for (const segment of key.split('.')) {
      const inner: Zod | undefined = field && unwrap(field);
      if (inner instanceof z.ZodObject) field = (inner.shape as Record<string, Zod>)[segment];
      else if (inner instanceof z.ZodArray) field = inner.element as Zod;
      else if (inner instanceof z.ZodRecord) field = inner.valueType as Zod;
      else field = undefined;
    }
    if (!field) return true; // unknown keys are refused later with their name; keep the value as given
    return unwrap(field) instanceof z.ZodNumber;
  };
}

/** A JSON object of settings from a file (or stdin for `-`), as `--settings` takes them. */
export async function readSettingsFile(io: CliIO, file: string, flag: string): Promise<Record<string, unknown>> {
  const text = file === '-' ? await readAll(io.stdin) : readFileOrFail(path.resolve(io.cwd, file));
  let settings: unknown;
  try {
    settings = JSON.parse(text);
  } catch {
    throw new UsageError(`${flag} ${file}: not valid JSON`);
  }
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) throw new UsageError(`${flag} must be a JSON object`);
  return settings as Record<string, unknown>;
}

function readFileOrFail(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The audit entry names the fields and settings changed, never their values. */
async function auditTenant(io: CliIO, services: Services, action: string, before: Tenant | undefined, after: Tenant): Promise<void> {
  const { tenantChanges } = await import('../../features/audit/tenant-changes.js');
  await auditCli(services, io, { action, tenant: after, target: after.slug, details: tenantChanges(services.tenants, before, after) });
}

function report(io: CliIO, services: Services, tenant: Tenant, json: boolean | undefined, verb: string): number {
  const view = services.tenants.view(tenant);
  if (json) printJson(io, view);
  else {
    println(io.stdout, `${verb} ${tenant.slug}`);
    printTenant(io, view);
  }
  return 0;
}

function printTenant(io: CliIO, view: ReturnType<Services['tenants']['view']>): void {
  const c = colors(io);
  println(io.stdout, `${c.bold(view.name)} (${view.slug})  id ${view.id}`);
  if (view.whatsapp) println(io.stdout, `whatsapp: ${view.whatsapp}`);
  println(io.stdout, `stripe: ${view.stripe.account_id ?? 'not connected'}${view.stripe.charges_enabled ? ', charges enabled' : ''}`);
  println(io.stdout, 'settings:');
  for (const line of JSON.stringify(view.settings, null, 2).split('\n')) println(io.stdout, `  ${line}`);
}

function channelsOf(t: Tenant): string {
  return [t.fbPageId && 'facebook', t.igUserId && 'instagram', (t.whatsappFrom || t.waPhoneNumberId) && 'whatsapp'].filter(Boolean).join(',') || 'web';
}

function stripeState(t: Tenant): string {
  if (!t.stripeAccountId) return '-';
  return t.chargesEnabled ? 'charges on' : 'onboarding';
}
