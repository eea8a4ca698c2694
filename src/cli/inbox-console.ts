import readline from 'node:readline';
import type { Services } from '../container.js';
import type { ConversationRecord } from '../features/chat/chat.types.js';
import type { FeedItem } from '../features/handoff/conversation-feed.js';
import { authorOf, feedViewer } from '../features/handoff/handoff-routes.js';
import type { Tenant } from '../features/tenants/tenant-service.js';
import { isAppError } from '../errors.js';
import { auditCli, cliUser } from './context.js';
import { colors, println, type CliIO } from './io.js';

const HELP = [
  'Type a reply to send it in the open conversation, on its own channel. Commands:',
  '  /list            customers waiting for a person, then recent conversations',
  '  /open N          open conversation #N (or an id): its latest messages',
  '  /pause           keep the bot quiet in the open conversation',
  '  /resume          hand the open conversation back to the bot',
  '  /close           close the open conversation',
  '  /quit            leave (Ctrl-C, Ctrl-D)',
];

interface Known {
  record: ConversationRecord;
  tenant: Tenant;
}

/**
 * `zia inbox`: the operator's console on the live feed. Line-oriented (no full-screen drawing), so it
 * works over SSH in a plain 80×24 terminal and in a pipe: feed lines are printed above the prompt,
 * conversations get short numbers (#1, #2…) for this session, and a line that is not a command is a
 * reply to the open conversation.
 */
export class InboxConsole {
  private readonly numbers = new Map<string, number>();
  private readonly ids: string[] = [];
  private readonly known = new Map<string, Known>();
  private selected: Known | undefined;
  private rl: readline.Interface | undefined;
  private readonly c;
  private readonly by: string;

  constructor(
    private readonly s: Services,
    private readonly io: CliIO,
    private readonly tenant: Tenant | undefined,
  ) {
    this.c = colors(io);
    this.by = `cli:${cliUser(io)}`;
  }

  /** --json: each feed event as one line of JSON, until stopped. */
  async runJson(): Promise<number> {
    const view = feedViewer(this.s.tenants);
    let order = Promise.resolve();
    const stop = await this.s.feed.subscribe({ tenantId: this.tenant?.id }, (item) => {
      order = order.then(async () => {
        this.io.stdout.write(`${JSON.stringify(await view(item))}\n`);
      });
    });
    await untilStopped(this.io);
    stop();
    await order;
    return 0;
  }

  async run(): Promise<number> {
    const { io, c } = this;
    const tty = Boolean(io.stdin.isTTY && io.stdout.isTTY);
    println(io.stdout, c.bold(`zia inbox — ${this.tenant ? this.tenant.slug : 'all tenants'}`) + c.dim('   /help for commands'));
    await this.list();
    let order = Promise.resolve();
    const stop = await this.s.feed.subscribe({ tenantId: this.tenant?.id }, (item) => {
      order = order.then(() => this.showEvent(item)).catch((err) => this.say(c.red(`! ${(err as Error).message}`)));
    });
    const rl = readline.createInterface({ input: io.stdin, output: io.stdout, terminal: tty, historySize: 100 });
    this.rl = rl;
    this.prompt();
    const closed = new Promise<void>((resolve) => rl.once('close', resolve));
    let busy = Promise.resolve();
    rl.on('line', (line) => {
      busy = busy.then(() => this.command(line.trim())).catch((err) => this.say(c.red(`! ${isAppError(err) ? err.message : (err as Error).message}`)));
    });
    rl.on('SIGINT', () => rl.close());
    const onStop = () => rl.close();
    io.stopSignal?.addEventListener('abort', onStop, { once: true });
    await closed;
    io.stopSignal?.removeEventListener('abort', onStop);
    stop();
    await busy;
    await order;
    if (tty) println(io.stdout);
    return 0;
  }

  private async command(line: string): Promise<void> {
    if (!line) return this.prompt();
    if (!line.startsWith('/')) return this.reply(line);
    const [cmd, ...rest] = line.slice(1).split(/\s+/);
    const arg = rest.join(' ');
    switch (cmd) {
      case 'help':
      case '?':
        for (const l of HELP) this.say(l);
        break;
      case 'list':
      case 'ls':
        await this.list();
        break;
      case 'open':
      case 'o':
        await this.open(arg);
        break;
      case 'pause':
      case 'resume':
      case 'bot': {
        const k = this.requireSelected();
        const paused = cmd === 'pause';
        k.record = await this.s.handoff.setPaused(k.tenant, k.record.id, paused, this.by);
        await auditCli(this.s, this.io, { action: paused ? 'conversation.paused' : 'conversation.resumed', tenant: k.tenant, target: k.record.id });
        this.say(paused ? `#${this.number(k.record.id)}: bot paused; you have the conversation` : `#${this.number(k.record.id)}: handed back to the bot`);
        break;
      }
      case 'close':
        this.selected = undefined;
        break;
      case 'quit':
      case 'exit':
      case 'q':
        this.rl?.close();
        return;
      default:
        this.say(`unknown command /${cmd}: /help lists them`);
    }
    this.prompt();
  }

  private async list(): Promise<void> {
    const { c } = this;
    const waiting = await this.s.handoff.list(this.tenant, { waiting: true, limit: 20 });
    this.say(c.bold(`Waiting for a person (${waiting.conversations.length})`));
    if (waiting.conversations.length === 0) this.say(c.dim('  nobody'));
    for (const r of waiting.conversations) this.say(`  ${await this.row(r)}  ${c.yellow(`waiting since ${r.handoffRequestedAt!.slice(11, 16)}`)}`);
    const recent = await this.s.handoff.list(this.tenant, { limit: 10 });
    const others = recent.conversations.filter((r) => r.handoffRequestedAt === null);
    this.say(c.bold('Recent'));
    if (others.length === 0) this.say(c.dim('  none'));
    for (const r of others) this.say(`  ${await this.row(r)}`);
  }

  private async row(r: ConversationRecord): Promise<string> {
    const k = await this.remember(r, r.tenantId);
    return `#${this.number(r.id)} ${this.who(k)}  bot ${r.botPaused ? 'paused' : 'on'}`;
  }

  private async open(arg: string): Promise<void> {
    const id = /^#?\d+$/.test(arg) ? this.ids[Number(arg.replace('#', '')) - 1] : arg;
    if (!id) {
      this.say(`no conversation ${arg || '(give a number: /open 1)'}`);
      return;
    }
    const tenantId = await this.s.handoff.tenantIdOf(id);
    if (!tenantId || (this.tenant && tenantId !== this.tenant.id)) {
      this.say(`no conversation ${arg}`);
      return;
    }
    const tenant = await this.s.tenants.getById(tenantId);
    const { conversation, messages } = await this.s.handoff.show(tenant, id, 20);
    const k = await this.remember(conversation, tenant.id);
    this.selected = k;
    const { c } = this;
    this.say(c.bold(`#${this.number(id)} ${this.who(k)}`) + `  bot ${conversation.botPaused ? 'paused' : 'on'}${conversation.handoffRequestedAt ? c.yellow(`, waiting for a person since ${conversation.handoffRequestedAt.slice(11, 16)}`) : ''}`);
    for (const m of messages) this.say(`  ${m.createdAt.slice(11, 16)} ${authorOf(m.role).padEnd(8)} ${m.text.replace(/\s+/g, ' ')}${m.deliveryStatus && m.role !== 'user' ? c.dim(` [${m.deliveryStatus}]`) : ''}`);
    if (!conversation.botPaused) this.say(c.dim('  the bot still answers here: /pause to keep it quiet while you reply'));
  }

  private async reply(text: string): Promise<void> {
    const k = this.selected;
    if (!k) {
      this.say('open a conversation first (/open N); /help lists the commands');
      this.prompt();
      return;
    }
    const r = await this.s.handoff.reply(k.tenant, k.record.id, text, this.by);
    await auditCli(this.s, this.io, { action: 'conversation.replied', tenant: k.tenant, target: k.record.id, details: { message_id: r.messageId, channel: r.conversation.channel } });
    this.say(this.c.dim(`  → ${r.delivery === 'queued' ? `queued for ${r.conversation.channel}` : 'stored: the visitor sees it in the widget'}`));
    this.prompt();
  }

  private async showEvent(item: FeedItem): Promise<void> {
    const { event, message } = item;
    const { c } = this;
    if (!event.conversationId || event.type === 'conversation_started') return;
    const k = await this.remember(event.conversationId, event.tenantId);
    const n = `#${this.number(k.record.id)}`;
    const time = event.createdAt.slice(11, 16);
    const text = message?.text.replace(/\s+/g, ' ') ?? '';
    const head = `${c.dim(time)} ${c.bold(n)} ${this.who(k)}`;
    switch (event.type) {
      case 'message_received':
        this.say(this.fit(`${head}: `, text));
        break;
      case 'reply_sent':
        if (message?.role === 'assistant') this.say(this.fit(`${head} ${c.cyan('bot')}: `, text));
        else if (message?.role === 'operator') this.say(`${head} ${c.dim('✓ operator reply sent')}`);
        break;
      case 'reply_failed':
      case 'reply_not_sent':
        this.say(`${head} ${c.red(`✗ reply not sent (${String(event.data.reason ?? event.data.code ?? 'refused')})`)}`);
        break;
      case 'operator_reply':
        this.say(this.fit(`${head} ${c.green(`operator (${String(event.data.by ?? '?')})`)}: `, text));
        break;
      case 'handoff_requested':
        k.record = { ...k.record, handoffRequestedAt: event.createdAt, botPaused: event.data.bot_paused === true || k.record.botPaused };
        this.say(`${head} ${c.yellow.bold('⚑ asks for a person')}${event.data.within_hours === false ? c.dim(' (outside hours)') : ''}  ${c.dim(`/open ${n.slice(1)}`)}`);
        break;
      case 'handoff_paused':
      case 'handoff_resumed':
        this.say(`${head} ${c.dim(`bot ${event.type === 'handoff_paused' ? 'paused' : 'on again'} (${String(event.data.by ?? '?')})`)}`);
        break;
      case 'send_held':
        this.say(`${head} ${c.red('! a reply is in doubt and held: zia conversations show')} ${k.record.id}`);
        break;
      default:
        return;
    }
  }

  /** What the console knows of a conversation (its record and tenant), read once; a record given replaces it. */
  private async remember(r: ConversationRecord | string, tenantId: string): Promise<Known> {
    const id = typeof r === 'string' ? r : r.id;
    const held = this.known.get(id);
    if (held) {
      if (typeof r !== 'string') held.record = r;
      return held;
    }
    const tenant = this.tenant?.id === tenantId ? this.tenant : await this.s.tenants.getById(tenantId);
    const record = typeof r === 'string' ? await this.s.conversations.get(tenantId, r) : r;
    const k = { record, tenant };
    this.known.set(id, k);
    return k;
  }

  private number(id: string): number {
    let n = this.numbers.get(id);
    if (n === undefined) {
      this.ids.push(id);
      n = this.ids.length;
      this.numbers.set(id, n);
    }
    return n;
  }

  private who(k: Known): string {
    const name = k.record.userName ? `${k.record.userName} ` : '';
    return `${this.tenant ? '' : `${k.tenant.slug}/`}${k.record.channel} ${name}(${k.record.externalUserId.slice(0, 16)})`;
  }

  /** One screen line: the text cut to the terminal's width (the whole of it is in /open). */
  private fit(head: string, text: string): string {
    const width = this.io.stdout.columns ?? 0;
    if (!width) return head + text;
    const room = Math.max(20, width - visibleLength(head) - 1);
    return head + (text.length > room ? `${text.slice(0, room - 1)}…` : text);
  }

  private requireSelected(): Known {
    if (!this.selected) throw new Error('open a conversation first (/open N)');
    return this.selected;
  }

  /** A line above the prompt, keeping what the operator is typing. */
  private say(line: string): void {
    const out = this.io.stdout;
    if (this.rl && this.io.stdout.isTTY) {
      readline.clearLine(out, 0);
      readline.cursorTo(out, 0);
      println(out, line);
      this.rl.prompt(true);
    } else println(out, line);
  }

  private prompt(): void {
    if (!this.rl) return;
    const k = this.selected;
    this.rl.setPrompt(k ? `#${this.number(k.record.id)} ${k.record.channel}> ` : 'inbox> ');
    this.rl.prompt(true);
  }
}

function visibleLength(s: string): number {
  return s.replace(/\u001b\[[0-9;]*m/g, '').length;
}

function untilStopped(io: CliIO): Promise<void> {
  return new Promise((resolve) => {
    const signal = io.stopSignal;
    if (!signal) return;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
