import { FakeOpenAI, type FakeOpenAiOptions } from '../fakes/openai-server.js';
import { startApp, type TestApp } from './app.js';
import type { Dialect } from '../../src/db/create-db.js';

/** A zia app whose openai provider talks to a fresh fake server; close() stops both. */
export async function startWithFakeOpenAI(
  dialect: Dialect,
  env: Record<string, string> = {},
  fakeOptions: FakeOpenAiOptions = { apiKey: 'test' },
): Promise<{ fake: FakeOpenAI; app: TestApp; close(): Promise<void> }> {
  const fake = await new FakeOpenAI(fakeOptions).start();
  const app = await startApp(dialect, { OPENAI_BASE_URL: fake.url, OPENAI_MAX_RETRIES: '1', ...env });
  return {
    fake,
    app,
    async close() {
      await app.close();
      await fake.close();
    },
  };
}
