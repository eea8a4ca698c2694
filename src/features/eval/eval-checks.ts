import type { TurnResult } from '../chat/chat.types.js';
import { questionLanguage } from '../knowledge/query-terms.js';
import { compileMatcher } from './eval-cases.js';
import type { CheckoutRecord, ToolCallRecord } from './eval-sandbox.js';
import type { Expectations, ToolExpectation } from './eval.types.js';
import { pricesIn, samePrice } from './price-text.js';

/** What one turn did, as the expectations see it. */
export interface TurnOutcome {
  result: TurnResult;
  tools: ToolCallRecord[];
  checkouts: CheckoutRecord[];
  /** The customer waits for a person after the turn. */
  waiting: boolean;
}

/** Prices the bot may write: each catalog item's and each plan's, in minor units of its currency. */
export interface KnownPrice {
  minor: number;
  currency: string;
  /** The currency's fraction digits (2 for NOK, 0 for JPY). */
  digits: number;
}

export interface Unmet {
  expectation: keyof Expectations;
  detail: string;
}

/** Every expectation of the turn that did not hold, in the order the keys are documented. */
export function checkTurn(expect: Expectations, outcome: TurnOutcome, prices: readonly KnownPrice[]): Unmet[] {
  const reply = outcome.result.reply;
  const unmet: Unmet[] = [];
  const fail = (expectation: keyof Expectations, detail: string) => unmet.push({ expectation, detail });
  const text = reply === null ? null : comparable(reply);
  for (const s of expect.contains ?? []) {
    if (text === null) fail('contains', `nobody answered (expected "${s}")`);
    else if (!text.includes(comparable(s))) fail('contains', `"${s}" is not in the reply`);
  }
  for (const s of expect.not_contains ?? []) {
    if (text !== null && text.includes(comparable(s))) fail('not_contains', `"${s}" is in the reply`);
  }
  if (expect.matches !== undefined && !compileMatcher(expect.matches).test(reply ?? '')) fail('matches', `the reply does not match ${expect.matches}`);
  for (const tool of expect.tool ?? []) {
    const problem = toolProblem(tool, outcome.tools);
    if (problem) fail('tool', problem);
  }
  if (expect.lead !== undefined) {
    const problem = leadProblem(expect.lead, outcome.result.lead);
    if (problem) fail('lead', problem);
  }
  if (expect.checkout !== undefined) {
    const problem = checkoutProblem(expect.checkout, outcome);
    if (problem) fail('checkout', problem);
  }
  if (expect.handoff !== undefined && expect.handoff !== outcome.waiting) {
    fail('handoff', expect.handoff ? 'the customer is not waiting for a person' : 'the customer was handed to a person');
  }
  if (expect.sources !== undefined) {
    const problem = sourcesProblem(expect.sources, outcome.result.sources ?? []);
    if (problem) fail('sources', problem);
  }
  if (expect.no_invented_price) {
    const invented = pricesIn(reply ?? '').filter((m) => !prices.some((p) => samePrice(m, p.minor, p.currency, p.digits)));
    if (invented.length > 0) fail('no_invented_price', `${invented.map((m) => `"${m.text}"`).join(', ')} ${invented.length === 1 ? 'is not the price' : 'are not prices'} of any catalog item or plan`);
  }
  if (expect.language !== undefined) {
    const seen = reply === null ? undefined : questionLanguage(reply);
    if (seen !== expect.language) fail('language', seen ? `the reply is in ${seen}, not ${expect.language}` : `the reply's language could not be told (expected ${expect.language})`);
  }
  return unmet;
}

/** Case, Unicode form and spacing (no-break spaces in formatted prices) do not matter to contains. */
function comparable(s: string): string {
  return s.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ');
}

function toolProblem(expected: ToolExpectation, calls: readonly ToolCallRecord[]): string | undefined {
  const named = calls.filter((c) => c.name === expected.name);
  const matching = named.filter((c) => argsMatch(c.args, expected.args ?? {}));
  const wanted = expected.args ? `${expected.name} with ${describeArgs(expected.args)}` : expected.name;
  if (expected.called === false) return matching.length > 0 ? `${wanted} was called` : undefined;
  if (matching.length > 0) return undefined;
  if (named.length > 0) return `${expected.name} was called with ${named.map((c) => JSON.stringify(c.args)).join(', ')}, not ${describeArgs(expected.args ?? {})}`;
  const others = [...new Set(calls.map((c) => c.name))];
  return `${wanted} was not called${others.length ? ` (called: ${others.join(', ')})` : ' (no tool was called)'}`;
}

function argsMatch(args: unknown, expected: Record<string, string | number | boolean>): boolean {
  if (typeof args !== 'object' || args === null) return Object.keys(expected).length === 0;
  const given = args as Record<string, unknown>;
  return Object.entries(expected).every(([k, v]) => sameValue(given[k], v));
}

function sameValue(actual: unknown, expected: string | number | boolean): boolean {
  if (typeof expected === 'string') return typeof actual === 'string' && actual.trim().toLowerCase() === expected.trim().toLowerCase();
  if (typeof expected === 'number') return Number(actual) === expected;
  return actual === expected;
}

function describeArgs(args: Record<string, unknown>): string {
  return Object.entries(args)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
}

function leadProblem(expected: NonNullable<Expectations['lead']>, lead: TurnResult['lead']): string | undefined {
  if (expected === false) return lead ? `a lead was captured (${lead.email})` : undefined;
  if (!lead) return 'no lead was captured';
  if (expected === true) return undefined;
  const wrong = (['email', 'name', 'whatsapp'] as const).filter((k) => expected[k] !== undefined && (lead[k] ?? '').toLowerCase() !== expected[k]!.toLowerCase());
  return wrong.length ? wrong.map((k) => `${k} is ${lead[k] ?? 'missing'}, not ${expected[k]}`).join('; ') : undefined;
}

function checkoutProblem(expected: NonNullable<Expectations['checkout']>, outcome: TurnOutcome): string | undefined {
  const made = outcome.checkouts;
  if (expected === false) return made.length ? `a checkout link was made (${made.map((m) => m.request.ref).join(', ')})` : undefined;
  if (expected !== true && made.some((m) => checkoutMatches(expected, m))) return undefined;
  if (expected === true && made.length > 0) return undefined;
  if (made.length > 0) return `made ${made.map(describeCheckout).join(', ')}`;
  // Why none was made, when the tool said so (no Stripe key, a tenant that cannot charge, an unknown item).
  const refused = outcome.tools.find((c) => c.name === 'create_checkout_link' && c.result.ok === false);
  return refused ? `no checkout link was made: ${String(refused.result.error)} (${String(refused.result.message)})` : 'no checkout link was made';
}

function checkoutMatches(expected: Exclude<NonNullable<Expectations['checkout']>, boolean>, m: CheckoutRecord): boolean {
  const { request, link } = m;
  return (
    (expected.item === undefined || (request.kind === 'item' && request.ref === expected.item)) &&
    (expected.plan === undefined || (request.kind === 'plan' && request.ref === expected.plan)) &&
    (expected.amount === undefined || link.amount === expected.amount) &&
    (expected.currency === undefined || link.currency.toLowerCase() === expected.currency) &&
    (expected.quantity === undefined || link.quantity === expected.quantity)
  );
}

function describeCheckout(m: CheckoutRecord): string {
  return `${m.request.kind} ${m.request.ref} × ${m.link.quantity} at ${m.link.amount} ${m.link.currency}`;
}

function sourcesProblem(expected: true | string[], cited: NonNullable<TurnResult['sources']>): string | undefined {
  if (expected === true) return cited.length ? undefined : 'no knowledge source was cited';
  const missing = expected.filter((want) => !cited.some((s) => sameSource(s, want)));
  if (missing.length === 0) return undefined;
  const seen = cited.map((s) => s.url ?? s.title).join(', ');
  return `${missing.join(', ')} not cited (${seen ? `cited: ${seen}` : 'none cited'})`;
}

/** A page by its URL (a trailing slash aside), a file by its title. */
function sameSource(source: { title: string; url: string | null }, want: string): boolean {
  const trim = (u: string) => u.replace(/\/+$/, '');
  if (source.url && trim(source.url) === trim(want)) return true;
  return source.title.toLowerCase() === want.toLowerCase();
}
