import type { Command } from 'commander';
import { auditCli, withContext } from '../context.js';
import { printJson, println, printTable, type CliIO, type ExitHolder } from '../io.js';

/** `zia tenant key create|list|revoke <slug>`: keys scoped to one tenant's data. */
export function registerTenantKey(tenant: Command, io: CliIO, exit: ExitHolder): void {
  const key = tenant.command('key').description("Keys that reach only one tenant's leads, conversations and analytics");

  key
    .command('create')
    .argument('<slug>')
    .option('--name <name>', 'what the key is for', 'api key')
    .option('--json', 'print JSON')
    .description('Create a key; it is shown once and stored only as a hash')
    .action(async (slug: string, opts: { name: string; json?: boolean }) => {
      exit.code = await withContext(io, async (s) => {
        const tenant = await s.tenants.get(slug);
        const { key: value, record } = await s.apiKeys.create(tenant, opts.name);
        await auditCli(s, io, { action: 'key.created', tenant, target: record.id, details: { name: record.name } });
        if (opts.json) printJson(io, { key: value, id: record.id, prefix: record.prefix, name: record.name });
        else {
          println(io.stdout, value);
          println(io.stderr, `key ${record.prefix} for ${slug}: copy it now, it is not shown again`);
        }
        return 0;
      });
    });

  key
    .command('list')
    .argument('<slug>')
    .option('--json', 'print JSON')
    .description("List a tenant's keys (prefix, name, last use)")
    .action(async (slug: string, opts: { json?: boolean }) => {
      exit.code = await withContext(io, async ({ tenants, apiKeys }) => {
        const keys = await apiKeys.list(await tenants.get(slug));
        if (opts.json) printJson(io, keys);
        else printTable(io, ['ID', 'PREFIX', 'NAME', 'CREATED', 'LAST USED', 'REVOKED'], keys.map((k) => [k.id, k.prefix, k.name, k.createdAt, k.lastUsedAt, k.revokedAt]));
        return 0;
      });
    });

  key
    .command('revoke')
    .argument('<slug>')
    .argument('<key>', 'key id or prefix')
    .option('--json', 'print JSON')
    .description('Revoke a key at once')
    .action(async (slug: string, id: string, opts: { json?: boolean }) => {
      exit.code = await withContext(io, async (s) => {
        const tenant = await s.tenants.get(slug);
        await s.apiKeys.revoke(tenant, id);
        await auditCli(s, io, { action: 'key.revoked', tenant, target: id });
        if (opts.json) printJson(io, { revoked: id });
        else println(io.stdout, `revoked ${id}`);
        return 0;
      });
    });
}
