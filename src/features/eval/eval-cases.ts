import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { withoutNul } from '../../validation.js';
import { REQUEST_HUMAN_SPEC, SEARCH_KNOWLEDGE_SPEC, TOOL_SPECS } from '../ai/tools.js';
import { CHANNELS } from '../chat/chat.types.js';
import type { CaseFile } from './eval.types.js';

/**
 * The case file of `zia eval`: YAML read with every node's line kept, so each problem in it is
 * reported as `file:line: path: message`, all of them at once, and an author fixes the file in one pass.
 */

/** The tools a case may expect: a misspelt name would otherwise never be called and always fail. */
export const TOOL_NAMES = [...TOOL_SPECS, SEARCH_KNOWLEDGE_SPEC, REQUEST_HUMAN_SPEC].map((s) => s.name) as [string, ...string[]];

/** The languages a reply's language can be told in (the stop-word lists of the knowledge search). */
export const REPLY_LANGUAGES = ['en', 'es', 'pt', 'fr', 'de', 'it', 'nb'] as const;

const MAX_CASES = 1000;
const MAX_TURNS = 50;
const MAX_LISTED = 20;
const ROOT = '(file)';

export interface CaseFileProblem {
  /** 1-based; null when the problem has no place in the file. */
  line: number | null;
  /** Like `cases[0].turns[1].expect.matches`; `(file)` for the file as a whole. */
  path: string;
  message: string;
}

/** Every problem of a case file; the message lists them one a line (the first 20). */
export class CaseFileError extends Error {
  constructor(
    readonly fileName: string,
    readonly problems: CaseFileProblem[],
  ) {
    const listed = problems.slice(0, MAX_LISTED).map((p) => `${fileName}${p.line === null ? '' : `:${p.line}`}: ${p.path}: ${p.message}`);
    if (problems.length > MAX_LISTED) listed.push(`… and ${problems.length - MAX_LISTED} more`);
    super(listed.join('\n'));
    this.name = 'CaseFileError';
  }
}

/** `/body/flags` compiles with those flags; anything else is the whole pattern, case-insensitive. Throws a SyntaxError for a bad pattern. */
export function compileMatcher(pattern: string): RegExp {
  const literal = /^\/(.+)\/([dgimsuvy]*)$/su.exec(pattern);
  return literal ? new RegExp(literal[1]!, literal[2]) : new RegExp(pattern, 'iu');
}

/** The cases of a YAML case file, normalised (lists where one value may be written, defaults filled) and with the line of each case and turn. */
export function parseCaseFile(text: string, fileName: string): CaseFile {
  const lines = new LineCounter();
  // Plain messages: the line is reported apart, and the pretty form adds a multi-line excerpt.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new CaseFileError(
      fileName,
      doc.errors.map((e) => ({ line: lines.linePos(e.pos[0]).line, path: ROOT, message: `invalid YAML: ${e.message}` })),
    );
  }
  const lineAt = (path: readonly PropertyKey[]) => lineOf(doc, lines, path);
  const raw = plainData(doc, fileName);
  const result = caseFileSchema.safeParse(raw);
  const issues = [...(result.success ? [] : flatIssues(result.error.issues)), ...duplicateNames(raw, lineAt)];
  if (!result.success || issues.length > 0) {
    const problems = issues.map((i) => ({ line: lineAt(i.path), path: pathText(i.path), message: i.message }));
    throw new CaseFileError(fileName, problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  }
  return {
    cases: result.data.cases.map((c, i) => ({
      ...c,
      turns: c.turns.map((t, j) => ({ ...t, line: lineAt(['cases', i, 'turns', j]) ?? undefined })),
      line: lineAt(['cases', i]) ?? undefined,
    })),
  };
}

/** The document as plain data. An alias to no anchor is only found here, not by the parser. */
function plainData(doc: Document, fileName: string): unknown {
  try {
    // Case text goes into a conversation like a customer's message, so it is cleaned the same way.
    return withoutNul(doc.toJS());
  } catch (err) {
    throw new CaseFileError(fileName, [{ line: null, path: ROOT, message: `invalid YAML: ${err instanceof Error ? err.message : String(err)}` }]);
  }
}

type RawIssue = { input?: unknown; code?: string };

/** zod's own words ("Invalid input: expected string, received undefined") speak of types; these speak of what a case author writes. */
function expected(what: string, input: unknown): string {
  return input === undefined ? `missing ${what}` : `expected ${what}`;
}

function expecting(what: string) {
  return { error: (issue: RawIssue) => expected(what, issue.input) };
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, what: string) {
  const list = values.join(', ');
  return z.enum(values, { error: (issue: RawIssue) => (issue.input === undefined ? `missing ${what} (one of ${list})` : `${JSON.stringify(issue.input)} is not ${what}; one of ${list}`) });
}

/** A mapping that refuses keys it does not know, naming those it does. */
function mapping<S extends z.core.$ZodLooseShape>(shape: S, what: string) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, { error: (issue: RawIssue) => (issue.code === 'unrecognized_keys' ? `unknown key; allowed: ${allowed}` : expected(what, issue.input)) });
}

/** For "checks nothing" refusals: an unknown key alone also leaves a mapping empty, and is the problem to report. */
const noOtherProblem = (payload: { issues: readonly unknown[] }) => payload.issues.length === 0;

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const nonBlank = z.string(expecting('a string (quote a number: "249")')).regex(/\S/, 'must not be blank');

/** One string or a list of them, as a list: a single check is written without brackets. */
const texts = z.preprocess(
  (v) => (typeof v === 'string' ? [v] : v),
  z.array(nonBlank, expecting('a string or a list of strings')).min(1, 'an empty list checks nothing; remove the key'),
);

const channel = oneOf(CHANNELS, 'a channel');

const matcher = nonBlank.superRefine((pattern, ctx) => {
  try {
    compileMatcher(pattern);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}` });
  }
});

const toolArgs = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, a number or true/false' }), expecting('a mapping of argument values'));
/** A name alone stands for `{ name }`. */
const toolExpectation = z.preprocess(
  (v) => (typeof v === 'string' ? { name: v } : v),
  mapping({ name: oneOf(TOOL_NAMES, 'a tool'), args: toolArgs.optional(), called: z.boolean(expecting('true or false')).optional() }, 'a tool name or a mapping of name, args, called'),
);
const tools = z.preprocess(
  (v) => (typeof v === 'string' || isMapping(v) ? [v] : v),
  z.array(toolExpectation, expecting('a tool name, a mapping or a list of them')).min(1, 'an empty list checks nothing; remove the key'),
);

const lead = z.union(
  [
    z.boolean(),
    mapping({ email: nonBlank.optional(), name: nonBlank.optional(), whatsapp: nonBlank.optional() }, 'a mapping of email, name, whatsapp').refine((l) => Object.keys(l).length > 0, {
      message: 'an empty mapping checks no field; write `lead: true` for any lead',
      when: noOtherProblem,
    }),
  ],
  { error: 'expected true, false or a mapping of email, name, whatsapp' },
);

const positiveWhole = (what: string) => z.number(expecting(what)).int(`expected ${what}`).positive(`expected ${what}`);
const checkout = z.union(
  [
    z.boolean(),
    mapping(
      {
        item: nonBlank.optional(),
        plan: nonBlank.optional(),
        amount: positiveWhole('a positive whole amount in minor units (24900 for NOK 249)').optional(),
        currency: z
          .string(expecting('a three-letter currency code'))
          .regex(/^[a-z]{3}$/i, 'expected a three-letter currency code')
          .transform((c) => c.toLowerCase())
          .optional(),
        quantity: positiveWhole('a positive whole quantity').optional(),
      },
      'a mapping of item or plan, amount, currency, quantity',
    )
      .refine((c) => c.item === undefined || c.plan === undefined, { message: 'a link is for an item or a plan; give one of them', path: ['plan'] })
      .refine((c) => Object.keys(c).length > 0, { message: 'an empty mapping checks nothing; write `checkout: true` for any link', when: noOtherProblem }),
  ],
  { error: 'expected true, false or a mapping of item or plan, amount, currency, quantity' },
);

const sources = z.preprocess(
  (v) => (typeof v === 'string' ? [v] : v),
  z.union([z.literal(true), z.array(nonBlank).min(1, 'an empty list checks nothing; remove the key')], {
    error: (issue: RawIssue) => (issue.input === false ? '`sources: false` checks nothing; omit it' : 'expected true, a source (URL or document title) or a list of them'),
  }),
);

const expectations = z.preprocess(
  // `expect:` with nothing after it is null: the same mistake as an empty mapping.
  (v) => (v === null ? {} : v),
  mapping(
    {
      contains: texts.optional(),
      not_contains: texts.optional(),
      matches: matcher.optional(),
      tool: tools.optional(),
      lead: lead.optional(),
      checkout: checkout.optional(),
      handoff: z.boolean(expecting('true or false')).optional(),
      sources: sources.optional(),
      no_invented_price: z.boolean(expecting('true or false')).optional(),
      language: oneOf(REPLY_LANGUAGES, 'a reply language').optional(),
    },
    'a mapping of expectations',
  ).refine((e) => Object.keys(e).length > 0, { message: 'an empty expect checks nothing; remove it or add an expectation', when: noOtherProblem }),
);

const turn = mapping(
  {
    user: z.string(expecting("the customer's message")).trim().min(1, 'must not be blank').max(4000, 'at most 4000 characters'),
    channel: channel.optional(),
    expect: expectations.optional(),
  },
  'a turn: a mapping of user, channel, expect',
);

const evalCase = mapping(
  {
    name: z.string(expecting('a name for the case')).trim().min(1, 'must not be blank').max(200, 'at most 200 characters'),
    channel: channel.default('web'),
    turns: z.array(turn, expecting('a list of turns')).min(1, 'a case needs at least one turn').max(MAX_TURNS, `at most ${MAX_TURNS} turns`),
  },
  'a case: a mapping of name, channel, turns',
);

const caseFileSchema = z.strictObject(
  { cases: z.array(evalCase, expecting('a list of cases')).min(1, 'no cases; add at least one').max(MAX_CASES, `at most ${MAX_CASES} cases`) },
  {
    error: (issue: RawIssue) =>
      issue.code === 'unrecognized_keys' ? 'unknown key; the file holds only `cases`' : `${issue.input == null ? 'the file is empty; ' : ''}expected a mapping with a \`cases\` list`,
  },
);

interface PathIssue {
  path: PropertyKey[];
  message: string;
}

/**
 * One issue per bad value: an unknown key is reported at the key, and a union (true, false or a mapping)
 * that failed is reported by the branch the author meant, the one whose type matched, when only one did.
 */
function flatIssues(issues: readonly z.core.$ZodIssue[], base: PropertyKey[] = []): PathIssue[] {
  return issues.flatMap((issue) => {
    const path = [...base, ...issue.path];
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: [...path, key], message: issue.message }));
    if (issue.code === 'invalid_union') {
      const meant = issue.errors.filter((branch) => !branch.every(wrongTypeHere));
      if (meant.length === 1) return flatIssues(meant[0]!, path);
    }
    return [{ path, message: issue.message }];
  });
}

function wrongTypeHere(issue: z.core.$ZodIssue): boolean {
  return issue.path.length === 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value');
}

/**
 * Reports and baselines tell cases apart by name. Checked on the raw data, apart from the schema,
 * because zod skips a list's own checks once an element is invalid, and this problem belongs with the others.
 */
function duplicateNames(raw: unknown, lineAt: (path: readonly PropertyKey[]) => number | null): PathIssue[] {
  const cases: unknown[] = isMapping(raw) && Array.isArray(raw.cases) ? raw.cases : [];
  const first = new Map<string, number>();
  const issues: PathIssue[] = [];
  cases.forEach((c, i) => {
    const name = isMapping(c) && typeof c.name === 'string' ? c.name.trim() : '';
    if (!name) return;
    const earlier = first.get(name);
    if (earlier === undefined) first.set(name, i);
    else issues.push({ path: ['cases', i, 'name'], message: `cases[${earlier}] (line ${lineAt(['cases', earlier])}) has this name too; case names must be unique` });
  });
  return issues;
}

function pathText(path: readonly PropertyKey[]): string {
  const text = path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
  return text ? text.replace(/^\./, '') : ROOT;
}

/**
 * The 1-based line of the value at `path`, or of its nearest ancestor when it is missing (a missing key).
 * A key's own line is taken over its value's: a block value starts on the line below the key.
 */
function lineOf(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): number | null {
  let node: unknown = doc.contents;
  let line = startLine(node, lines);
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      if (!pair) break;
      line = startLine(pair.key, lines) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number' && node.items[key]) {
      node = node.items[key];
      line = startLine(node, lines) ?? line;
    } else break;
  }
  return line;
}

function startLine(node: unknown, lines: LineCounter): number | null {
  return isNode(node) && node.range ? lines.linePos(node.range[0]).line : null;
}
