// The fake OpenAI server in a process of its own, so the benchmarks never share its event loop:
// `node --import=tsx fake-openai.ts reply|hold [firstChunkDelayMs] [chunkDelayMs] [holdEveryMs]`.
// With `reply` it streams REPLY_WORDS fragments; with `hold` it streams one and then keeps the stream
// open, a fragment every holdEveryMs. Each request's own time to first content is printed as
// `ttft <last user message> <ms>` so the bench can pair it with what its client saw.
import { FakeOpenAI } from '../fakes/openai-server.js';

const REPLY_WORDS = 40;
const [mode = 'reply', firstChunkDelayMs = '0', chunkDelayMs = '0', holdEveryMs = '0'] = process.argv.slice(2);
const content = Array.from({ length: REPLY_WORDS }, (_, i) => `word${i} `);

const fake = new FakeOpenAI({
  firstChunkDelayMs: Number(firstChunkDelayMs),
  chunkDelayMs: Number(chunkDelayMs),
  holdEveryMs: Number(holdEveryMs),
  fallback: () => (mode === 'hold' ? { kind: 'hold', content: ['Hello'] } : { kind: 'reply', content }),
  onFirstContent: (req) => {
    const last = (req.body.messages as Array<{ role: string; content: unknown }>).filter((m) => m.role === 'user').at(-1);
    if (mode === 'reply') process.stdout.write(`ttft ${String(last?.content).replace(/\s/g, '_')} ${req.firstContentMs!.toFixed(3)}\n`);
  },
});
await fake.start();
process.stdout.write(`fake-openai listening on ${fake.url}\n`);
process.on('SIGTERM', () => void fake.close().then(() => process.exit(0)));
