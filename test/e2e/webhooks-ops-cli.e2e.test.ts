import ava from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseEnv } from '../helpers/app.js';
import { runBin, spawnServe } from '../helpers/cli.js';
import { dialects, freshDatabase } from '../helpers/db.js';
import { META_SECRET, PAGE_ID, PAGE_TOKEN } from '../helpers/meta.js';
import { WEBHOOK_SECRET, CONNECT_SECRET } from '../helpers/stripe.js';
import { waitFor } from '../helpers/wait.js';

/** waitFor, typed as the value it waited for. */
const until = async <T>(what: string, check: () => Promise<T> | T): Promise<NonNullable<T>> => (await waitFor(what, check)) as NonNullable<T>;
import { FakeGraphApi } from '../fakes/graph-api.js';

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: against a running zia serve — simulate meta is processed, replay re-runs a dead one, conversations pause/reply/resume reach Messenger, simulate stripe is accepted`, async (t) => {
    const graph = await FakeGraphApi.start('v23.0');
    graph.allowToken(PAGE_TOKEN);
    const db = await freshDatabase(dialect);
    const cwd = mkdtempSync(path.join(tmpdir(), 'zia-ops-'));
    const env = {
      ...baseEnv({ META_APP_SECRET: META_SECRET, META_GRAPH_URL: graph.url, META_GRAPH_VERSION: 'v23.0', ZIA_JOB_BACKOFF_MS: '30', ZIA_JOB_MAX_ATTEMPTS: '3', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_CONNECT_WEBHOOK_SECRET: CONNECT_SECRET }),
      ...db.env,
    };
    const cli = async (args: string[]) => runBin(args, { env, cwd });
    const log = async (provider: string) => JSON.parse((await cli(['webhooks', 'log', '--provider', provider, '--json'])).stdout).deliveries as Array<{ id: string; status: string; external_id: string; attempts: number }>;
    t.is((await cli(['migrate'])).code, 0, 'only serve, worker, init and migrate create a database');
    let r = await cli(['tenant', 'create', 'shop', '--name', 'Shop', '--set', `fb_page_id=${PAGE_ID}`, '--set', `fb_page_token=${PAGE_TOKEN}`]);
    t.is(r.code, 0, r.stderr);
    const server = await spawnServe({ env, cwd });
    try {
      r = await cli(['webhooks', 'simulate', 'meta', '--tenant', 'shop', '--text', 'Do you ship to Bergen?', '--from', 'PSID_SIM', '--url', server.url, '--json']);
      t.is(r.code, 0, r.stderr);
      const sim = JSON.parse(r.stdout);
      t.is(sim.status, 200);
      await waitFor('the simulated delivery processed', async () => (await log('meta')).find((d) => d.external_id === sim.external_id && d.status === 'processed'));
      t.is(graph.sendsTo('PSID_SIM').length, 1, 'the bot answered the simulated message through the Graph API');

      // A wrong secret is refused by the server: simulate exits 1 with the status.
      r = await runBin(['webhooks', 'simulate', 'meta', '--tenant', 'shop', '--url', server.url], { env: { ...env, META_APP_SECRET: 'not-the-secret' }, cwd });
      t.is(r.code, 1);
      t.regex(r.stderr, /HTTP 401|HTTP 403/);

      // Meta refuses the send (permanent error): the delivery is dead; replay runs it again.
      graph.failNext(1, { status: 400, code: 100, message: 'Invalid parameter' });
      r = await cli(['webhooks', 'simulate', 'meta', '--tenant', 'shop', '--text', 'second', '--from', 'PSID_DEAD', '--url', server.url, '--json']);
      const second = JSON.parse(r.stdout);
      const dead = await until('the dead delivery', async () => (await log('meta')).find((d) => d.external_id === second.external_id && d.status === 'dead'));
      t.is(graph.sendsTo('PSID_DEAD').length, 0);
      r = await cli(['webhooks', 'log', '--status', 'dead']);
      t.regex(r.stdout, new RegExp(dead.id));
      r = await cli(['webhooks', 'replay', '--dead', '--provider', 'meta']);
      t.is(r.code, 0, r.stderr);
      t.regex(r.stdout, new RegExp(`replayed 1: ${dead.id}`));
      await waitFor('the replayed delivery processed', async () => (await log('meta')).find((d) => d.id === dead.id && d.status === 'processed'));
      t.is(graph.sendsTo('PSID_DEAD').length, 1);
      r = await cli(['webhooks', 'replay', dead.id, '--dead']);
      t.is(r.code, 2, 'id and --dead together is a usage error');

      // Handoff from the CLI: pause, a message gets no answer, the operator's reply goes out on Messenger.
      r = await cli(['conversations', 'list', 'shop', '--channel', 'messenger', '--json']);
      const conv = JSON.parse(r.stdout).conversations.find((c: any) => c.external_user_id === 'PSID_SIM');
      t.truthy(conv);
      r = await cli(['conversations', 'pause', conv.id]);
      t.is(r.code, 0, r.stderr);
      t.regex(r.stdout, /bot paused/);
      r = await cli(['webhooks', 'simulate', 'meta', '--tenant', 'shop', '--text', 'hello? anyone?', '--from', 'PSID_SIM', '--url', server.url, '--json']);
      const third = JSON.parse(r.stdout);
      await waitFor('the paused message processed', async () => (await log('meta')).find((d) => d.external_id === third.external_id && d.status === 'processed'));
      t.is(graph.sendsTo('PSID_SIM').length, 1, 'no bot reply while paused');
      r = await cli(['conversations', 'reply', conv.id, 'Hello, a human here.']);
      t.is(r.code, 0, r.stderr);
      t.regex(r.stdout, /queued for messenger/);
      await waitFor('the operator reply on Messenger', () => graph.sendsTo('PSID_SIM').find((s) => s.text === 'Hello, a human here.'));
      r = await cli(['conversations', 'show', conv.id]);
      t.regex(r.stdout, /bot PAUSED/);
      t.regex(r.stdout, /customer\s+hello\? anyone\?/);
      t.regex(r.stdout, /operator\s+Hello, a human here\./);
      r = await cli(['conversations', 'resume', conv.id]);
      t.regex(r.stdout, /bot on/);

      // Stripe: a signed sample for the tenant's connected account is accepted and logged (no order: ignored).
      r = await cli(['webhooks', 'simulate', 'stripe', '--tenant', 'shop', '--url', server.url]);
      t.is(r.code, 1, 'no connected account yet');
      t.regex(r.stderr, /no connected Stripe account/);
      const { createDb } = await import('../../src/db/create-db.js');
      const { loadConfig } = await import('../../src/config.js');
      const direct = createDb(loadConfig(env, cwd));
      await direct.knex('tenants').where({ slug: 'shop' }).update({ stripe_account_id: 'acct_SIM123' });
      await direct.close();
      r = await cli(['webhooks', 'simulate', 'stripe', '--tenant', 'shop', '--url', server.url, '--json']);
      t.is(r.code, 0, r.stderr);
      const stripe = JSON.parse(r.stdout);
      t.is(stripe.status, 200);
      t.true((await log('stripe')).some((d) => d.external_id === stripe.external_id));
    } finally {
      await server.stop();
      await graph.close();
      await db.cleanup();
    }
  });
}
