import test from 'ava';
import { StatementBatcher } from '../../src/db/statement-batcher.js';

/** A batcher whose statements are held until released, recording the items of each one. */
function heldBatcher(fails: (item: string) => boolean = () => false) {
  const statements: string[][] = [];
  const releases: Array<() => void> = [];
  const batcher = new StatementBatcher<string, string>(async (items) => {
    statements.push(items);
    await new Promise<void>((resolve) => releases.push(resolve));
    if (items.some(fails)) throw new Error(`failed: ${items.join(',')}`);
    return items.map((i) => `done ${i}`);
  });
  /** Releases every statement out until none is left. */
  const drain = async () => {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      const release = releases.shift();
      if (!release) return;
      release();
    }
  };
  return { batcher, statements, drain };
}

test('a caller on a quiet batcher goes at once; callers arriving meanwhile share the next statement', async (t) => {
  const { batcher, statements, drain } = heldBatcher();
  const first = batcher.submit('a', 1);
  t.deepEqual(statements, [['a']], 'sent without waiting for company');
  const rest = ['b', 'c', 'd'].map((i) => batcher.submit(i, 1));
  t.is(statements.length, 1, 'nothing else is sent while a statement is out');
  await drain();
  t.deepEqual(await Promise.all([first, ...rest]), ['done a', 'done b', 'done c', 'done d']);
  t.deepEqual(statements, [['a'], ['b', 'c', 'd']]);
});

test('a combined statement holds at most 200 callers and 30,000 bindings, and a larger caller still goes alone', async (t) => {
  const { batcher, statements, drain } = heldBatcher();
  const all = [batcher.submit('first', 1)];
  for (let i = 0; i < 250; i++) all.push(batcher.submit(`s${i}`, 1));
  all.push(batcher.submit('big1', 20_000), batcher.submit('big2', 20_000), batcher.submit('huge', 70_000));
  await drain();
  t.is((await Promise.all(all)).length, 254);
  t.deepEqual(
    statements.map((s) => s.length),
    [1, 200, 50 + 1, 1, 1],
    'the 250 small ones split at 200; each 20,000-binding caller fits with the small ones but not with another',
  );
  t.deepEqual(statements.slice(2).map((s) => s.at(-1)), ['big1', 'big2', 'huge']);
});

test('when a combined statement fails, each of its callers is run alone and gets its own outcome', async (t) => {
  const { batcher, statements, drain } = heldBatcher((item) => item === 'bad');
  const first = batcher.submit('a', 1);
  const rest = ['b', 'bad', 'c'].map((i) => batcher.submit(i, 1));
  const outcomes = Promise.allSettled([first, ...rest]);
  await drain();
  const settled = await outcomes;
  t.deepEqual(
    settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message)),
    ['done a', 'done b', 'failed: bad', 'done c'],
  );
  t.deepEqual(statements, [['a'], ['b', 'bad', 'c'], ['b'], ['bad'], ['c']]);
});
