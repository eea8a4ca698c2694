import { fractionDigits } from '../catalog/catalog-normalise.js';
import type { Channel } from '../chat/chat.types.js';
import { checkTurn, type KnownPrice, type TurnOutcome } from './eval-checks.js';
import type { EvalSandbox } from './eval-sandbox.js';
import type { CaseFile, CaseResult, CaseRun, EvalCase, Failure } from './eval.types.js';

export interface RunOptions {
  /** Plays of each case (models are not deterministic). */
  repeat: number;
  /** Plays at once. */
  concurrency: number;
  /** The share of a case's plays that must pass. */
  minPassRate: number;
  /** Called after each play, for a progress display. */
  onPlayed?: (done: number, total: number) => void;
}

/**
 * Plays every case `repeat` times against the sandbox, `concurrency` plays at once. Each play is a
 * customer of its own (a conversation per channel), so plays never see each other's turns.
 */
export async function runCases(sandbox: EvalSandbox, file: CaseFile, o: RunOptions): Promise<CaseResult[]> {
  const prices = await knownPrices(sandbox);
  const plays = file.cases.flatMap((_, c) => Array.from({ length: o.repeat }, (__, r) => ({ c, r })));
  const runs: CaseRun[][] = file.cases.map(() => []);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < plays.length) {
      const { c, r } = plays[next++]!;
      runs[c]![r] = await playCase(sandbox, file.cases[c]!, c * o.repeat + r, prices);
      o.onPlayed?.(++done, plays.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, plays.length) }, worker));
  return file.cases.map((c, i) => {
    const passRate = runs[i]!.filter((r) => r.passed).length / o.repeat;
    return { name: c.name, line: c.line, runs: runs[i]!, passRate, ok: passRate >= o.minPassRate };
  });
}

async function playCase(sandbox: EvalSandbox, c: EvalCase, customer: number, prices: readonly KnownPrice[]): Promise<CaseRun> {
  const started = performance.now();
  const failures: Failure[] = [];
  const replies: Array<string | null> = [];
  for (const [i, turn] of c.turns.entries()) {
    const channel = turn.channel ?? c.channel;
    let outcome: TurnOutcome;
    try {
      const result = await sandbox.chat.runTurn({ tenant: sandbox.tenant, channel, externalUserId: customerId(channel, customer), text: turn.user });
      const id = result.conversationId;
      outcome = { result, tools: sandbox.model.take(id), checkouts: sandbox.checkouts.take(id), waiting: await sandbox.waitingForPerson(id) };
    } catch (err) {
      // A turn that fails (the model unreachable, its quota spent) fails the play; later turns would build on nothing.
      replies.push(null);
      failures.push({ turn: i + 1, expectation: 'answer', detail: `the turn failed: ${err instanceof Error ? err.message : String(err)}`, reply: null });
      break;
    }
    const reply = outcome.result.reply;
    replies.push(reply);
    for (const unmet of turn.expect ? checkTurn(turn.expect, outcome, prices) : []) failures.push({ turn: i + 1, ...unmet, reply });
  }
  return { passed: failures.length === 0, failures, replies, ms: performance.now() - started };
}

/** An id of the channel's own form: a number on WhatsApp (the lead flow offers it back), a plain id elsewhere. */
function customerId(channel: Channel, n: number): string {
  return channel === 'whatsapp' ? `+1555${String(n).padStart(7, '0')}` : `eval-customer-${n}`;
}

async function knownPrices(sandbox: EvalSandbox): Promise<KnownPrice[]> {
  const digits = (currency: string) => fractionDigits(currency) ?? 2;
  const items = (await sandbox.catalogItems()).map((i) => ({ minor: i.price, currency: i.currency.toLowerCase(), digits: digits(i.currency) }));
  const plans = (sandbox.tenant.settings.plans ?? [])
    .filter((p) => p.amount !== undefined && p.currency !== undefined)
    .map((p) => ({ minor: p.amount!, currency: p.currency!, digits: digits(p.currency!) }));
  return [...items, ...plans];
}
