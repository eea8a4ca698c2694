import test from 'ava';
import { loadConfig } from '../../src/config.js';
import { createServices } from '../../src/container.js';
import { createLogger } from '../../src/logger.js';
import { LogCapture, startApp } from '../helpers/app.js';
import { EchoChatEngine } from '../helpers/echo-chat-engine.js';
import { dm, IG_ID, META_SECRET, PAGE_ID, PAGE_TOKEN, postSigned } from '../helpers/meta.js';
import { waitFor } from '../helpers/wait.js';
import { FakeGraphApi } from '../fakes/graph-api.js';

// Scale-out is a PostgreSQL property: several processes share one database and its job queue.
const pg = process.env.ZIA_TEST_PG_URL ? test : test.skip;

pg('pg: two app instances with a worker each share one database; every item is answered exactly once', async (t) => {
  const graph = await FakeGraphApi.start('v23.0');
  graph.allowToken(PAGE_TOKEN);
  // One engine double stands for the engine's shared state (its dedupe lives in the database in the real one).
  const chat = new EchoChatEngine();
  const env = { META_APP_SECRET: META_SECRET, META_GRAPH_URL: graph.url, ZIA_JOB_BACKOFF_MS: '30', ZIA_WORKER_CONCURRENCY: '3' };
  const a = await startApp('pg', env, { chat });
  await a.services.tenants.create({ slug: 'shop', name: 'Shop', settings: { fb_page_id: PAGE_ID, ig_user_id: IG_ID, fb_page_token: PAGE_TOKEN } });
  // The second instance: same database, its own services, HTTP server and worker.
  const config = loadConfig(a.env, '/nonexistent-cwd-for-tests');
  const logs = new LogCapture();
  const servicesB = createServices(config, createLogger('info', logs), { chat });
  const { createApp } = await import('../../src/http/create-app.js');
  const serverB = createApp(servicesB).listen(0, '127.0.0.1');
  await new Promise((r) => serverB.once('listening', r));
  const urlB = `http://127.0.0.1:${(serverB.address() as { port: number }).port}`;
  const workerA = await a.services.startWorker!();
  const workerB = await servicesB.startWorker!();

  const N = 60;
  const posts: Promise<Response>[] = [];
  for (let i = 0; i < N; i++) {
    const payload = dm(`m_scale_${i}`, `question ${i}`, { psid: `PSID_${i}` });
    // Every delivery goes to one instance, and a third of them is repeated on the other.
    posts.push(postSigned(i % 2 ? urlB : a.url, payload));
    if (i % 3 === 0) posts.push(postSigned(i % 2 ? a.url : urlB, payload));
  }
  t.true((await Promise.all(posts)).every((r) => r.status === 200));
  await waitFor('every item answered', () => graph.sends.length >= N, 60_000);
  await waitFor('settled', async () => Number((await a.services.db.knex('webhook_deliveries').where('status', 'processed').count({ n: '*' }))[0]!.n) === N, 60_000);
  for (let i = 0; i < N; i++) t.is(graph.sendsTo(`PSID_${i}`).length, 1, `PSID_${i}`);
  t.is(graph.sends.length, N);
  const workedBy = (await a.services.db.knex('outbound_sends').count({ n: '*' }))[0]!.n;
  t.is(Number(workedBy), N);
  // Both workers took part (not asserted strictly: scheduling decides; logged for the record).
  t.log(`instance A log lines: ${a.logs.lines.length}, instance B: ${logs.lines.length}`);

  await workerB.stop();
  await workerA.stop();
  serverB.closeAllConnections();
  await new Promise((r) => serverB.close(r));
  await servicesB.close();
  await a.close();
  await graph.close();
});
