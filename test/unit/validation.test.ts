import test from 'ava';
import { z } from 'zod';
import { parseInput, ulidSchema, withoutNul } from '../../src/validation.js';
import { newId } from '../../src/db/dialect.js';

test('withoutNul removes U+0000 from every string and key, deep, and returns clean input as it is', (t) => {
  const clean = { a: 'x', b: [1, 'y', { c: null }], d: true };
  t.is(withoutNul(clean), clean, 'nothing copied when there is nothing to remove');
  const form = Object.assign(Object.create(null) as Record<string, unknown>, { 'Bo\u0000dy': ['h\u0000i', 'ok'] });
  t.deepEqual(withoutNul({ m: 'hi\u0000there', n: [{ o: '\u0000' }], form }), { m: 'hithere', n: [{ o: '' }], form: { Body: ['hi', 'ok'] } });
  const buf = Buffer.from('a\u0000b');
  const date = new Date(0);
  t.is(withoutNul(buf), buf, 'bytes are not text to clean');
  t.is(withoutNul(date), date);
});

test('parseInput validates what is left once NUL is removed; ids are ULIDs', (t) => {
  t.deepEqual(parseInput(z.object({ name: z.string().min(1) }), { name: 'A\u0000na' }), { name: 'Ana' });
  const err = t.throws(() => parseInput(z.object({ id: ulidSchema }), { id: `${newId()}\u0000x` }, 'params'));
  t.regex(err.message, /params\.id/);
  t.true(ulidSchema.safeParse(newId()).success);
  t.false(ulidSchema.safeParse('01JD3M5X6Y7Z8A9B0C1D2E3F4U').success, 'U is not in the ULID alphabet');
});
