import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Identifier } from '../../features/contacts/contacts.schemas.js';
import { auditCli, withContext } from '../context.js';
import { colors, interactive, outputFile, printJson, println, printTable, UsageError, type CliIO, type ExitHolder } from '../io.js';

interface IdentifierFlags {
  email?: string;
  phone?: string;
  psid?: string;
  visitor?: string;
}

const KINDS = ['email', 'phone', 'psid', 'visitor'] as const;

function withIdentifierFlags(cmd: Command): Command {
  return cmd
    .argument('<slug>')
    .option('--email <email>', 'the email they gave (leads, orders)')
    .option('--phone <number>', 'their WhatsApp number, +E.164')
    .option('--psid <id>', 'their Messenger, Instagram or comment user id')
    .option('--visitor <id>', "the web widget's visitor id");
}

/** Exactly one identifier flag, checked as the API checks it (exit 2 otherwise). */
async function identifierFrom(opts: IdentifierFlags): Promise<Identifier> {
  const given = KINDS.filter((k) => opts[k] !== undefined);
  if (given.length !== 1) throw new UsageError(`give exactly one of --email, --phone, --psid, --visitor${given.length > 1 ? ` (got ${given.map((k) => `--${k}`).join(', ')})` : ''}`);
  const kind = given[0]!;
  const { identifierSchemas } = await import('../../features/contacts/contacts.schemas.js');
  const parsed = identifierSchemas[kind].safeParse(opts[kind]);
  if (!parsed.success) throw new UsageError(`--${kind}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return { kind, value: parsed.data };
}

const label = (id: Identifier) => `${id.kind} ${id.value}`;

export function registerContacts(program: Command, io: CliIO, exit: ExitHolder): void {
  const contacts = program.command('contacts').description("A person's data in one tenant: find it, export it, erase it");

  withIdentifierFlags(contacts.command('find').description("A person's conversations, leads and orders"))
    .option('--json', 'print JSON')
    .action(async (slug: string, opts: IdentifierFlags & { json?: boolean }) => {
      const id = await identifierFrom(opts);
      exit.code = await withContext(io, async (s) => {
        const { foundView } = await import('../../features/contacts/contact-views.js');
        const view = foundView(id, await s.contacts.find(await s.tenants.get(slug), id));
        if (opts.json) printJson(io, view);
        else printFound(io, id, view);
        return 0;
      });
    });

  withIdentifierFlags(contacts.command('export').description('Everything held about a person, as one JSON document'))
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--force', 'replace the file if it exists')
    .action(async (slug: string, opts: IdentifierFlags & { output?: string; force?: boolean }) => {
      const id = await identifierFrom(opts);
      const target = outputFile(io, opts.output, opts.force);
      exit.code = await withContext(io, async (s) => {
        const { exportView } = await import('../../features/contacts/contact-views.js');
        const tenant = await s.tenants.get(slug);
        const text = `${JSON.stringify(exportView(tenant.slug, id, await s.contacts.export(tenant, id)), null, 2)}\n`;
        await auditCli(s, io, { action: 'contact.exported', tenant, details: { identified_by: id.kind, to: target ? 'file' : 'stdout' } });
        if (!target) io.stdout.write(text);
        else {
          await writeFile(target, text, { mode: 0o600 });
          println(io.stderr, `wrote ${opts.output}`);
        }
        return 0;
      });
    });

  withIdentifierFlags(contacts.command('erase').description('Erase a person: messages and leads deleted, the rest kept under a pseudonym with nothing personal left'))
    .option('-y, --yes', 'do not ask for confirmation (required without a TTY)')
    .option('--json', 'print JSON')
    .action(async (slug: string, opts: IdentifierFlags & { yes?: boolean; json?: boolean }) => {
      const id = await identifierFrom(opts);
      exit.code = await withContext(io, async (s) => {
        const tenant = await s.tenants.get(slug);
        if (!opts.yes) {
          if (!interactive(io)) throw new UsageError(`refusing to erase ${label(id)} without --yes (no TTY to ask on)`);
          const found = await s.contacts.find(tenant, id);
          const { confirm } = await import('@inquirer/prompts');
          const what = `${found.conversations.length} conversations, ${found.leads.length} leads, ${found.orders.length} orders`;
          if (!(await confirm({ message: `Erase ${label(id)} from ${slug} (${what})? This cannot be undone.`, default: false }))) return 1;
        }
        const { erasedView } = await import('../../features/contacts/contact-views.js');
        const view = erasedView(await s.contacts.erase(tenant, id));
        // The erasure and its pseudonym, never the identifier it was asked for.
        await auditCli(s, io, { action: 'contact.erased', tenant, target: view.id, details: { identified_by: id.kind, reference: view.reference } });
        if (opts.json) printJson(io, view);
        else printErased(io, id, view);
        return 0;
      });
    });
}

type Found = ReturnType<typeof import('../../features/contacts/contact-views.js').foundView>;
type Erased = ReturnType<typeof import('../../features/contacts/contact-views.js').erasedView>;

function printFound(io: CliIO, id: Identifier, f: Found): void {
  const c = colors(io);
  if (f.conversations.length + f.leads.length + f.orders.length === 0) {
    println(io.stdout, `nothing held about ${label(id)}`);
    return;
  }
  println(io.stdout, c.bold('conversations'));
  printTable(io, ['ID', 'CHANNEL', 'CREATED', 'LAST ACTIVITY', 'MESSAGES'], f.conversations.map((x) => [x.id, x.channel, x.created_at, x.updated_at, x.messages]));
  println(io.stdout);
  println(io.stdout, c.bold('leads'));
  printTable(io, ['ID', 'EMAIL', 'NAME', 'WHATSAPP', 'CREATED'], f.leads.map((l) => [l.id, l.email, l.name, l.whatsapp, l.created_at]));
  println(io.stdout);
  println(io.stdout, c.bold('orders'));
  printTable(io, ['ID', 'STATUS', 'AMOUNT', 'CURRENCY', 'CREATED', 'PAID'], f.orders.map((o) => [o.id, o.status, o.amount, o.currency, o.created_at, o.paid_at]));
}

function printErased(io: CliIO, id: Identifier, e: Erased): void {
  if (e.nothing_found) {
    println(io.stdout, `nothing held about ${label(id)}; the request is recorded as erasure ${e.id}`);
    return;
  }
  const parts = Object.entries(e.counts).map(([table, n]) => (n.deleted !== undefined ? `${table} ${n.deleted} deleted` : `${table} ${n.changed} pseudonymised`));
  println(io.stdout, `erased ${label(id)} as ${e.reference} (erasure ${e.id})`);
  println(io.stdout, `  ${parts.join(', ')}`);
}
