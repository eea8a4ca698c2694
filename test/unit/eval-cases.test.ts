import test from 'ava';
import { CaseFileError, compileMatcher, parseCaseFile, REPLY_LANGUAGES, TOOL_NAMES } from '../../src/features/eval/eval-cases.js';

/** The problems of a file that must be refused (fails the test when it is accepted). */
function problemsOf(text: string): CaseFileError['problems'] {
  const err = (() => {
    try {
      parseCaseFile(text, 'evals/shop.yaml');
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(err instanceof CaseFileError)) throw new Error(`expected a CaseFileError, got ${String(err)}`);
  return err.problems;
}

/** A file of one case whose only turn expects `expect` (YAML at the indentation of the expect's keys). */
const oneTurn = (expect: string) => `cases:\n  - name: one\n    turns:\n      - user: hi\n        expect:\n${expect}`;

test('a file with every kind of expectation is normalised, with the line of each case and turn', (t) => {
  const text = `# the shop's cases
cases:
  - name: price of the mug
    turns:
      - user: "  How much is the blue mug?  "
        expect:
          contains: "249"
          not_contains: [sorry, "can't"]
          matches: "NOK\\\\s?249"
          tool: create_checkout_link
          lead: true
          checkout: { item: sku-1, amount: 24900, currency: NOK, quantity: 1 }
          handoff: false
          sources: https://shop.example/returns
          no_invented_price: true
          language: en
      - user: Send it to me
        channel: whatsapp
        expect:
          tool:
            - search_catalog
            - { name: create_checkout_link, args: { item_id: sku-1, quantity: 2, gift: false } }
            - { name: capture_lead, called: false }
          lead: { email: ana@example.com, name: Ana, whatsapp: "+4791234567" }
          checkout: false
          sources: true
  - name: asks for a person
    channel: instagram
    turns:
      - user: I want to talk to someone
        expect:
          tool: { name: request_human, args: { reason: asked } }
          handoff: true
          checkout: { plan: pro }
          lead: false
          sources: [https://shop.example/contact, Opening hours]
      - user: thanks
`;
  t.deepEqual(parseCaseFile(text, 'evals/shop.yaml'), {
    cases: [
      {
        name: 'price of the mug',
        channel: 'web',
        line: 3,
        turns: [
          {
            user: 'How much is the blue mug?',
            line: 5,
            expect: {
              contains: ['249'],
              not_contains: ['sorry', "can't"],
              matches: 'NOK\\s?249',
              tool: [{ name: 'create_checkout_link' }],
              lead: true,
              checkout: { item: 'sku-1', amount: 24900, currency: 'nok', quantity: 1 },
              handoff: false,
              sources: ['https://shop.example/returns'],
              no_invented_price: true,
              language: 'en',
            },
          },
          {
            user: 'Send it to me',
            channel: 'whatsapp',
            line: 17,
            expect: {
              tool: [
                { name: 'search_catalog' },
                { name: 'create_checkout_link', args: { item_id: 'sku-1', quantity: 2, gift: false } },
                { name: 'capture_lead', called: false },
              ],
              lead: { email: 'ana@example.com', name: 'Ana', whatsapp: '+4791234567' },
              checkout: false,
              sources: true,
            },
          },
        ],
      },
      {
        name: 'asks for a person',
        channel: 'instagram',
        line: 27,
        turns: [
          {
            user: 'I want to talk to someone',
            line: 30,
            expect: {
              tool: [{ name: 'request_human', args: { reason: 'asked' } }],
              handoff: true,
              checkout: { plan: 'pro' },
              lead: false,
              sources: ['https://shop.example/contact', 'Opening hours'],
            },
          },
          { user: 'thanks', line: 37 },
        ],
      },
    ],
  });
});

test('one string and a list of strings both become a list', (t) => {
  const expectOf = (yaml: string) => parseCaseFile(oneTurn(yaml), 'f.yaml').cases[0]!.turns[0]!.expect;
  t.deepEqual(expectOf('          contains: mug\n          not_contains: sorry\n'), { contains: ['mug'], not_contains: ['sorry'] });
  t.deepEqual(expectOf('          contains: [mug, "249"]\n          not_contains:\n            - sorry\n            - oops\n'), { contains: ['mug', '249'], not_contains: ['sorry', 'oops'] });
  t.deepEqual(expectOf('          tool: [search_catalog]\n'), { tool: [{ name: 'search_catalog' }] });
});

test('a /body/flags matcher takes its flags; any other pattern is case-insensitive', (t) => {
  const slashed = compileMatcher('/NOK\\s?249/i');
  t.is(slashed.source, 'NOK\\s?249');
  t.is(slashed.flags, 'i');
  t.true(slashed.test('nok 249'));
  const caseSensitive = compileMatcher('/NOK/');
  t.is(caseSensitive.flags, '');
  t.false(caseSensitive.test('nok'));
  const plain = compileMatcher('NOK\\s?249');
  t.is(plain.flags, 'iu');
  t.true(plain.test('only nok249 today'));
  // Not flags after the last slash: the whole string is the pattern.
  t.is(compileMatcher('/returns/policy').source, '\\/returns\\/policy');
  t.throws(() => compileMatcher('(unclosed'), { instanceOf: SyntaxError });
  t.throws(() => compileMatcher('/a/gg'), { instanceOf: SyntaxError });
});

test('the exported lists', (t) => {
  t.deepEqual([...TOOL_NAMES], ['search_catalog', 'create_checkout_link', 'capture_lead', 'search_knowledge', 'request_human']);
  t.deepEqual([...REPLY_LANGUAGES], ['en', 'es', 'pt', 'fr', 'de', 'it', 'nb']);
});

test('an unknown key inside expect is reported at its line, naming the keys allowed', (t) => {
  t.deepEqual(problemsOf(oneTurn('          contains: mug\n          contians: x\n')), [
    {
      line: 7,
      path: 'cases[0].turns[0].expect.contians',
      message: 'unknown key; allowed: contains, not_contains, matches, tool, lead, checkout, handoff, sources, no_invented_price, language',
    },
  ]);
});

test('a bad regular expression is reported at the matches line', (t) => {
  t.deepEqual(problemsOf(oneTurn('          matches: "NOK (249"\n')), [
    { line: 6, path: 'cases[0].turns[0].expect.matches', message: 'invalid regular expression: /NOK (249/iu: Unterminated group' },
  ]);
});

test('an unknown channel is reported with the channels there are', (t) => {
  const text = 'cases:\n  - name: one\n    turns:\n      - user: hi\n        channel: sms\n';
  t.deepEqual(problemsOf(text), [
    { line: 5, path: 'cases[0].turns[0].channel', message: '"sms" is not a channel; one of web, messenger, instagram, whatsapp, fb_comment, ig_comment' },
  ]);
});

test('an unknown tool is reported at the tool line, whether written alone or in a mapping', (t) => {
  const tools = 'one of search_catalog, create_checkout_link, capture_lead, search_knowledge, request_human';
  t.deepEqual(problemsOf(oneTurn('          tool: search_web\n')), [{ line: 6, path: 'cases[0].turns[0].expect.tool[0].name', message: `"search_web" is not a tool; ${tools}` }]);
  t.deepEqual(problemsOf(oneTurn('          tool:\n            - search_catalog\n            - name: search_web\n')), [
    { line: 8, path: 'cases[0].turns[0].expect.tool[1].name', message: `"search_web" is not a tool; ${tools}` },
  ]);
});

test('an empty expect is refused, written as {} or as nothing', (t) => {
  const message = 'an empty expect checks nothing; remove it or add an expectation';
  t.deepEqual(problemsOf('cases:\n  - name: one\n    turns:\n      - user: hi\n        expect: {}\n'), [{ line: 5, path: 'cases[0].turns[0].expect', message }]);
  t.deepEqual(problemsOf(oneTurn('')), [{ line: 5, path: 'cases[0].turns[0].expect', message }]);
});

test('two cases of the same name are refused at the second', (t) => {
  const text = 'cases:\n  - name: greets\n    turns: [{ user: hi }]\n  - name: "greets "\n    turns: [{ user: hello }]\n';
  t.deepEqual(problemsOf(text), [{ line: 4, path: 'cases[1].name', message: 'cases[0] (line 2) has this name too; case names must be unique' }]);
});

test('a turn without user is reported at the turn', (t) => {
  const text = 'cases:\n  - name: one\n    turns:\n      - user: hi\n      - channel: web\n        expect: { handoff: true }\n';
  t.deepEqual(problemsOf(text), [{ line: 5, path: 'cases[0].turns[1].user', message: "missing the customer's message" }]);
});

test('a YAML syntax error is reported at its line, and nothing else is checked', (t) => {
  const text = 'cases:\n  - name: one\n    turns: [{ user: hi }\n  - name: two\n';
  t.deepEqual(problemsOf(text), [{ line: 4, path: '(file)', message: 'invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]' }]);
  const err = t.throws(() => parseCaseFile('cases:\n  - name: a\n    name: b\n', 'evals/shop.yaml'), { instanceOf: CaseFileError });
  t.is(err.message, 'evals/shop.yaml:3: (file): invalid YAML: Map keys must be unique');
});

test('an empty file, and a file that is not a mapping with cases, say what is expected', (t) => {
  const empty = t.throws(() => parseCaseFile('', 'evals/shop.yaml'), { instanceOf: CaseFileError });
  t.is(empty.message, 'evals/shop.yaml: (file): the file is empty; expected a mapping with a `cases` list');
  t.deepEqual(problemsOf('# nothing yet\n'), [{ line: null, path: '(file)', message: 'the file is empty; expected a mapping with a `cases` list' }]);
  t.deepEqual(problemsOf('- name: one\n'), [{ line: 1, path: '(file)', message: 'expected a mapping with a `cases` list' }]);
  t.deepEqual(problemsOf('\ncase:\n  - name: one\n'), [
    { line: 2, path: 'cases', message: 'missing a list of cases' },
    { line: 2, path: 'case', message: 'unknown key; the file holds only `cases`' },
  ]);
  t.deepEqual(problemsOf('cases: []\n'), [{ line: 1, path: 'cases', message: 'no cases; add at least one' }]);
});

test('sources: false is refused with a hint to omit it', (t) => {
  t.deepEqual(problemsOf(oneTurn('          sources: false\n')), [{ line: 6, path: 'cases[0].turns[0].expect.sources', message: '`sources: false` checks nothing; omit it' }]);
});

test('lead and checkout mappings are checked field by field', (t) => {
  t.deepEqual(problemsOf(oneTurn('          lead: { emial: a@b.c }\n          checkout:\n            item: sku-1\n            amount: 249.5\n            currency: kroner\n')), [
    { line: 6, path: 'cases[0].turns[0].expect.lead.emial', message: 'unknown key; allowed: email, name, whatsapp' },
    { line: 9, path: 'cases[0].turns[0].expect.checkout.amount', message: 'expected a positive whole amount in minor units (24900 for NOK 249)' },
    { line: 10, path: 'cases[0].turns[0].expect.checkout.currency', message: 'expected a three-letter currency code' },
  ]);
  t.deepEqual(problemsOf(oneTurn('          checkout: { item: sku-1, plan: pro }\n')), [
    { line: 6, path: 'cases[0].turns[0].expect.checkout.plan', message: 'a link is for an item or a plan; give one of them' },
  ]);
  t.deepEqual(problemsOf(oneTurn('          checkout: {}\n          lead: yes\n')), [
    { line: 6, path: 'cases[0].turns[0].expect.checkout', message: 'an empty mapping checks nothing; write `checkout: true` for any link' },
    { line: 7, path: 'cases[0].turns[0].expect.lead', message: 'expected true, false or a mapping of email, name, whatsapp' },
  ]);
});

test('every problem of the file is reported at once, in line order', (t) => {
  const text = `cases:
  - name: quotes the price
    channel: sms
    turns:
      - user: "   "
        expect:
          contains: 249
          language: sv
  - name: quotes the price
    turns: []
  - turns:
      - user: hi
        expect:
          tool: { name: capture_lead, args: { email: null } }
`;
  const err = t.throws(() => parseCaseFile(text, 'evals/shop.yaml'), { instanceOf: CaseFileError });
  t.is(
    err.message,
    [
      'evals/shop.yaml:3: cases[0].channel: "sms" is not a channel; one of web, messenger, instagram, whatsapp, fb_comment, ig_comment',
      'evals/shop.yaml:5: cases[0].turns[0].user: must not be blank',
      'evals/shop.yaml:7: cases[0].turns[0].expect.contains: expected a string or a list of strings',
      'evals/shop.yaml:8: cases[0].turns[0].expect.language: "sv" is not a reply language; one of en, es, pt, fr, de, it, nb',
      'evals/shop.yaml:9: cases[1].name: cases[0] (line 2) has this name too; case names must be unique',
      'evals/shop.yaml:10: cases[1].turns: a case needs at least one turn',
      'evals/shop.yaml:11: cases[2].name: missing a name for the case',
      'evals/shop.yaml:14: cases[2].turns[0].expect.tool[0].args.email: expected a string, a number or true/false',
    ].join('\n'),
  );
  t.is(err.problems.length, 8);
});

test('past 20 problems the message lists the first 20 and counts the rest', (t) => {
  const cases = Array.from({ length: 25 }, (_, i) => `  - name: case ${i}\n    turns: [{ user: hi, channel: sms }]\n`).join('');
  const err = t.throws(() => parseCaseFile(`cases:\n${cases}`, 'evals/shop.yaml'), { instanceOf: CaseFileError });
  t.is(err.problems.length, 25);
  const lines = err.message.split('\n');
  t.is(lines.length, 21);
  t.is(lines[0], 'evals/shop.yaml:3: cases[0].turns[0].channel: "sms" is not a channel; one of web, messenger, instagram, whatsapp, fb_comment, ig_comment');
  t.true(lines[19]!.startsWith('evals/shop.yaml:41: cases[19].turns[0].channel: '));
  t.is(lines[20], '… and 5 more');
});
