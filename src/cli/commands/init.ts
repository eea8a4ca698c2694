import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { auditCli, withContext } from '../context.js';
import { interactive, println, UsageError, type CliIO, type ExitHolder } from '../io.js';
import type { InitValues } from '../env-file.js';

interface InitOptions {
  force?: boolean;
  siteUrl?: string;
  demo?: boolean;
}

export function registerInit(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('init')
    .description('Write a .env with a generated ADMIN_KEY and ZIA_SECRET_KEY; optionally a demo tenant')
    .option('--force', 'new keys in an existing .env (other lines kept; the old ZIA_SECRET_KEY kept as ZIA_SECRET_KEY_PREVIOUS)')
    .option('--site-url <url>', 'public base URL of this server')
    .option('--demo', 'also create a demo tenant')
    .action(async (opts: InitOptions) => {
      const file = path.join(io.cwd, '.env');
      if (existsSync(file) && !opts.force) throw new UsageError(`${file} exists; use --force to overwrite it`);
      const { freshEnv, parseEnvFile, rewriteEnv } = await import('../env-file.js');
      const existing = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      const before = existing === undefined ? {} : parseEnvFile(existing);
      let siteUrl = opts.siteUrl;
      let demo = opts.demo ?? false;
      let openaiKey: string | undefined;
      if (interactive(io)) {
        const { input, confirm, password } = await import('@inquirer/prompts');
        siteUrl ??= await input({ message: 'Public URL of this server:', default: before.SITE_URL ?? 'http://localhost:8000' });
        openaiKey = (await password({ message: 'OpenAI API key (empty: offline answers from FAQ and catalog):', mask: '*' })) || undefined;
        if (opts.demo === undefined) demo = await confirm({ message: 'Create a demo tenant?', default: true });
      }
      siteUrl ??= before.SITE_URL ?? 'http://localhost:8000';
      if (!/^https?:\/\/[^\s]+$/.test(siteUrl)) throw new UsageError(`--site-url must be an http(s) URL, got '${siteUrl}'`);
      const adminKey = randomBytes(24).toString('base64url');
      const values: InitValues = {
        ADMIN_KEY: adminKey,
        ZIA_SECRET_KEY: randomBytes(32).toString('hex'),
        SITE_URL: siteUrl.replace(/\/+$/, ''),
      };
      // A key an operator keeps in a file (ADMIN_KEY_FILE, ZIA_SECRET_KEY_FILE) is theirs to rotate.
      for (const key of ['ADMIN_KEY', 'ZIA_SECRET_KEY'] as const) if (before[`${key}_FILE`]) delete values[key];
      if (openaiKey) values.OPENAI_API_KEY = openaiKey;
      const { text, keptKey } = existing === undefined ? { text: freshEnv(values), keptKey: false } : rewriteEnv(existing, values);
      writeFileSync(file, text, { mode: 0o600 });
      println(io.stdout, `wrote ${file}`);
      if (values.ADMIN_KEY) println(io.stdout, `admin key: ${adminKey}  (shown once; it is in .env)`);
      if (keptKey) println(io.stdout, 'the old ZIA_SECRET_KEY moved to ZIA_SECRET_KEY_PREVIOUS: stored tenant secrets stay readable and are re-encrypted when a tenant is next saved');
      if (demo) {
        exit.code = await withContext(io, async (services) => {
          const { tenants } = services;
          const before = await tenants.findStored('demo');
          const { tenant, created } = await tenants.upsert({
            slug: 'demo',
            name: 'Demo Coffee Roasters',
            settings: {
              tone: 'warm, brief and helpful',
              policies: 'Orders ship within 2 business days. Returns accepted within 30 days of delivery.',
              faq: [
                { q: 'What are your opening hours?', a: 'We are open Monday to Friday, 8am to 6pm, and Saturdays 9am to 2pm.' },
                { q: 'Do you ship internationally?', a: 'Yes, we ship to most of Europe and North America; delivery takes 3 to 7 days.' },
                { q: 'What is your return policy?', a: 'Unopened bags can be returned within 30 days of delivery for a full refund.' },
              ],
              lead: { mode: 'intent', form_enabled: true },
            },
          });
          const { tenantChanges } = await import('../../features/audit/tenant-changes.js');
          await auditCli(services, io, { action: created ? 'tenant.created' : 'tenant.updated', tenant, target: tenant.slug, details: tenantChanges(tenants, before, tenant) });
          println(io.stdout, `demo tenant ready: open ${siteUrl}/demo?tenant=${tenant.slug} after \`zia serve\``);
          return 0;
        }, { create: true });
      }
    });
}
