import test from 'ava';
import fc from 'fast-check';
import { classifyGraphError } from '../../src/features/channels/meta/graph-client.js';
import { charCount, splitText, truncateText, utf8Bytes } from '../../src/features/channels/split-text.js';
import { retryDelayMs } from '../../src/features/jobs/backoff.js';

const info = (status: number | null, code: number | null, subcode: number | null = null) => ({ status, code, subcode });

test('Graph errors: transient ones retry, permanent ones park', (t) => {
  for (const code of [1, 2, 4, 17, 32, 613]) t.true(classifyGraphError(info(400, code)).transient, `code ${code}`);
  t.true(classifyGraphError(info(503, null)).transient);
  t.true(classifyGraphError({ ...info(null, null), network: 'refused' }).transient);
  for (const [code, sub] of [[190, 463], [551, null], [10, 2018278], [10, 2534022], [100, null], [200, null], [299, null], [368, null]] as const) {
    t.false(classifyGraphError(info(400, code, sub)).transient, `code ${code}/${sub}`);
  }
  t.regex(classifyGraphError(info(400, 10, 2018278)).reason, /24 h window/);
  t.regex(classifyGraphError(info(400, 190)).reason, /token/);
});

test('splitText keeps every part within the limit and loses no words', (t) => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.constantFrom('a', 'z', 'é', '😀'), { minLength: 1, maxLength: 10 }).map((cs) => cs.join('')), { minLength: 1, maxLength: 300 }), fc.integer({ min: 40, max: 300 }), (words, limit) => {
      const text = words.join(' ');
      for (const measure of [charCount, utf8Bytes]) {
        const parts = splitText(text, limit, measure);
        if (!parts.every((p) => measure(p) <= limit)) return false;
        if (parts.join(' ').split(/\s+/).join(' ') !== text) return false;
      }
      return true;
    }),
  );
  t.deepEqual(splitText('short', 2000, charCount), ['short']);
});

test('truncateText fits one message and never cuts a character', (t) => {
  const s = truncateText('😀'.repeat(600), 1000, utf8Bytes);
  t.true(utf8Bytes(s) <= 1000);
  t.true(s.endsWith('…'));
  t.notThrows(() => encodeURIComponent(s));
});

test('retry delays grow exponentially with jitter inside [half, full]', (t) => {
  for (let attempt = 1; attempt <= 6; attempt++) {
    const full = 100 * 2 ** (attempt - 1);
    t.is(retryDelayMs(attempt, 100, 60_000, () => 0), full / 2);
    t.is(retryDelayMs(attempt, 100, 60_000, () => 1), full);
  }
  t.is(retryDelayMs(30, 1000, 5000, () => 1), 5000);
});
