import test from 'ava';
import { SseEvents, type SseEvent } from '../../src/features/ai/sse-events.js';

const STREAM =
  ': keep-alive comment\r\n' +
  'data: {"a":1}\r\n\r\n' +
  'data:{"b":2}\n\n' +
  'event: ping\rdata: first\rdata: second\r\r' +
  'id: 7\nretry: 10\ndata\n\n' +
  'data: [DONE]\n\n' +
  'data: never finished';

const EXPECTED: SseEvent[] = [
  { event: null, data: '{"a":1}' },
  { event: null, data: '{"b":2}' },
  { event: 'ping', data: 'first\nsecond' },
  { event: null, data: '' },
  { event: null, data: '[DONE]' },
];

function parse(pieces: string[]): SseEvent[] {
  const sse = new SseEvents();
  return pieces.flatMap((p) => sse.push(p).map((e) => ({ ...e })));
}

test('server-sent events: fields, comments, every line ending; an unfinished event is dropped', (t) => {
  t.deepEqual(parse([STREAM]), EXPECTED);
});

test('server-sent events: the same events wherever the text is cut, \\r\\n split in two included', (t) => {
  for (let i = 0; i <= STREAM.length; i++) {
    for (const j of [i, Math.min(STREAM.length, i + 1), Math.min(STREAM.length, i + 7)]) {
      t.deepEqual(parse([STREAM.slice(0, i), STREAM.slice(i, j), STREAM.slice(j)]), EXPECTED, `cut at ${i} and ${j}`);
    }
  }
  t.deepEqual(parse([...STREAM]), EXPECTED, 'one character at a time');
});
