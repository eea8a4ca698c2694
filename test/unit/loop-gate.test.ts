import test from 'ava';
import { LoopGate } from '../../src/features/jobs/loop-gate.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Blocks the event loop for `ms`, as a turn that needs the CPU does. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test('jobs that wait run at the full concurrency; at most that many at once', async (t) => {
  const gate = new LoopGate(8, { tickMs: 10, targetMs: 20 });
  let active = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: 30 }, () =>
      gate.run(async () => {
        most = Math.max(most, ++active);
        await sleep(30);
        active--;
      }),
    ),
  );
  t.is(most, 8);
});

test('while the loop falls behind, fewer jobs start; when it keeps up again, the limit climbs back', async (t) => {
  const gate = new LoopGate(16, { tickMs: 10, targetMs: 20 });
  const jobs = Array.from({ length: 40 }, () =>
    gate.run(async () => {
      await sleep(1);
      spin(40);
    }),
  );
  await Promise.all(jobs);
  t.true(gate.allowed < 16, `limit fell under load (now ${gate.allowed})`);
  const low = gate.allowed;
  await sleep(300);
  await gate.run(async () => undefined);
  await sleep(100);
  t.true(gate.allowed > low, `limit recovered (${low} → ${gate.allowed})`);
});
