import test from 'ava';
import OpenAI from 'openai';
import { FakeOpenAI } from '../fakes/openai-server.js';

// The fake must look like the real API to the official SDK, or the provider tests prove nothing.
test('the fake OpenAI server speaks the non-stream and stream shapes the SDK expects, and checks requests', async (t) => {
  const fake = await new FakeOpenAI({ apiKey: 'k1' }).start();
  try {
    const client = new OpenAI({ apiKey: 'k1', baseURL: fake.url, maxRetries: 0 });
    fake.enqueue({ kind: 'reply', toolCalls: [{ name: 'f', arguments: ['{"a":', '1}'] }] });
    const plain = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    t.is(plain.choices[0]!.finish_reason, 'tool_calls');
    t.is(plain.choices[0]!.message.tool_calls?.[0]?.type, 'function');
    t.is(plain.usage?.total_tokens, 15);

    fake.enqueue({ kind: 'reply', content: ['a', 'b'] });
    const stream = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    const seen: string[] = [];
    let usage = 0;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage.total_tokens;
      const c = chunk.choices[0];
      if (c?.delta.content) seen.push(c.delta.content);
      if (c?.finish_reason) seen.push(`<${c.finish_reason}>`);
    }
    t.deepEqual(seen, ['a', 'b', '<stop>']);
    t.is(usage, 15);

    const wrongKey = new OpenAI({ apiKey: 'nope', baseURL: fake.url, maxRetries: 0 });
    await t.throwsAsync(wrongKey.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }), { instanceOf: OpenAI.AuthenticationError });
    await t.throwsAsync(
      client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }, { role: 'tool', tool_call_id: 'x', content: '{}' }] }),
      { instanceOf: OpenAI.BadRequestError },
    );
    fake.enqueue({ kind: 'error', status: 429, headers: { 'retry-after': '7' } });
    const err = await t.throwsAsync(client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }));
    t.true(err instanceof OpenAI.RateLimitError);
    t.is((err as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after'), '7');
    t.is(fake.requests.length, 5);
  } finally {
    await fake.close();
  }
});
