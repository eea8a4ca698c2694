import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { withContext } from '../context.js';
import { interactive, println, UsageError, type CliIO } from '../io.js';
import type { ExitHolder } from '../main.js';

interface InitOptions {
  force?: boolean;
  siteUrl?: string;
  demo?: boolean;
}

export function registerInit(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('init')
    .description('Write a .env with a generated ADMIN_KEY and ZIA_SECRET_KEY; optionally a demo tenant')
    .option('--force', 'overwrite an existing .env')
    .option('--site-url <url>', 'public base URL of this server')
    .option('--demo', 'also create a demo tenant')
    .action(async (opts: InitOptions) => {
      const file = path.join(io.cwd, '.env');
      if (existsSync(file) && !opts.force) throw new UsageError(`${file} exists; use --force to overwrite it`);
      let siteUrl = opts.siteUrl;
      let demo = opts.demo ?? false;
      let openaiKey: string | undefined;
      if (interactive(io)) {
        const { input, confirm, password } = await import('@inquirer/prompts');
        siteUrl ??= await input({ message: 'Public URL of this server:', default: 'http://localhost:8000' });
        openaiKey = (await password({ message: 'OpenAI API key (empty: offline answers from FAQ and catalog):', mask: '*' })) || undefined;
        if (opts.demo === undefined) demo = await confirm({ message: 'Create a demo tenant?', default: true });
      }
      siteUrl ??= 'http://localhost:8000';
      if (!/^https?:\/\/[^\s]+$/.test(siteUrl)) throw new UsageError(`--site-url must be an http(s) URL, got '${siteUrl}'`);
      const adminKey = randomBytes(24).toString('base64url');
      const lines = [
        '# Written by `zia init`. Keep this file private: it holds the keys below.',
        `ADMIN_KEY=${adminKey}`,
        `ZIA_SECRET_KEY=${randomBytes(32).toString('hex')}`,
        `SITE_URL=${siteUrl.replace(/\/+$/, '')}`,
        '# DATABASE_URL=postgres://user:pass@host:5432/zia   (unset: embedded SQLite in ./data)',
        openaiKey ? `OPENAI_API_KEY=${openaiKey}` : '# OPENAI_API_KEY=sk-...   (unset: the offline provider answers)',
        '',
      ];
      writeFileSync(file, lines.join('\n'), { mode: 0o600 });
      println(io.stdout, `wrote ${file}`);
      println(io.stdout, `admin key: ${adminKey}  (shown once; it is in .env)`);
      if (demo) {
        exit.code = await withContext(io, async ({ tenants }) => {
          const { tenant } = await tenants.upsert({
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
          println(io.stdout, `demo tenant ready: open ${siteUrl}/demo?tenant=${tenant.slug} after \`zia serve\``);
          return 0;
        });
      }
    });
}
