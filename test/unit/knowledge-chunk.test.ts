import test from 'ava';
import { chunkSections } from '../../src/features/knowledge/chunk-text.js';

const sentence = (n: number): string => `Sentence number ${n} talks about candles and wax.`; // 48–49 characters
const paragraph = (from: number, count: number): string => Array.from({ length: count }, (_, i) => sentence(from + i)).join(' ');

test('short sections become one chunk each, keeping their heading, numbered in order', (t) => {
  const chunks = chunkSections([
    { heading: 'Shipping', text: 'We ship to Norway and the EU within three working days of your order.' },
    { heading: 'Shipping › International', text: 'Orders outside the EU pay customs on delivery; we cannot prepay them.' },
  ]);
  t.deepEqual(chunks, [
    { position: 0, heading: 'Shipping', text: 'We ship to Norway and the EU within three working days of your order.' },
    { position: 1, heading: 'Shipping › International', text: 'Orders outside the EU pay customs on delivery; we cannot prepay them.' },
  ]);
});

test('paragraphs are packed up to maxChars and split only between paragraphs', (t) => {
  const paragraphs = Array.from({ length: 10 }, (_, i) => paragraph(i * 4, 4)); // ~200 characters each
  const chunks = chunkSections([{ heading: 'Care', text: paragraphs.join('\n') }], { maxChars: 450 });
  t.true(chunks.length >= 4);
  for (const c of chunks) {
    t.true(c.text.length <= 450, `chunk ${c.position} is ${c.text.length} characters`);
    t.is(c.heading, 'Care');
    for (const line of c.text.split('\n')) t.true(paragraphs.includes(line), 'no paragraph is cut');
  }
  t.deepEqual(chunks.flatMap((c) => c.text.split('\n')), paragraphs, 'nothing is lost or reordered');
  t.deepEqual(chunks.map((c) => c.position), chunks.map((_, i) => i));
});

test('a paragraph longer than maxChars is split between sentences', (t) => {
  const long = paragraph(0, 30); // ~1,470 characters in one paragraph
  const chunks = chunkSections([{ heading: '', text: long }], { maxChars: 500 });
  t.true(chunks.length >= 3);
  for (const c of chunks) {
    t.true(c.text.length <= 500);
    t.regex(c.text, /^Sentence number \d+ .*wax\.$/, 'every chunk starts and ends on a sentence boundary');
  }
  t.is(chunks.map((c) => c.text).join(' '), long);
});

test('a sentence longer than maxChars is split between words, a word longer than maxChars anywhere', (t) => {
  const words = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' '); // one sentence, no full stop
  const chunks = chunkSections([{ heading: 'Words', text: words }], { maxChars: 100, minChars: 0 });
  for (const c of chunks) {
    t.true(c.text.length <= 100);
    t.regex(c.text, /^word\d+( word\d+)*$/, 'no word is cut');
  }
  t.is(chunks.map((c) => c.text).join(' '), words);
  const huge = 'x'.repeat(250);
  const cut = chunkSections([{ heading: '', text: huge }], { maxChars: 100, minChars: 0 });
  t.deepEqual(cut.map((c) => c.text.length), [100, 100, 50]);
});

test('a tiny trailing piece merges into the previous chunk of the same section', (t) => {
  const first = 'a'.repeat(850);
  const chunks = chunkSections([{ heading: 'Returns', text: `${first}\nThanks!` }]);
  t.is(chunks.length, 1, 'the 7-character tail does not stand alone');
  t.is(chunks[0]!.text, `${first}\nThanks!`);
  const big = chunkSections([{ heading: 'Returns', text: `${first}\n${'b'.repeat(100)}` }]);
  t.is(big.length, 2, 'a tail of minChars or more stays its own chunk');
});

test('a tiny leading piece joins the chunk after it rather than standing alone', (t) => {
  const chunks = chunkSections([{ heading: 'Prices', text: `Our prices:\n${'c'.repeat(880)}` }]);
  t.deepEqual(chunks.map((c) => c.text), [`Our prices:\n${'c'.repeat(880)}`]);
});

test('pieces never merge across sections, tiny sections stay, empty ones are dropped', (t) => {
  const chunks = chunkSections([
    { heading: 'A', text: 'a'.repeat(880) },
    { heading: 'B', text: 'Closed Sundays.' },
    { heading: 'C', text: '  \n \n' },
    { heading: 'D', text: '' },
    { heading: 'E', text: 'Open late on Thursdays.' },
  ]);
  t.deepEqual(chunks.map((c) => [c.position, c.heading, c.text.length]), [
    [0, 'A', 880],
    [1, 'B', 15],
    [2, 'E', 23],
  ]);
});

test('the default limits are 900 and 80 characters', (t) => {
  const text = ['d'.repeat(600), 'e'.repeat(299), 'f'.repeat(300)].join('\n');
  const chunks = chunkSections([{ heading: '', text }]);
  t.deepEqual(chunks.map((c) => c.text.length), [900, 300], '600 + newline + 299 is exactly 900');
  t.is(chunkSections([{ heading: '', text: `${'g'.repeat(890)}\n${'h'.repeat(79)}` }]).length, 1, '79 characters is below minChars');
  t.is(chunkSections([{ heading: '', text: `${'g'.repeat(890)}\n${'h'.repeat(80)}` }]).length, 2);
});
