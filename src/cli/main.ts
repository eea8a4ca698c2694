import { Command, CommanderError } from 'commander';
import { connectionAdvice } from '../db/db-errors.js';
import { AppError, ConfigError, ValidationError } from '../errors.js';
import { packageVersion } from '../paths.js';
import { processIO, UsageError, type CliIO, type ExitHolder } from './io.js';
import { registerInit } from './commands/init.js';
import { registerMigrate } from './commands/migrate.js';
import { registerServe } from './commands/serve.js';
import { registerTenant } from './commands/tenant.js';
import { registerWorker } from './commands/worker.js';
import { registerLeads } from './commands/leads.js';
import { registerStats } from './commands/stats.js';
import { registerWebhooks } from './commands/webhooks.js';
import { registerCatalog } from './commands/catalog.js';
import { registerStripe } from './commands/stripe.js';
import { registerCheckout } from './commands/checkout.js';
import { registerConversations } from './commands/conversations.js';
import { registerInbox } from './commands/inbox.js';
import { registerBackup } from './commands/backup.js';
import { registerDoctor } from './commands/doctor.js';
import { registerCompletion } from './commands/completion.js';
import { registerKnowledge } from './commands/knowledge.js';
import { registerContacts } from './commands/contacts.js';
import { registerEval } from './commands/eval.js';
import { registerAudit } from './commands/audit.js';
import { registerUsage } from './commands/usage.js';
import { registerWhatsapp } from './commands/whatsapp.js';

/** The CLI as a table of contents: every command group is registered here and lives in commands/. */
export function createProgram(io: CliIO, exit: ExitHolder): Command {
  const program = new Command('zia')
    .description('Self-hosted, multi-tenant chatbot backend')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();

  registerServe(program, io, exit);
  registerWorker(program, io, exit);
  registerMigrate(program, io, exit);
  registerInit(program, io, exit);
  registerTenant(program, io, exit);
  registerLeads(program, io, exit);
  registerStats(program, io, exit);
  registerWebhooks(program, io, exit);
  registerCatalog(program, io, exit);
  registerKnowledge(program, io, exit);
  registerContacts(program, io, exit);
  registerEval(program, io, exit);
  registerUsage(program, io, exit);
  registerWhatsapp(program, io, exit);
  registerStripe(program, io, exit);
  registerCheckout(program, io, exit);
  registerConversations(program, io, exit);
  registerInbox(program, io, exit);
  registerAudit(program, io, exit);
  registerBackup(program, io, exit);
  registerDoctor(program, io, exit);
  registerCompletion(program, io, exit);

  applyToAll(program, (cmd) => cmd.exitOverride().configureOutput(program.configureOutput()));
  return program;
}

function applyToAll(cmd: Command, fn: (c: Command) => void): void {
  for (const sub of cmd.commands) {
    fn(sub);
    applyToAll(sub, fn);
  }
}

/** Runs the CLI; resolves to the exit code: 0 ok, 1 failure, 2 usage. Never calls process.exit. */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const exit: ExitHolder = { code: 0 };
  const program = createProgram(io, exit);
  try {
    await program.parseAsync(argv);
    return exit.code;
  } catch (err) {
    return reportError(io, err);
  }
}

export function reportError(io: CliIO, err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return 2; // commander already printed the one-line reason
  }
  const advice = connectionAdvice(err);
  if (advice) {
    io.stderr.write(`zia: ${advice}\n`);
    if (io.env.ZIA_DEBUG) io.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`zia: ${message.split('\n')[0]}\n`);
  if (err instanceof UsageError || err instanceof ValidationError) return 2;
  if (err instanceof ConfigError || err instanceof AppError) return 1;
  if (io.env.ZIA_DEBUG) io.stderr.write(`${(err as Error).stack}\n`);
  return 1;
}
