import { colors, println, printTable, type CliIO } from '../../cli/io.js';
import type { CaseResult, EvalReport, Failure } from './eval.types.js';

/**
 * What `zia eval` shows of a run: the `--json` document, the table for people, JUnit XML for CI, and
 * the cases that changed between two runs (another model, another prompt).
 */

/** A failure with the 1-based run it happened in. */
type RunFailure = Failure & { run: number };

/** Further failures of a case listed under the table; `--json` has the rest. */
const MAX_LISTED_FAILURES = 10;
const REPLY_WIDTH = 60;

export function reportView(report: EvalReport) {
  return {
    tenant: report.tenant,
    file: report.file,
    provider: report.provider,
    model: report.model,
    repeat: report.repeat,
    min_pass_rate: report.minPassRate,
    passed: report.cases.filter((c) => c.ok).length,
    failed: report.cases.filter((c) => !c.ok).length,
    cases: report.cases.map((c) => ({
      name: c.name,
      line: c.line ?? null,
      ok: c.ok,
      pass_rate: c.passRate,
      runs: c.runs.length,
      passed_runs: passedRuns(c),
      failures: runFailures(c).map((f) => ({ run: f.run, turn: f.turn, expectation: f.expectation, detail: f.detail, reply: f.reply })),
      replies: c.runs[0]?.replies ?? [],
    })),
    usage: report.usage.map((u) => ({ model: u.model, requests: u.requests, input_tokens: u.inputTokens, output_tokens: u.outputTokens, cost_usd: u.costUsd })),
    cost_usd: totalCost(report),
    seconds: Math.round(report.ms / 10) / 100,
  };
}

/** The known costs summed; null when no model has a price, so "unknown" never reads as "free". */
function totalCost(report: EvalReport): number | null {
  const known = report.usage.flatMap((u) => (u.costUsd === null ? [] : [u.costUsd]));
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
}

export function printReport(io: CliIO, report: EvalReport): void {
  printTable(
    io,
    ['CASE', 'RESULT', 'EXPECTATION', 'REPLY'],
    report.cases.map((c) => {
      const first = c.ok ? undefined : runFailures(c)[0];
      return [oneLine(c.name), result(c, report.repeat), first ? oneLine(failureLine(first, report.repeat)) : '', cut(oneLine(shownReply(c, first)), REPLY_WIDTH)];
    }),
  );
  for (const c of report.cases.filter((x) => !x.ok)) {
    const rest = runFailures(c).slice(1);
    for (const f of rest.slice(0, MAX_LISTED_FAILURES)) println(io.stdout, `  ${oneLine(c.name)}: ${oneLine(failureLine(f, report.repeat))}`);
    if (rest.length > MAX_LISTED_FAILURES) println(io.stdout, `  ${oneLine(c.name)}: ${rest.length - MAX_LISTED_FAILURES} more (--json lists them all)`);
  }
  printSummary(io, report);
}

/** `pass`/`FAIL`; with several runs the share that passed, then the verdict against the minimum. */
function result(c: CaseResult, repeat: number): string {
  const verdict = c.ok ? 'pass' : 'FAIL';
  return repeat > 1 ? `${passedRuns(c)}/${c.runs.length} (${Math.round(c.passRate * 100)}%) ${verdict}` : verdict;
}

/** The reply that explains the row: the failing turn's, or else how the first run's conversation ended. */
function shownReply(c: CaseResult, failure: Failure | undefined): string {
  const reply = failure ? failure.reply : (c.runs[0]?.replies.at(-1) ?? null);
  return reply ?? '(no reply)';
}

function printSummary(io: CliIO, report: EvalReport): void {
  const failed = report.cases.filter((x) => !x.ok).length;
  const c = colors(io);
  const paint = failed > 0 ? c.red : c.green;
  println(io.stdout);
  println(
    io.stdout,
    paint(`${report.cases.length - failed} passed, ${failed} failed (of ${plural(report.cases.length, 'case')}, ${plural(report.repeat, 'run')} each) in ${(report.ms / 1000).toFixed(1)} s`),
  );
  if (report.usage.length === 0) println(io.stdout, `${report.provider} provider: no model requests`);
  for (const u of report.usage) {
    const cost = u.costUsd === null ? 'no price known; set ZIA_MODEL_PRICES' : `~$${u.costUsd.toFixed(4)}`;
    println(io.stdout, `model ${u.model}: ${plural(u.requests, 'request')}, ${count(u.inputTokens)} tokens in, ${count(u.outputTokens)} tokens out, ${cost}`);
  }
}

/**
 * JUnit XML as Jenkins, GitLab and GitHub's reporters read it: a suite for the case file, a test case
 * per eval case. `finishedAt` is when the run ended; the suite's timestamp is when it started.
 */
export function junitXml(report: EvalReport, finishedAt: Date = new Date()): string {
  const failed = report.cases.filter((c) => !c.ok).length;
  const tests = report.cases.length;
  const time = seconds(report.ms);
  // The schema's timestamp is a local date-time without a zone; UTC keeps it the same on every machine.
  const started = new Date(finishedAt.getTime() - report.ms).toISOString().slice(0, 19);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="zia eval" tests="${tests}" failures="${failed}" errors="0" time="${time}">`,
    `  <testsuite name="${xmlAttr(`${report.tenant}: ${report.file}`)}" tests="${tests}" failures="${failed}" errors="0" skipped="0" time="${time}" timestamp="${started}">`,
    ...report.cases.flatMap((c) => testCase(report, c)),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function testCase(report: EvalReport, c: CaseResult): string[] {
  const open = `    <testcase classname="${xmlAttr(`zia.eval.${report.tenant}`)}" name="${xmlAttr(c.name)}" time="${seconds(c.runs.reduce((ms, r) => ms + r.ms, 0))}"`;
  const body: string[] = [];
  if (report.repeat > 1) body.push(`      <properties><property name="pass_rate" value="${c.passRate.toFixed(2)}"/></properties>`);
  if (!c.ok) body.push(failureElement(report, c));
  return body.length === 0 ? [`${open}/>`] : [`${open}>`, ...body, '    </testcase>'];
}

function failureElement(report: EvalReport, c: CaseResult): string {
  const failures = runFailures(c);
  const first = failures[0];
  // A failed run always holds a failure; should a report say otherwise, the pass rate is the message.
  const message = first ? oneLine(failureLine(first, report.repeat)) : `${passedRuns(c)}/${c.runs.length} runs passed`;
  const lines = report.repeat > 1 ? [`${passedRuns(c)}/${c.runs.length} runs passed, minimum pass rate ${report.minPassRate.toFixed(2)}`] : [];
  for (const f of failures) {
    lines.push(`run ${f.run} turn ${f.turn}: ${f.expectation}: ${f.detail}`);
    lines.push(`  reply: ${(f.reply ?? '(no reply)').replace(/\r\n?|\n/g, '\n    ')}`);
  }
  return `      <failure message="${xmlAttr(message)}" type="${xmlAttr(first?.expectation ?? 'pass_rate')}">${xmlText(lines.join('\n'))}</failure>`;
}

/**
 * Text safe in an XML 1.0 element. Characters XML 1.0 cannot hold at all (control characters but tab
 * and line breaks, lone surrogates, U+FFFE/U+FFFF) are dropped: a model's reply can contain them and
 * one would make the whole file unreadable. A CR is a reference, as parsers turn a literal one into LF.
 */
function xmlText(text: string): string {
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/gu, '').replace(/[&<>"'\r]/g, (ch) => XML_ESCAPES[ch]!);
}

/** Text safe in an XML attribute: tab and LF as references too, as parsers turn literal ones into spaces. */
function xmlAttr(text: string): string {
  return xmlText(text).replace(/[\t\n]/g, (ch) => XML_ESCAPES[ch]!);
}

const XML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

export interface OutcomeChange {
  name: string;
  before: string;
  after: string;
}

/**
 * The cases whose outcome changed between two runs of one case file (another model, prompt or
 * setting). Cases are paired by name, in order when a name repeats. Outcomes are compared by pass
 * rate, so 1 of 1 and 3 of 3 are the same when the two runs used different repeats; a case in only
 * one run shows `missing` on the other side.
 */
export function compareReports(before: EvalReport, after: EvalReport): OutcomeChange[] {
  const earlier = new Map<string, CaseResult[]>();
  for (const c of before.cases) earlier.set(c.name, [...(earlier.get(c.name) ?? []), c]);
  const changes: OutcomeChange[] = [];
  for (const c of after.cases) {
    const b = earlier.get(c.name)?.shift();
    if (!b || b.passRate !== c.passRate) changes.push({ name: c.name, before: b ? outcome(b, before.repeat) : 'missing', after: outcome(c, after.repeat) });
  }
  for (const left of earlier.values()) for (const b of left) changes.push({ name: b.name, before: outcome(b, before.repeat), after: 'missing' });
  return changes;
}

/** `pass`/`fail` for a single run; the share of runs that passed (`3/5`) for several. */
function outcome(c: CaseResult, repeat: number): string {
  if (repeat > 1) return `${passedRuns(c)}/${c.runs.length}`;
  return c.passRate === 1 ? 'pass' : 'fail';
}

export function printComparison(io: CliIO, changes: OutcomeChange[], labels: { before: string; after: string }): void {
  if (changes.length === 0) {
    println(io.stdout, 'no case changed outcome');
    return;
  }
  printTable(io, ['CASE', labels.before, labels.after], changes.map((ch) => [oneLine(ch.name), ch.before, ch.after]));
}

function passedRuns(c: CaseResult): number {
  return c.runs.filter((r) => r.passed).length;
}

/** Every failure of every run, in run order. */
function runFailures(c: CaseResult): RunFailure[] {
  return c.runs.flatMap((r, i) => r.failures.map((f) => ({ ...f, run: i + 1 })));
}

/** With several runs the run is named too: the same turn often fails differently in each. */
function failureLine(f: RunFailure, repeat: number): string {
  return `${repeat > 1 ? `run ${f.run} ` : ''}turn ${f.turn}: ${f.expectation}: ${f.detail}`;
}

/**
 * Text for one table cell or line: control characters (a model's reply can carry terminal escape
 * sequences) and line breaks become spaces, so a row stays a row and the terminal stays untouched.
 */
function oneLine(text: string): string {
  return text
    .replace(/[\u0000-\u001F\u007F-\u009F]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** At most `width` characters, counted by code point so an emoji is never split in half. */
function cut(text: string, width: number): string {
  const chars = Array.from(text);
  return chars.length > width ? `${chars.slice(0, width - 1).join('')}…` : text;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function plural(n: number, word: string): string {
  return `${count(n)} ${word}${n === 1 ? '' : 's'}`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}
