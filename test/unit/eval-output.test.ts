import test from 'ava';
import { Readable, Writable } from 'node:stream';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { CliIO } from '../../src/cli/io.js';
import { compareReports, junitXml, printComparison, printReport, reportView } from '../../src/features/eval/eval-output.js';
import type { CaseResult, CaseRun, EvalReport, Failure } from '../../src/features/eval/eval.types.js';

const NASTY = 'Try <script>alert(1)</script> & "quotes" \'apos\' \u0001 bell 🎉 and a reply too long for one table cell';

const run = (replies: Array<string | null>, failures: Failure[] = [], ms = 1500): CaseRun => ({ passed: failures.length === 0, failures, replies, ms });

const greets: CaseResult = {
  name: 'greets in Spanish',
  line: 3,
  runs: [run(['¡Hola! ¿En qué puedo ayudarte?\nEstoy aquí.'])],
  passRate: 1,
  ok: true,
};

const priceFailures: Failure[] = [
  { turn: 1, expectation: 'contains', detail: "expected 'NOK 499', not in the reply", reply: NASTY },
  { turn: 2, expectation: 'checkout', detail: 'expected a checkout link, none was made', reply: null },
];
const quotesPrice: CaseResult = { name: 'quotes the price', line: 9, runs: [run([NASTY, null], priceFailures)], passRate: 0, ok: false };

const report: EvalReport = {
  tenant: 'acme',
  file: 'evals/acme.yaml',
  provider: 'openai',
  model: 'gpt-4o-mini',
  repeat: 1,
  minPassRate: 1,
  cases: [greets, quotesPrice],
  usage: [
    { model: 'gpt-4o-mini', requests: 12, inputTokens: 3450, outputTokens: 410, costUsd: 0.0012 },
    { model: 'llama3.1', requests: 1, inputTokens: 20, outputTokens: 5, costUsd: null },
  ],
  ms: 12_345,
};

const leadFailure: Failure = { turn: 2, expectation: 'lead', detail: 'expected a lead, none was captured', reply: 'Thanks!' };
const repeated: EvalReport = {
  ...report,
  provider: 'offline',
  model: null,
  repeat: 3,
  minPassRate: 0.8,
  cases: [
    { name: 'captures a lead', line: 20, runs: [run(['Hi', 'Got it']), run(['Hi', 'Thanks!'], [leadFailure]), run(['Hi', 'Got it'])], passRate: 2 / 3, ok: false },
  ],
  usage: [],
  ms: 900,
};

/** Reads attributes as `@name`, and character references (&#10;) as every XML parser does. */
const parser = (options: { isArray?: (name: string) => boolean } = {}) => new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', htmlEntities: true, ...options });

function fakeIO(isTTY = false): { io: CliIO; output: () => string } {
  let text = '';
  const stdout = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  const io: CliIO = { stdout: Object.assign(stdout, { isTTY }), stderr: new Writable({ write: (_c, _e, done) => done() }), stdin: Readable.from([]), env: {}, cwd: '/' };
  return { io, output: () => text };
}

test('reportView is the snake_case --json document', (t) => {
  const view = reportView(report);
  t.like(view, { tenant: 'acme', file: 'evals/acme.yaml', provider: 'openai', model: 'gpt-4o-mini', repeat: 1, min_pass_rate: 1, passed: 1, failed: 1, seconds: 12.35 });
  t.deepEqual(view.cases[0], { name: 'greets in Spanish', line: 3, ok: true, pass_rate: 1, runs: 1, passed_runs: 1, failures: [], replies: ['¡Hola! ¿En qué puedo ayudarte?\nEstoy aquí.'] });
  t.deepEqual(view.cases[1]!.failures, [
    { run: 1, turn: 1, expectation: 'contains', detail: "expected 'NOK 499', not in the reply", reply: NASTY },
    { run: 1, turn: 2, expectation: 'checkout', detail: 'expected a checkout link, none was made', reply: null },
  ]);
  t.deepEqual(view.cases[1]!.replies, [NASTY, null]);
  t.deepEqual(view.usage, [
    { model: 'gpt-4o-mini', requests: 12, input_tokens: 3450, output_tokens: 410, cost_usd: 0.0012 },
    { model: 'llama3.1', requests: 1, input_tokens: 20, output_tokens: 5, cost_usd: null },
  ]);
  // Known costs are summed; an unknown price is not counted as free, nor does it hide the known ones.
  t.is(view.cost_usd, 0.0012);
  t.is(reportView({ ...report, usage: [report.usage[1]!] }).cost_usd, null);
});

test('reportView counts a repeated case by its runs, failures named by run', (t) => {
  const c = reportView(repeated).cases[0]!;
  t.like(c, { ok: false, runs: 3, passed_runs: 2, replies: ['Hi', 'Got it'] });
  t.deepEqual(c.failures, [{ run: 2, ...leadFailure }]);
  t.is(reportView(repeated).cost_usd, null);
});

test('junitXml is valid JUnit XML that keeps a hostile reply as text', (t) => {
  const xml = junitXml(report, new Date('2024-05-01T12:00:12.345Z'));
  t.true(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n'));
  t.true(XMLValidator.validate(xml));
  t.false(xml.includes('\u0001'));
  t.false(xml.includes('<script>'));

  const doc = parser({ isArray: (name) => name === 'testcase' }).parse(xml);
  const suites = doc.testsuites;
  t.like(suites, { '@name': 'zia eval', '@tests': '2', '@failures': '1', '@errors': '0', '@time': '12.345' });
  const suite = suites.testsuite;
  t.like(suite, { '@name': 'acme: evals/acme.yaml', '@tests': '2', '@failures': '1', '@errors': '0', '@skipped': '0', '@time': '12.345', '@timestamp': '2024-05-01T12:00:00' });
  t.is(suite.testcase.length, 2);
  const [pass, fail] = suite.testcase;
  t.like(pass, { '@classname': 'zia.eval.acme', '@name': 'greets in Spanish', '@time': '1.500' });
  t.is(pass.failure, undefined);
  t.is(pass.properties, undefined);
  t.like(fail, { '@classname': 'zia.eval.acme', '@name': 'quotes the price' });
  t.is(fail.failure['@message'], "turn 1: contains: expected 'NOK 499', not in the reply");
  t.is(fail.failure['@type'], 'contains');
  t.is(
    fail.failure['#text'],
    [
      "run 1 turn 1: contains: expected 'NOK 499', not in the reply",
      `  reply: ${NASTY.replace('\u0001', '')}`,
      'run 1 turn 2: checkout: expected a checkout link, none was made',
      '  reply: (no reply)',
    ].join('\n'),
  );
});

test('junitXml drops what XML 1.0 cannot hold and keeps attribute text exact', (t) => {
  const odd = 'line\nbreak\ttab\rcr \uD800 lone \uFFFE end';
  const xml = junitXml({ ...report, cases: [{ ...quotesPrice, name: odd }] });
  t.true(XMLValidator.validate(xml));
  const doc = parser().parse(xml);
  t.is(doc.testsuites.testsuite.testcase['@name'], 'line\nbreak\ttab\rcr  lone  end');
});

test('junitXml gives a repeated case its pass rate', (t) => {
  const xml = junitXml(repeated);
  t.true(XMLValidator.validate(xml));
  const testcase = parser().parse(xml).testsuites.testsuite.testcase;
  t.like(testcase.properties.property, { '@name': 'pass_rate', '@value': '0.67' });
  t.is(testcase.failure['@message'], 'run 2 turn 2: lead: expected a lead, none was captured');
  t.is(testcase.failure['@type'], 'lead');
  t.true(testcase.failure['#text'].startsWith('2/3 runs passed, minimum pass rate 0.80\nrun 2 turn 2: lead:'));
});

test('printReport prints a plain table, the other failures, the summary and usage', (t) => {
  const { io, output } = fakeIO();
  printReport(io, report);
  const lines = output().split('\n');
  t.false(output().includes('\u001b['), 'no colour when stdout is not a TTY');
  t.regex(lines[0]!, /^CASE\s+RESULT\s+EXPECTATION\s+REPLY$/);
  t.regex(lines[1]!, /^greets in Spanish\s+pass\s+¡Hola! ¿En qué puedo ayudarte\? Estoy aquí\.$/);
  const cut = `${Array.from(NASTY.replace('\u0001', ' ').replace(/\s+/g, ' ')).slice(0, 59).join('')}…`;
  t.is(lines[2], `quotes the price   FAIL    turn 1: contains: expected 'NOK 499', not in the reply  ${cut}`);
  t.is(lines[3], '  quotes the price: turn 2: checkout: expected a checkout link, none was made');
  t.is(lines[4], '');
  t.is(lines[5], '1 passed, 1 failed (of 2 cases, 1 run each) in 12.3 s');
  t.is(lines[6], 'model gpt-4o-mini: 12 requests, 3,450 tokens in, 410 tokens out, ~$0.0012');
  t.is(lines[7], 'model llama3.1: 1 request, 20 tokens in, 5 tokens out, no price known; set ZIA_MODEL_PRICES');
  t.is(lines.length, 9);
});

test('printReport colours only the summary on a terminal, so table cells stay aligned', (t) => {
  const { io, output } = fakeIO(true);
  printReport(io, report);
  const lines = output().split('\n');
  t.false(lines.slice(1, 4).some((l) => l.includes('\u001b[')));
  t.is(lines[5], '\u001b[31m1 passed, 1 failed (of 2 cases, 1 run each) in 12.3 s\u001b[39m');
});

test('printReport shows the pass rate of repeated runs and an offline run without requests', (t) => {
  const { io, output } = fakeIO();
  printReport(io, repeated);
  const lines = output().split('\n');
  t.regex(lines[1]!, /^captures a lead\s+2\/3 \(67%\) FAIL\s+run 2 turn 2: lead: expected a lead, none was captured\s+Thanks!$/);
  t.is(lines[3], '0 passed, 1 failed (of 1 case, 3 runs each) in 0.9 s');
  t.is(lines[4], 'offline provider: no model requests');
});

test('printReport lists at most ten further failures of a case', (t) => {
  const many = Array.from({ length: 14 }, (_, i): Failure => ({ turn: i + 1, expectation: 'contains', detail: `missing ${i + 1}`, reply: 'x' }));
  const { io, output } = fakeIO();
  printReport(io, { ...report, cases: [{ ...quotesPrice, runs: [run(['x'], many)] }] });
  const listed = output().split('\n').filter((l) => l.startsWith('  quotes the price: '));
  t.is(listed.length, 11);
  t.is(listed[0], '  quotes the price: turn 2: contains: missing 2');
  t.is(listed[10], '  quotes the price: 3 more (--json lists them all)');
});

test('compareReports finds exactly the cases whose outcome changed', (t) => {
  const pass: CaseResult = { name: '', runs: [run(['ok'])], passRate: 1, ok: true };
  const fail: CaseResult = { name: '', runs: [run(['no'], [leadFailure])], passRate: 0, ok: false };
  const before: EvalReport = { ...report, cases: [{ ...pass, name: 'a' }, { ...pass, name: 'b' }, { ...fail, name: 'c' }, { ...fail, name: 'd' }] };
  const after: EvalReport = { ...report, cases: [{ ...pass, name: 'a' }, { ...fail, name: 'b' }, { ...pass, name: 'c' }, { ...fail, name: 'd' }] };
  t.deepEqual(compareReports(before, after), [
    { name: 'b', before: 'pass', after: 'fail' },
    { name: 'c', before: 'fail', after: 'pass' },
  ]);
  t.deepEqual(compareReports(before, before), []);

  const threeRuns = (name: string, passed: number): CaseResult => ({
    name,
    runs: Array.from({ length: 3 }, (_, i) => (i < passed ? run(['ok']) : run(['no'], [leadFailure]))),
    passRate: passed / 3,
    ok: passed === 3,
  });
  const r3 = (cases: CaseResult[]): EvalReport => ({ ...report, repeat: 3, cases });
  t.deepEqual(compareReports(r3([threeRuns('a', 3), threeRuns('b', 2)]), r3([threeRuns('a', 3), threeRuns('b', 1)])), [{ name: 'b', before: '2/3', after: '1/3' }]);
  // One run against three: a pass is 3/3, not a change.
  t.deepEqual(compareReports({ ...before, cases: [{ ...pass, name: 'a' }] }, r3([threeRuns('a', 3)])), []);
});

test('printComparison prints the changed cases under the two labels, or says none changed', (t) => {
  const { io, output } = fakeIO();
  printComparison(io, [{ name: 'quotes the price', before: 'pass', after: 'fail' }], { before: 'gpt-4o-mini', after: 'gpt-4.1' });
  t.deepEqual(output().split('\n'), ['CASE              gpt-4o-mini  gpt-4.1', 'quotes the price  pass         fail', '']);

  const none = fakeIO();
  printComparison(none.io, [], { before: 'a', after: 'b' });
  t.is(none.output(), 'no case changed outcome\n');
});
