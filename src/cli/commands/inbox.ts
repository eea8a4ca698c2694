import type { Command } from 'commander';
import { withContext } from '../context.js';
import type { CliIO, ExitHolder } from '../io.js';

export function registerInbox(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('inbox')
    .argument('[slug]', 'tenant (all tenants when omitted)')
    .option('--json', 'no console: print each feed event as one line of JSON until stopped (for scripts)')
    .description('Live console for operators: customers waiting for a person first, messages on every channel as they arrive; open one, read it, reply, pause, hand back to the bot')
    .action(async (slug: string | undefined, opts: { json?: boolean }) => {
      exit.code = await withContext(io, async (s) => {
        const tenant = slug ? await s.tenants.get(slug) : undefined;
        const { InboxConsole } = await import('../inbox-console.js');
        const inbox = new InboxConsole(s, io, tenant);
        return opts.json ? inbox.runJson() : inbox.run();
      });
    });
}
