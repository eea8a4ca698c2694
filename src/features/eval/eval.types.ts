import type { Channel } from '../chat/chat.types.js';

/**
 * `zia eval`: a tenant's bot tested like code. A case file holds conversations (customer turns and
 * what the bot's answers must show); a run plays each one against a throwaway copy of the tenant and
 * reports which expectations held.
 */

/** A tool the model must have called in the turn (with these argument values), or must not have. */
export interface ToolExpectation {
  name: string;
  /** Each given argument must be present with this value (strings compared without case). */
  args?: Record<string, string | number | boolean>;
  /** false: the tool must not be called in this turn. Default true. */
  called?: boolean;
}

/** What a bot turn must show; every key given is checked, none is required. */
export interface Expectations {
  /** Each string appears in the reply (case-insensitive). */
  contains?: string[];
  /** No string appears in the reply (case-insensitive). */
  not_contains?: string[];
  /** A regular expression the reply matches; `/…/flags` sets flags, otherwise case-insensitive. */
  matches?: string;
  tool?: ToolExpectation[];
  /** true: a lead was captured in this turn; false: none was; an object: captured with these fields. */
  lead?: boolean | { email?: string; name?: string; whatsapp?: string };
  /** true: a checkout link was made in this turn; false: none was; an object: made for this item or plan at this server price. */
  checkout?: boolean | { item?: string; plan?: string; amount?: number; currency?: string; quantity?: number };
  /** After this turn the customer waits for a person (true) or does not (false). */
  handoff?: boolean;
  /** true: the reply cites a knowledge source; strings: each is a cited source's URL (or a document's title). */
  sources?: true | string[];
  /** Every price written in the reply is the price of a catalog item or a plan. */
  no_invented_price?: boolean;
  /** The reply's language (ISO 639-1: en, es, pt, fr, de, it, nb). */
  language?: string;
}

export interface CaseTurn {
  user: string;
  /** A turn on another channel continues the customer's conversation there (a conversation per channel). */
  channel?: Channel;
  expect?: Expectations;
  /** 1-based line of the turn in the case file. */
  line?: number;
}

export interface EvalCase {
  name: string;
  channel: Channel;
  turns: CaseTurn[];
  line?: number;
}

export interface CaseFile {
  cases: EvalCase[];
}

/** One expectation that did not hold in one run of a case. */
export interface Failure {
  /** 1-based turn number. */
  turn: number;
  /** The expectation's key (contains, tool, …). */
  expectation: string;
  /** What was expected and what was seen, in one line. */
  detail: string;
  /** The bot's reply in that turn (null when nobody answered or the turn failed). */
  reply: string | null;
}

/** One play of a case. */
export interface CaseRun {
  passed: boolean;
  failures: Failure[];
  /** The bot's reply to each turn. */
  replies: Array<string | null>;
  ms: number;
}

export interface CaseResult {
  name: string;
  line?: number;
  runs: CaseRun[];
  /** Runs passed / runs. */
  passRate: number;
  /** passRate ≥ the run's minimum pass rate. */
  ok: boolean;
}

export interface ModelUsage {
  model: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  /** Estimated from the price table (ZIA_MODEL_PRICES over the built-in one); null without a price for the model. */
  costUsd: number | null;
}

export interface EvalReport {
  tenant: string;
  /** The case file as given on the command line. */
  file: string;
  provider: 'openai' | 'offline';
  model: string | null;
  repeat: number;
  minPassRate: number;
  cases: CaseResult[];
  usage: ModelUsage[];
  ms: number;
}
