import type { Command } from 'commander';
import { qrTerminal } from '../../features/payments/qr.js';
import { auditCli, withContext } from '../context.js';
import { colors, printJson, println, UsageError, type CliIO, type ExitHolder } from '../io.js';

interface OnboardOptions {
  qr?: boolean;
  json?: boolean;
  country?: string;
  email?: string;
}

export function registerStripe(program: Command, io: CliIO, exit: ExitHolder): void {
  const stripe = program.command('stripe').description('Stripe Connect: connect tenants so they can take payments');

  stripe
    .command('onboard')
    .description('Create the tenant\'s connected Stripe account (once) and print a single-use onboarding link')
    .argument('<slug>')
    .option('--qr', 'also print the link as a QR code in the terminal')
    .option('--country <cc>', 'the business\'s country (ISO 3166-1 alpha-2), when the account is created')
    .option('--email <email>', 'the business\'s email, when the account is created')
    .option('--json', 'print JSON')
    .action(async (slug: string, opts: OnboardOptions) => {
      if (opts.country !== undefined && !/^[A-Za-z]{2}$/.test(opts.country)) throw new UsageError(`--country must be a two-letter country code, got '${opts.country}'`);
      exit.code = await withContext(io, async (services) => {
        const tenant = await services.tenants.get(slug);
        const r = await services.payments.onboard(tenant, { country: opts.country?.toUpperCase(), email: opts.email });
        await auditCli(services, io, { action: 'stripe.onboarded', tenant, target: r.accountId });
        if (opts.json) {
          const { onboardingView } = await import('../../features/payments/payment-service.js');
          printJson(io, onboardingView(tenant, r));
        } else {
          const c = colors(io);
          println(io.stdout, `${r.accountCreated ? 'created' : 'using'} connected account ${r.accountId} for ${tenant.slug}`);
          println(io.stdout, `onboarding link (single use, expires ${new Date(r.expiresAt * 1000).toISOString()}):`);
          println(io.stdout, c.bold(r.url));
          println(io.stdout, r.chargesEnabled ? 'charges are already enabled' : 'charges switch on when Stripe sends account.updated (point the Connect webhook at /v1/stripe/webhook)');
        }
        if (opts.qr) (opts.json ? io.stderr : io.stdout).write(await qrTerminal(r.url));
        return 0;
      });
    });
}
