import type { Command } from 'commander';
import { checkWebhooks, webhookUrls } from '../../features/diagnostics/webhook-diagnostics.js';
import { configFor, withContext } from '../context.js';
import { colors, printJson, println, type CliIO } from '../io.js';
import type { ExitHolder } from '../main.js';

export function registerWebhooks(program: Command, io: CliIO, exit: ExitHolder): Command {
  const webhooks = program.command('webhooks').description('Where to point Meta, Twilio and Stripe; configuration check; delivery log');

  webhooks
    .command('urls')
    .argument('[slug]', 'tenant (adds ?tenant= where the provider needs it)')
    .option('--json', 'print JSON')
    .description('Exactly what to paste into Meta, Twilio and Stripe, built from SITE_URL')
    .action(async (slug: string | undefined, opts: { json?: boolean }) => {
      const urls = webhookUrls(configFor(io), slug);
      if (opts.json) printJson(io, urls);
      else {
        const c = colors(io);
        println(io.stdout, c.bold('Meta (App Dashboard → Webhooks, objects Page and Instagram)'));
        println(io.stdout, `  Callback URL   ${urls.meta.callback_url}`);
        println(io.stdout, `  Verify token   the value of META_VERIFY_TOKEN${urls.meta.verify_token_set ? '' : ' (not set!)'}`);
        println(io.stdout, `  Page fields    ${urls.meta.subscribe.page.join(', ')}`);
        println(io.stdout, `  IG fields      ${urls.meta.subscribe.instagram.join(', ')}`);
        println(io.stdout, c.bold('Twilio (WhatsApp sender → "A message comes in", HTTP POST)'));
        println(io.stdout, `  Incoming       ${urls.twilio.incoming_url}`);
        println(io.stdout, `  Status         ${urls.twilio.status_callback_url}  (zia sets it on every send)`);
        println(io.stdout, c.bold('Stripe (Dashboard → Webhooks → endpoint listening to events on Connected accounts)'));
        println(io.stdout, `  Endpoint URL   ${urls.stripe.endpoint_url}`);
        println(io.stdout, `  Events         ${urls.stripe.events.join(', ')}`);
      }
      exit.code = 0;
    });

  webhooks
    .command('check')
    .option('--json', 'print JSON')
    .description('Secrets present, tokens set, channel ids unique, Stripe onboarding state; exit 1 on any error')
    .action(async (opts: { json?: boolean }) => {
      exit.code = await withContext(io, async ({ config, tenants }) => {
        const findings = await checkWebhooks(config, tenants);
        const errors = findings.filter((f) => f.level === 'error').length;
        if (opts.json) printJson(io, { ok: errors === 0, findings });
        else if (findings.length === 0) println(io.stdout, 'ok: webhooks are configured');
        else {
          const c = colors(io);
          for (const f of findings) {
            const tag = f.level === 'error' ? c.red('error') : c.yellow('warning');
            println(io.stdout, `${tag} ${f.subject}: ${f.problem} — fix: ${f.fix}`);
          }
        }
        return errors > 0 ? 1 : 0;
      });
    });

  return webhooks;
}
