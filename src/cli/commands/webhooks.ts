import type { Command } from 'commander';
import { auditCli, configFor, withContext } from '../context.js';
import { colors, printJson, println, printTable, UsageError, type CliIO, type ExitHolder } from '../io.js';
import { printSendTable } from './sends-table.js';

export function registerWebhooks(program: Command, io: CliIO, exit: ExitHolder): Command {
  const webhooks = program.command('webhooks').description('Where to point Meta, Twilio and Stripe; configuration check; delivery log, replay, signed samples');

  webhooks
    .command('urls')
    .argument('[slug]', 'tenant (adds ?tenant= where the provider needs it)')
    .option('--json', 'print JSON')
    .description('Exactly what to paste into Meta (Messenger, Instagram, WhatsApp Cloud API), Twilio and Stripe, built from SITE_URL')
    .action(async (slug: string | undefined, opts: { json?: boolean }) => {
      const { webhookUrls } = await import('../../features/diagnostics/webhook-diagnostics.js');
      const urls = webhookUrls(await configFor(io), slug);
      if (opts.json) printJson(io, urls);
      else {
        const c = colors(io);
        println(io.stdout, c.bold('Meta (App Dashboard → Webhooks, objects Page and Instagram)'));
        println(io.stdout, `  Callback URL   ${urls.meta.callback_url}`);
        println(io.stdout, `  Verify token   the value of META_VERIFY_TOKEN${urls.meta.verify_token_set ? '' : ' (not set!)'}`);
        println(io.stdout, `  Page fields    ${urls.meta.subscribe.page.join(', ')}`);
        println(io.stdout, `  IG fields      ${urls.meta.subscribe.instagram.join(', ')}`);
        println(io.stdout, c.bold('WhatsApp Cloud API (App Dashboard → WhatsApp → Configuration; the same app as above)'));
        println(io.stdout, `  Callback URL   ${urls.whatsapp_cloud.callback_url}`);
        println(io.stdout, `  Verify token   the value of META_VERIFY_TOKEN${urls.whatsapp_cloud.verify_token_set ? '' : ' (not set!)'}`);
        println(io.stdout, `  Object         ${urls.whatsapp_cloud.object}`);
        println(io.stdout, `  Fields         ${urls.whatsapp_cloud.fields.join(', ')}`);
        println(io.stdout, '  Then           subscribe the app to each WABA: POST /{waba-id}/subscribed_apps (zia webhooks check says which)');
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
    .description('Secrets present, tokens set, channel ids unique, Stripe onboarding state, WhatsApp Cloud API setup as Meta sees it; exit 1 on any error')
    .action(async (opts: { json?: boolean }) => {
      const { checkWebhooks } = await import('../../features/diagnostics/webhook-diagnostics.js');
      exit.code = await withContext(io, async ({ config, tenants, whatsappCloud }) => {
        const findings = await checkWebhooks(config, tenants, whatsappCloud.client);
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

  webhooks
    .command('log')
    .option('--provider <name>', 'meta, twilio, stripe, outbound')
    .option('--status <status>', 'received, processed, failed, ignored, dead, held')
    .option('--tenant <slug>', 'only this tenant')
    .option('--limit <n>', 'rows (1-1000)', '50')
    .option('--json', 'print JSON')
    .description('The delivery log, newest first: what arrived (or went out), what happened to it, and the replies in doubt')
    .action(async (opts: { provider?: string; status?: string; tenant?: string; limit: string; json?: boolean }) => {
      const [{ deliveryListQuerySchema }, { parseInput }, { deliveryView }, { sendView }] = await Promise.all([
        import('../../features/webhooks/webhook.schemas.js'),
        import('../../validation.js'),
        import('../../features/webhooks/webhook-routes.js'),
        import('../../features/channels/outbound-sends.js'),
      ]);
      const q = parseInput(deliveryListQuerySchema, { provider: opts.provider, status: opts.status, tenant: opts.tenant, limit: opts.limit }, 'flags');
      exit.code = await withContext(io, async (s) => {
        const tenant = q.tenant ? await s.tenants.get(q.tenant) : undefined;
        const rows = (await s.webhooks.list({ provider: q.provider, status: q.status, tenantId: tenant?.id, limit: q.limit })).map(deliveryView);
        const doubts = (await s.sends.inDoubt(tenant?.id, { limit: q.limit })).map(sendView);
        if (opts.json) printJson(io, { deliveries: rows, counts: await s.webhooks.countByStatus(), sends_in_doubt: doubts });
        else {
          printTable(io, ['ID', 'CREATED', 'PROVIDER', 'KIND', 'STATUS', 'TRIES', 'EXTERNAL ID', 'LAST ERROR'], rows.map((delivery) => [delivery.id, delivery.created_at, delivery.provider, delivery.kind, delivery.status, delivery.attempts, delivery.external_id, delivery.last_error?.slice(0, 80)]));
          if (doubts.length > 0) {
            println(io.stdout);
            println(io.stdout, `Replies in doubt (in flight at a crash or unanswered; ZIA_UNCERTAIN_SENDS=${s.config.ZIA_UNCERTAIN_SENDS}); send one by hand: zia conversations resend <send id>`);
            printSendTable(io, doubts);
          }
        }
        return 0;
      });
    });

  webhooks
    .command('replay')
    .argument('[id]', 'delivery id (from zia webhooks log)')
    .option('--dead', 'every dead delivery')
    .option('--provider <name>', 'with --dead: only this provider')
    .option('--json', 'print JSON')
    .description('Process a delivery again (queued for the worker of a running server)')
    .action(async (id: string | undefined, opts: { dead?: boolean; provider?: string; json?: boolean }) => {
      if (!id && !opts.dead) throw new UsageError('name a delivery id or pass --dead');
      if (id && opts.dead) throw new UsageError('pass either a delivery id or --dead, not both');
      if (opts.provider && !opts.dead) throw new UsageError('--provider goes with --dead');
      exit.code = await withContext(io, async (s) => {
        const ids = id ? [id] : (await s.webhooks.list({ status: 'dead', provider: opts.provider, limit: 1000 })).map((delivery) => delivery.id);
        const deliveries = [];
        for (const one of ids) deliveries.push(await s.webhooks.replay(one));
        const replayed = deliveries.map((d) => d.id);
        if (replayed.length > 0) {
          const tenantId = id ? deliveries[0]!.tenantId : null;
          await auditCli(s, io, { action: 'webhook.replayed', ...(tenantId ? { tenant: { id: tenantId } } : {}), target: id, details: { deliveries: replayed } });
        }
        if (opts.json) printJson(io, { replayed });
        else println(io.stdout, replayed.length === 0 ? 'nothing to replay' : `replayed ${replayed.length}: ${replayed.join(' ')}`);
        return 0;
      });
    });

  webhooks
    .command('simulate')
    .argument('<provider>', 'meta, whatsapp or stripe')
    .requiredOption('--tenant <slug>', 'the tenant the sample is for')
    .option('--text <text>', 'the message text', 'Hello from zia webhooks simulate')
    .option('--url <url>', 'base URL of the running server (default SITE_URL)')
    .option('--from <id>', 'sender: a PSID (meta), a phone number (whatsapp) or a user id (whatsapp, Cloud API)')
    .option('--order <id>', 'stripe: the order the sample checkout pays (default none: the event is recorded and ignored)')
    .option('--json', 'print JSON')
    .description('Send a correctly signed sample webhook to a running server (whatsapp: as Twilio or, for a Cloud API tenant, as Meta sends it)')
    .action(async (provider: string, opts: { tenant: string; text: string; url?: string; from?: string; order?: string; json?: boolean }) => {
      const { SIMULATED_PROVIDERS, buildSimulation, sendSimulation } = await import('../../features/diagnostics/webhook-simulator.js');
      if (!(SIMULATED_PROVIDERS as readonly string[]).includes(provider)) throw new UsageError(`provider must be one of ${SIMULATED_PROVIDERS.join(', ')}`);
      if (opts.url !== undefined && !/^https?:\/\/\S+$/.test(opts.url)) throw new UsageError('--url must be an http(s) URL');
      exit.code = await withContext(io, async (s) => {
        const tenant = await s.tenants.get(opts.tenant);
        const req = await buildSimulation(provider as (typeof SIMULATED_PROVIDERS)[number], s.config, s.tenants, {
          tenant,
          text: opts.text,
          baseUrl: opts.url ?? s.config.SITE_URL,
          ...(opts.from ? { from: opts.from } : {}),
          ...(opts.order ? { orderId: opts.order } : {}),
        });
        const res = await sendSimulation(req);
        const ok = res.status >= 200 && res.status < 300;
        await auditCli(s, io, { action: 'webhook.simulated', tenant, target: req.externalId, details: { provider, status: res.status } });
        if (opts.json) printJson(io, { provider, url: req.url, external_id: req.externalId, status: res.status, ok, response: res.body });
        else println(ok ? io.stdout : io.stderr, `${provider}: POST ${req.url} → HTTP ${res.status}${ok ? '' : ` ${res.body.slice(0, 200)}`} (external id ${req.externalId}; see zia webhooks log)`);
        return ok ? 0 : 1;
      });
    });

  return webhooks;
}
