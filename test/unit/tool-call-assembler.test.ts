import test from 'ava';
import { ToolCallAssembler, type ToolCallFragment } from '../../src/features/ai/tool-call-assembler.js';

function assemble(...deltas: ToolCallFragment[][]) {
  const a = new ToolCallAssembler();
  for (const d of deltas) a.push(d);
  return a.result();
}

test('fragments by index: id and name from the first, arguments joined in order', (t) => {
  const calls = assemble(
    [{ index: 0, id: 'call_a', type: 'function', function: { name: 'capture_lead', arguments: '' } }],
    [{ index: 0, function: { arguments: '{"name":' } }],
    [{ index: 1, id: 'call_b', function: { name: 'search_catalog', arguments: '{"query":"mugs"}' } }],
    [{ index: 0, function: { arguments: '"Ada"}' } }],
  );
  t.deepEqual(calls, [
    { id: 'call_a', name: 'capture_lead', arguments: '{"name":"Ada"}' },
    { id: 'call_b', name: 'search_catalog', arguments: '{"query":"mugs"}' },
  ]);
});

test('no index: a fragment continues the call with its id, else the last call', (t) => {
  const calls = assemble(
    [{ id: 'call_1', function: { name: 'capture_lead', arguments: '{"name":"Ada",' } }],
    [{ function: { arguments: '"email":"a@b.co"}' } }],
    [{ id: 'call_2', function: { name: 'search_catalog', arguments: '{"query":' } }],
    [{ id: 'call_2', function: { arguments: '"mugs"}' } }],
  );
  t.deepEqual(calls, [
    { id: 'call_1', name: 'capture_lead', arguments: '{"name":"Ada","email":"a@b.co"}' },
    { id: 'call_2', name: 'search_catalog', arguments: '{"query":"mugs"}' },
  ]);
});

test('every call on index 0 with ids of their own (vLLM, newer Ollama) are separate calls', (t) => {
  const calls = assemble(
    [{ index: 0, id: 'chatcmpl-tool-1', function: { name: 'a', arguments: '' } }],
    [{ index: 0, id: '', function: { arguments: '{}' } }],
    [{ index: 0, id: 'chatcmpl-tool-2', function: { name: 'b', arguments: '' } }],
    [{ index: 0, function: { name: null, arguments: '{"x":1}' } }],
  );
  t.deepEqual(calls.map((c) => [c.id, c.name, c.arguments]), [
    ['chatcmpl-tool-1', 'a', '{}'],
    ['chatcmpl-tool-2', 'b', '{"x":1}'],
  ]);
});

test('whole calls without index or id (Gemini) get ids of their own; several in one delta', (t) => {
  const calls = assemble([
    { id: '', type: 'function', function: { name: 'a', arguments: '{"q":1}' } },
    { id: '', type: 'function', function: { name: 'b', arguments: '{"q":2}' } },
  ]);
  t.deepEqual(calls, [
    { id: 'call_1', name: 'a', arguments: '{"q":1}' },
    { id: 'call_2', name: 'b', arguments: '{"q":2}' },
  ]);
});

test('a name repeated or empty in later fragments (LM Studio) is not added twice; object arguments become JSON', (t) => {
  const calls = assemble(
    [{ index: 0, id: '7', function: { name: 'capture_lead', arguments: '' } }],
    [{ index: 0, id: '', function: { name: '', arguments: '{"name":"Ada"' } }],
    [{ index: 0, function: { name: 'capture_lead', arguments: '}' } }],
    [{ index: 1, id: '8', function: { name: 'search_catalog', arguments: { query: 'mugs' } } }],
  );
  t.deepEqual(calls, [
    { id: '7', name: 'capture_lead', arguments: '{"name":"Ada"}' },
    { id: '8', name: 'search_catalog', arguments: '{"query":"mugs"}' },
  ]);
});

test('a made-up id never collides with one the server sent; fragments without a name are dropped', (t) => {
  const calls = assemble([{ id: 'call_1', function: { name: 'a', arguments: '{}' } }], [{ index: 5, function: { name: 'b', arguments: '{}' } }], [{ index: 6, function: { arguments: '{}' } }]);
  t.deepEqual(calls.map((c) => c.id), ['call_1', 'call_2']);
  t.deepEqual(assemble([], [null as unknown as ToolCallFragment]), []);
});
