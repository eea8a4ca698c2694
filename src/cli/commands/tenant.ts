import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Services } from '../../container.js';
import type { Tenant } from '../../features/tenants/tenant-service.js';
import { z } from 'zod';
import { settingsSchema, slugSchema } from '../../features/tenants/tenant.schemas.js';
import { withContext } from '../context.js';
import { colors, interactive, printJson, println, printTable, UsageError, type CliIO } from '../io.js';
import type { ExitHolder } from '../main.js';
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
    .option('--set <key=value>', 'one setting (value parsed as JSON when it is JSON); repeatable', collect)
    .option('--json', 'print JSON')
    .action(async (slugArg: string | undefined, opts: WriteOptions) => {
      let slug = slugArg;
      let name = opts.name;
      if ((!slug || !name) && interactive(io)) {
        const { input } = await import('@inquirer/prompts');
        slug ??= await input({ message: 'Slug (lowercase, digits, hyphens):', validate: (v) => slugSchema.safeParse(v).success || 'lowercase letters, digits and hyphens' });
        name ??= await input({ message: 'Business name:', validate: (v) => v.trim().length > 0 || 'required' });
      }
      if (!slug) throw new UsageError('tenant create needs a slug (zia tenant create <slug> --name "…")');
      if (!name) throw new UsageError('tenant create needs --name');
      const settings = await readSettings(io, opts);
      exit.code = await withContext(io, async (services) => {
        if (await services.tenants.find(slug)) throw new UsageError(`tenant '${slug}' already exists; use \`zia tenant update ${slug}\``);
        const created = await services.tenants.create({ slug, name, whatsapp: opts.whatsapp, settings });
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
      const patch = await readSettings(io, opts);
      exit.code = await withContext(io, async (services) => {
        const current = await services.tenants.get(slug);
        const settings = patch && withNested(current, patch);
        const updated = await services.tenants.update(slug, { name: opts.name, whatsapp: opts.whatsapp, settings });
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
      exit.code = await withContext(io, async ({ tenants }) => {
        await tenants.get(slug);
        if (!opts.yes) {
          if (!interactive(io)) throw new UsageError(`refusing to delete '${slug}' without --yes (no TTY to ask on)`);
          const { confirm } = await import('@inquirer/prompts');
          if (!(await confirm({ message: `Delete tenant '${slug}' and everything it owns?`, default: false }))) {
            println(io.stderr, 'not deleted');
            return 1;
          }
        }
        await tenants.delete(slug);
        if (opts.json) printJson(io, { deleted: slug });
        else println(io.stdout, `deleted ${slug}`);
        return 0;
      });
    });
}

async function readSettings(io: CliIO, opts: WriteOptions): Promise<Record<string, unknown> | undefined> {
  let settings: Record<string, unknown> | undefined;
  if (opts.settings) {
    const text = opts.settings === '-' ? await readAll(io.stdin) : readFileOrFail(path.resolve(io.cwd, opts.settings));
    try {
      settings = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new UsageError(`--settings ${opts.settings}: not valid JSON`);
    }
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) throw new UsageError('--settings must be a JSON object');
  }
  for (const pair of opts.set ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects key=value, got '${pair}'`);
    const key = pair.slice(0, eq);
    settings = { ...settings, [key]: parseValue(key, pair.slice(eq + 1)) };
  }
  for (const key of opts.unset ?? []) settings = { ...settings, [key]: null };
  return settings;
}

/** `--set branding.color=#000` merges into the stored branding object instead of replacing it. */
function withNested(current: Tenant, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    const [head, ...rest] = key.split('.');
    if (rest.length === 0) {
      out[head!] = value;
      continue;
    }
    const base = (out[head!] ?? (current.settings as Record<string, unknown>)[head!] ?? {}) as Record<string, unknown>;
    out[head!] = setPath({ ...base }, rest, value);
  }
  return out;
}

function setPath(obj: Record<string, unknown>, keys: string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = keys;
  if (rest.length === 0) {
    if (value === null) delete obj[head!];
    else obj[head!] = value;
  } else obj[head!] = setPath({ ...((obj[head!] as Record<string, unknown>) ?? {}) }, rest, value);
  return obj;
}

/**
 * JSON where the value is JSON, except that digits stay text unless the setting is numeric: page and
 * account ids are long digit strings that a JSON number would round.
 */
function parseValue(key: string, raw: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return raw;
  }
  if (typeof value === 'number' && !isNumericSetting(key)) return raw;
  return value;
}

function isNumericSetting(key: string): boolean {
  const field = (settingsSchema.shape as Record<string, z.ZodType>)[key];
  if (!field) return true; // unknown keys are refused later with their name; keep the value as given
  const inner = field instanceof z.ZodOptional ? (field.unwrap() as z.ZodType) : field;
  return inner instanceof z.ZodNumber;
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
  return [t.fbPageId && 'facebook', t.igUserId && 'instagram', t.whatsappFrom && 'whatsapp'].filter(Boolean).join(',') || 'web';
}

function stripeState(t: Tenant): string {
  if (!t.stripeAccountId) return '-';
  return t.chargesEnabled ? 'charges on' : 'onboarding';
}
