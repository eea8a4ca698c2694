import ava from 'ava';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeGraphApi } from '../fakes/graph-api.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { BIN } from '../helpers/cli.js';
import { dialects } from '../helpers/db.js';
import { dm, META_SECRET, PAGE_ID, PAGE_TOKEN, postSigned, VERIFY_TOKEN } from '../helpers/meta.js';
import { waitFor } from '../helpers/wait.js';

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

interface Running {
  child: ChildProcessWithoutNullStreams;
  out(): string;
  exited: Promise<number>;
}

function run(cmd: string, args: string[], env: Record<string, string>): Running {
  const child = spawn(cmd, args, { cwd: mkdtempSync(path.join(tmpdir(), 'zia-inbox-')), env: { PATH: process.env.PATH ?? '', ...env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { child, out: () => plain(out), exited };
}

async function setup(dialect: 'sqlite' | 'pg'): Promise<{ app: TestApp; graph: FakeGraphApi }> {
  const graph = await FakeGraphApi.start('v23.0');
  graph.allowToken(PAGE_TOKEN);
  const app = await startApp(dialect, { META_APP_SECRET: META_SECRET, META_VERIFY_TOKEN: VERIFY_TOKEN, META_GRAPH_URL: graph.url, META_GRAPH_VERSION: 'v23.0' });
  await app.services.tenants.create({ slug: 'shop', name: 'Shop', settings: { fb_page_id: PAGE_ID, fb_page_token: PAGE_TOKEN, handoff: { enabled: true } } });
  await app.services.startWorker();
  return { app, graph };
}

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: zia inbox in an 80×24 pseudo-terminal: the waiting customer first, a new message as it arrives, a reply typed and sent on Messenger`, async (t) => {
    const { app, graph } = await setup(dialect);
    let inbox: Running | undefined;
    try {
      await postSigned(app.url, dm('m_i_1', 'hello'));
      await waitFor('the bot reply', () => graph.sendsTo('PSID_1').length === 1);
      await postSigned(app.url, dm('m_i_2', 'I want to talk to a human'));
      await waitFor('the handoff message', () => graph.sendsTo('PSID_1').length === 2);

      // script(1) gives the console a real terminal, sized like a plain SSH session.
      inbox = run('script', ['-qfec', `stty cols 80 rows 24; exec ${process.execPath} ${BIN} inbox shop`, '/dev/null'], { ...app.env, TERM: 'xterm' });
      const screen = inbox.out;
      await waitFor('the inbox lists the waiting customer', () => /Waiting for a person \(1\)\n\s+#1 messenger \(PSID_1\)\s+bot paused\s+waiting since/.test(screen()));
      await waitFor('the prompt', () => screen().includes('inbox> '));

      await postSigned(app.url, dm('m_i_3', 'are you there? I need to change the delivery address for my order please'));
      await waitFor('the new message in the console', () => /#1 messenger \(PSID_1\): are you there\?/.test(screen()));
      const line = screen().split('\n').find((l) => l.includes('are you there?'))!;
      t.true(line.replace(/^.*?\d\d:\d\d/, '').length <= 80, `one 80-column line: ${JSON.stringify(line)}`);

      inbox.child.stdin.write('/open 1\r');
      await waitFor('the history', () => /customer +are you there\?/.test(screen()) && /#1 messenger> /.test(screen()));
      t.regex(screen(), /bot +I've asked a person from our team/);
      inbox.child.stdin.write('Hello from the inbox, Ada!\r');
      await waitFor('queued', () => screen().includes('→ queued for messenger'));
      await waitFor('the reply on Messenger', () => graph.sendsTo('PSID_1').some((s) => s.text === 'Hello from the inbox, Ada!'));
      await waitFor('the send reported in the console', () => screen().includes('✓ operator reply sent'));
      const shop = await app.services.tenants.get('shop');
      const [reply] = await app.services.events.list(shop.id, { type: 'operator_reply', limit: 1 });
      t.regex(String(reply!.data.by), /^cli:/);

      inbox.child.stdin.write('/resume\r');
      await waitFor('handed back', () => screen().includes('handed back to the bot'));
      inbox.child.stdin.write('/quit\r');
      t.is(await inbox.exited, 0);
      t.false((await app.services.conversations.find(shop.id, 'messenger', 'PSID_1'))!.botPaused);
    } finally {
      inbox?.child.kill('SIGKILL');
      await app.close();
      await graph.close();
    }
  });

  test(`${dialect}: zia inbox --json prints one feed event per line for scripts and stops on SIGTERM`, async (t) => {
    const { app, graph } = await setup(dialect);
    const feed = run(process.execPath, [BIN, 'inbox', 'shop', '--json'], app.env);
    try {
      // The feed is read by the inbox's own process from the database, as a console on another host would.
      await new Promise((r) => setTimeout(r, 500));
      await postSigned(app.url, dm('m_j_1', 'agent'));
      await waitFor('the request as JSON lines', () => feed.out().includes('"type":"handoff_requested"'));
      const events = feed
        .out()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
      const received = events.find((e) => e.type === 'message_received');
      t.like(received, { tenant: 'shop', message: { role: 'user', text: 'agent' } });
      t.like(events.find((e) => e.type === 'handoff_requested'), { tenant: 'shop', data: { by: 'customer' } });
      feed.child.kill('SIGTERM');
      t.is(await feed.exited, 0);
    } finally {
      feed.child.kill('SIGKILL');
      await app.close();
      await graph.close();
    }
  });
}
