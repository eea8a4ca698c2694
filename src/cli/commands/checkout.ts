import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { linkView } from '../../features/payments/payment-service.js';
import { E164 } from '../../features/payments/payments.schemas.js';
import { qrPng, qrTerminal } from '../../features/payments/qr.js';
import { auditCli, withContext } from '../context.js';
import { colors, printJson, println, UsageError, type CliIO, type ExitHolder } from '../io.js';

interface CheckoutOptions {
  plan?: string;
  item?: string;
  qty?: string;
  qr?: boolean;
  png?: string;
  sendWa?: string;
  conversation?: string;
  email?: string;
  json?: boolean;
}

export function registerCheckout(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('checkout')
    .description('Create a Stripe Checkout link on the tenant\'s connected account, by plan or by catalog item')
    .argument('<slug>')
    .option('--plan <id>', 'a plan id from the tenant\'s settings (subscription)')
    .option('--item <id>', 'a catalog item id (one-time payment; price from the catalog)')
    .option('--qty <n>', 'quantity for --item, 1-99', '1')
    .option('--qr', 'print the link as a QR code in the terminal')
    .option('--png <file>', 'write the QR code as a PNG file')
    .option('--send-wa <e164>', 'send the link over WhatsApp to this +E.164 number')
    .option('--conversation <id>', 'the buyer\'s conversation id (client_reference_id)')
    .option('--email <email>', 'prefill the buyer\'s email')
    .option('--json', 'print JSON')
    .action(async (slug: string, opts: CheckoutOptions, cmd: Command) => {
      if (Boolean(opts.plan) === Boolean(opts.item)) throw new UsageError('give exactly one of --plan ID or --item ID');
      const qty = Number(opts.qty);
      if (!/^\d+$/.test(opts.qty ?? '') || qty < 1 || qty > 99) throw new UsageError(`--qty must be a whole number from 1 to 99, got '${opts.qty}'`);
      if (opts.plan && cmd.getOptionValueSource('qty') === 'cli') throw new UsageError('--qty applies to --item only');
      if (opts.sendWa !== undefined && !E164.test(opts.sendWa)) throw new UsageError(`--send-wa needs an E.164 number such as +4791234567, got '${opts.sendWa}'`);
      exit.code = await withContext(io, async (services) => {
        const { payments } = services;
        const tenant = await services.tenants.get(slug);
        const source = {
          plan_id: opts.plan,
          item_id: opts.item,
          quantity: opts.item ? qty : undefined,
          conversation_id: opts.conversation,
          customer_email: opts.email,
        };
        let messageId: string | undefined;
        let link;
        if (opts.sendWa) ({ link, messageId } = await payments.sendLink(tenant, opts.sendWa, source));
        else link = await payments.linkFor(tenant, source);
        await auditCli(services, io, { action: messageId ? 'checkout.sent' : 'checkout.created', tenant, target: link.orderId, details: { kind: link.kind, ...(messageId ? { message_id: messageId } : {}) } });
        let pngPath: string | undefined;
        if (opts.png) {
          pngPath = path.resolve(io.cwd, opts.png);
          writeFileSync(pngPath, await qrPng(link.url));
        }
        if (opts.json) {
          printJson(io, { ...linkView(link), ...(pngPath ? { png: pngPath } : {}), ...(messageId ? { sent_to: opts.sendWa, message_id: messageId } : {}) });
        } else {
          const c = colors(io);
          const price = payments.formatPrice(tenant, link.amount, link.currency);
          println(io.stdout, `${link.kind === 'plan' ? 'subscription' : 'payment'}: ${link.quantity > 1 ? `${link.quantity} × ` : ''}${link.name}, ${price}  (order ${link.orderId})`);
          println(io.stdout, c.bold(link.url));
          if (pngPath) println(io.stdout, `QR code written to ${pngPath}`);
          if (messageId) println(io.stdout, `sent to ${opts.sendWa} over WhatsApp (message ${messageId})`);
        }
        if (opts.qr) (opts.json ? io.stderr : io.stdout).write(await qrTerminal(link.url));
        return 0;
      });
    });
}
