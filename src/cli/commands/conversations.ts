import type { Command } from 'commander';
import type { Services } from '../../container.js';
import type { Tenant } from '../../features/tenants/tenant-service.js';
import { auditCli, withContext } from '../context.js';
import { printJson, println, printTable, UsageError, type CliIO, type ExitHolder } from '../io.js';
import { printSendTable } from './sends-table.js';

/** The conversation's tenant, found from the id alone (the CLI acts with the admin's reach). */
async function ownerOf(s: Services, id: string): Promise<Tenant> {
  const tenantId = await s.handoff.tenantIdOf(id);
  if (!tenantId) {
    const { NotFoundError } = await import('../../errors.js');
    throw new NotFoundError(`conversation '${id}' not found`);
  }
  return s.tenants.getById(tenantId);
}

export function registerConversations(program: Command, io: CliIO, exit: ExitHolder): void {
  const conversations = program.command('conversations').description('Read conversations, pause/resume the bot, reply as an operator');

  conversations
    .command('list')
    .argument('[slug]', 'tenant (all tenants when omitted)')
    .option('--channel <channel>', 'web, messenger, instagram, whatsapp, fb_comment, ig_comment')
    .option('--paused', 'only conversations where the bot is paused')
    .option('--waiting', 'only customers waiting for a person, longest waiting first')
    .option('--limit <n>', 'rows per page (1-500)', '50')
    .option('--cursor <cursor>', 'continue from a previous page')
    .option('--json', 'print JSON')
    .description('Conversations, newest first')
    .action(async (slug: string | undefined, opts: { channel?: string; paused?: boolean; waiting?: boolean; limit: string; cursor?: string; json?: boolean }) => {
      const [{ conversationListQuery }, { parseInput }, { conversationView }] = await Promise.all([
        import('../../features/handoff/handoff.schemas.js'),
        import('../../validation.js'),
        import('../../features/handoff/handoff-routes.js'),
      ]);
      const q = parseInput(conversationListQuery, { tenant: slug, channel: opts.channel, paused: opts.paused ? 'true' : undefined, waiting: opts.waiting ? 'true' : undefined, limit: opts.limit, cursor: opts.cursor }, 'flags');
      exit.code = await withContext(io, async (s) => {
        const tenant = q.tenant ? await s.tenants.get(q.tenant) : undefined;
        const page = await s.handoff.list(tenant, { channel: q.channel, paused: q.paused, waiting: q.waiting, limit: q.limit, cursor: q.cursor });
        const rows = page.conversations.map(conversationView);
        if (opts.json) printJson(io, { conversations: rows, next_cursor: page.nextCursor });
        else {
          const bot = (c: (typeof rows)[number]) => `${c.bot_paused ? 'paused' : 'on'}${c.handoff_requested_at ? `, waiting since ${c.handoff_requested_at}` : ''}`;
          printTable(io, ['ID', 'UPDATED', 'CHANNEL', 'USER', 'NAME', 'BOT'], rows.map((c) => [c.id, c.updated_at, c.channel, c.external_user_id, c.user_name, bot(c)]));
          if (page.nextCursor) io.stderr.write(`more: --cursor ${page.nextCursor}\n`);
        }
        return 0;
      });
    });

  conversations
    .command('show')
    .argument('<id>', 'conversation id')
    .option('--messages <n>', 'latest messages to show (1-1000)', '50')
    .option('--json', 'print JSON')
    .description('One conversation and its latest messages')
    .action(async (id: string, opts: { messages: string; json?: boolean }) => {
      const n = Number(opts.messages);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError('--messages must be 1-1000');
      const [{ conversationView, messageView, authorOf }, { sendView }] = await Promise.all([import('../../features/handoff/handoff-routes.js'), import('../../features/channels/outbound-sends.js')]);
      exit.code = await withContext(io, async (s) => {
        const tenant = await ownerOf(s, id);
        const { conversation, messages } = await s.handoff.show(tenant, id, n);
        const doubts = (await s.sends.inDoubt(tenant.id, { conversationId: conversation.id })).map(sendView);
        if (opts.json) printJson(io, { conversation: conversationView(conversation), tenant: tenant.slug, messages: messages.map(messageView), sends_in_doubt: doubts });
        else {
          println(io.stdout, `${conversation.id}  ${tenant.slug}  ${conversation.channel}  ${conversation.externalUserId}  bot ${conversation.botPaused ? 'PAUSED' : 'on'}`);
          for (const m of messages) println(io.stdout, `${m.createdAt}  ${authorOf(m.role).padEnd(9)} ${m.text.replace(/\s+/g, ' ')}${m.deliveryStatus ? `  [${m.deliveryStatus}]` : ''}`);
          if (doubts.length > 0) {
            println(io.stdout);
            println(io.stdout, 'Replies in doubt (send one by hand: zia conversations resend <send id>):');
            printSendTable(io, doubts);
          }
        }
        return 0;
      });
    });

  for (const action of ['pause', 'resume'] as const) {
    conversations
      .command(action)
      .argument('<id>', 'conversation id')
      .option('--json', 'print JSON')
      .description(action === 'pause' ? 'Pause the bot: messages are stored, nothing is answered' : 'Let the bot answer again')
      .action(async (id: string, opts: { json?: boolean }) => {
        const { conversationView } = await import('../../features/handoff/handoff-routes.js');
        exit.code = await withContext(io, async (s) => {
          const tenant = await ownerOf(s, id);
          const c = await s.handoff.setPaused(tenant, id, action === 'pause', 'cli');
          await auditCli(s, io, { action: `conversation.${action}d`, tenant, target: id });
          if (opts.json) printJson(io, { conversation: conversationView(c) });
          else println(io.stdout, `${c.id}: bot ${c.botPaused ? 'paused' : 'on'}`);
          return 0;
        });
      });
  }

  conversations
    .command('reply')
    .argument('<id>', 'conversation id')
    .argument('[text...]', 'the message (or --text)')
    .option('--text <text>', 'the message')
    .option('--json', 'print JSON')
    .description("Reply as an operator on the conversation's own channel (sent by the worker of a running server)")
    .action(async (id: string, words: string[], opts: { text?: string; json?: boolean }) => {
      const text = (opts.text ?? words.join(' ')).trim();
      if (!text) throw new UsageError('give the reply text (zia conversations reply <id> "text" or --text)');
      const [{ operatorReplyBody }, { parseInput }] = await Promise.all([import('../../features/handoff/handoff.schemas.js'), import('../../validation.js')]);
      const body = parseInput(operatorReplyBody, { text }, 'flags');
      exit.code = await withContext(io, async (s) => {
        const tenant = await ownerOf(s, id);
        const r = await s.handoff.reply(tenant, id, body.text, 'cli');
        await auditCli(s, io, { action: 'conversation.replied', tenant, target: id, details: { message_id: r.messageId, channel: r.conversation.channel } });
        if (opts.json) printJson(io, { message_id: r.messageId, conversation_id: id, channel: r.conversation.channel, delivery: r.delivery });
        else println(io.stdout, `${r.messageId}: ${r.delivery === 'queued' ? `queued for ${r.conversation.channel}` : 'stored (web: shown in the conversation history)'}`);
        return 0;
      });
    });

  conversations
    .command('resend')
    .argument('<send-id>', 'a send in doubt (from zia conversations show or zia webhooks log)')
    .option('--json', 'print JSON')
    .description('Send a reply in doubt (held, uncertain) or a failed send again, now; refuses one already delivered')
    .action(async (sendId: string, opts: { json?: boolean }) => {
      const [{ sendParams }, { parseInput }, { sendView }] = await Promise.all([
        import('../../features/handoff/handoff.schemas.js'),
        import('../../validation.js'),
        import('../../features/channels/outbound-sends.js'),
      ]);
      const { id } = parseInput(sendParams, { id: sendId }, 'arguments');
      exit.code = await withContext(io, async (s) => {
        const r = await s.sends.resend(id, 'cli');
        await auditCli(s, io, { action: 'send.resent', tenant: { id: r.send.tenantId }, target: id });
        const v = sendView(r.send);
        if (opts.json) printJson(io, { send: v, provider_message_id: r.providerMessageId });
        else println(io.stdout, `${v.id}: sent on ${v.channel} to ${v.to ?? 'the recipient'} (provider message ${r.providerMessageId ?? 'unknown'}; re-sent ${v.resends}x)`);
        return 0;
      });
    });
}
