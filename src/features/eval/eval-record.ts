import escapeStringRegexp from 'escape-string-regexp';
import { Document, isScalar, type Scalar, type YAMLMap } from 'yaml';
import type { Channel } from '../chat/chat.types.js';
import { contentWords } from '../knowledge/query-terms.js';
import { pricesIn } from './price-text.js';

/**
 * `zia eval record`: real conversations turned into a case file to edit. Each customer message
 * becomes a turn and the bot's answer a first guess at what it must keep saying (its prices, links,
 * the catalog items it names), with the answer itself as a comment beside it. Personal data never
 * reaches the file: names, emails and phone numbers become placeholders, the same value the same
 * placeholder throughout, so a case still reads as one person's conversation.
 */

export interface RecordedMessage {
  role: 'user' | 'assistant' | 'operator' | 'system';
  text: string;
}

export interface RecordedConversation {
  id: string;
  channel: Channel;
  userName: string | null;
  messages: RecordedMessage[];
  /** What zia holds about this person: lead names, emails and WhatsApp numbers, the conversation's user name. */
  known: { names: string[]; emails: string[]; phones: string[] };
}

type Known = RecordedConversation['known'];

interface Span {
  start: number;
  end: number;
}

/** The limits of a case file (eval-cases.ts): a longer message or conversation would make the file unreadable to `zia eval`. */
const MAX_USER_CHARS = 4000;
const MAX_TURNS = 50;
const MAX_COMMENT_CHARS = 300;
/** Shorter words of a name ("Li", "Jo") are too often other words. */
const MIN_NAME_WORD_LETTERS = 3;
const MAX_FALLBACK_WORDS = 3;
/** A word distinctive enough to stand for a reply with no price, link or item. */
const LONG_WORD = /^\p{L}{5,}$/u;

const EMAIL = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}/gu;
const URL_TEXT = /\b(?:https?:\/\/|www\.)[^\s<>"'`)\]]+/giu;
/** Digit groups joined by one space, dot or dash, with area codes in parentheses: "+47 912 34 567", "(415) 555-0123". */
const PHONE = /\+?(?:\(\d+\)|\d)(?:[ \u00A0.-]?(?:\(\d+\)|\d))*/gu;
const MIN_PHONE_DIGITS = 8;
const MAX_PHONE_DIGITS = 15;
/** Dates, times and year ranges are digit runs like phone numbers: "2025-03-14T09:30:00+01:00", "14.03.2025", "09:30", "2019-2025". */
const DATES_AND_TIMES = [
  /(?<!\d)\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?/gu,
  /(?<!\d)(?:0?[1-9]|[12]\d|3[01])[./-](?:0?[1-9]|1[0-2])[./-]\d{4}(?!\d)/gu,
  /(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)/gu,
  /(?<!\d)(?:19|20)\d{2} ?[-\u2013] ?(?:19|20)\d{2}(?!\d)/gu,
];
/** What Placeholders writes; a fact holding one would test the placeholder, not the bot. */
const PLACEHOLDER = /person\d+@example\.com|\+1555010\d{4,}|Customer \d+/iu;
const PLACEHOLDERS = new RegExp(PLACEHOLDER.source, 'giu');

/**
 * Consistent replacement of personal data across one case file: emails and phone numbers wherever
 * their pattern is found, the person's known names (and each name's words alone) where zia knows them.
 */
export class Placeholders {
  private readonly emails = new Map<string, string>();
  private readonly phones = new Map<string, string>();
  /** A full name (lower case) → its `Customer N`. */
  private readonly names = new Map<string, string>();

  /**
   * Emails, then phone numbers, then names: an email or a number holding a name is replaced whole.
   * After each pattern, the values zia holds wherever they are left: an email the pattern missed, a
   * phone number inside a link (https://wa.me/4791234567) or beside a price or a date.
   */
  scrub(text: string, known: Known): string {
    let scrubbed = text.replace(EMAIL, (email) => this.email(email));
    for (const email of known.emails.map((e) => e.trim()).filter((e) => e.length > 0)) {
      scrubbed = scrubbed.replace(new RegExp(escapeStringRegexp(email), 'giu'), () => this.email(email));
    }
    scrubbed = this.scrubPhones(scrubbed);
    for (const digits of known.phones.map((p) => p.replace(/\D/gu, '')).filter((d) => d.length >= MIN_PHONE_DIGITS)) {
      scrubbed = scrubbed.replace(new RegExp(`(?<!\\d)\\+?${digits}(?!\\d)`, 'gu'), () => this.phone(digits));
    }
    return this.scrubNames(scrubbed, known.names);
  }

  private email(email: string): string {
    return this.placeholder(this.emails, email.toLowerCase(), (n) => `person${n}@example.com`);
  }

  /** Keyed by the digits alone, so "+47 912 34 567" and "+4791234567" are the same number. */
  private phone(digits: string): string {
    return this.placeholder(this.phones, digits, (n) => `+1555010${String(n).padStart(4, '0')}`);
  }

  private placeholder(seen: Map<string, string>, key: string, make: (n: number) => string): string {
    let value = seen.get(key);
    if (value === undefined) {
      value = make(seen.size + 1);
      seen.set(key, value);
    }
    return value;
  }

  /** Digit runs of phone length, except those inside a price, a URL (product ids), a date or a time. */
  private scrubPhones(text: string): string {
    const masked = masking(text, [...pricesIn(text).map((p) => ({ start: p.index, end: p.index + p.text.length })), ...spansOf(text, [URL_TEXT, ...DATES_AND_TIMES])]);
    const found: Array<Span & { digits: string }> = [];
    for (const match of masked.matchAll(PHONE)) {
      const digits = match[0].replace(/\D/gu, '');
      if (digits.length >= MIN_PHONE_DIGITS && digits.length <= MAX_PHONE_DIGITS) found.push({ start: match.index!, end: match.index! + match[0].length, digits });
    }
    return replaceSpans(text, found, (s) => this.phone(s.digits));
  }

  private scrubNames(text: string, names: readonly string[]): string {
    const byText = new Map<string, string>();
    for (const name of names.map(tidyName).filter((n) => n.length > 0)) {
      const customer = this.customer(name);
      byText.set(name.toLowerCase(), customer);
      // A word shared by two of the person's names stays with the first one.
      for (const word of nameWords(name)) if (!byText.has(word.toLowerCase())) byText.set(word.toLowerCase(), customer);
    }
    if (byText.size === 0) return text;
    const longestFirst = [...byText].sort(([a], [b]) => b.length - a.length);
    // One group per name: the group that matched tells the placeholder, whatever the case folding did.
    const alternatives = longestFirst.map(([n]) => `(${escapeStringRegexp(n).replace(/ /gu, '\\s+')})`);
    const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.join('|')})(?![\\p{L}\\p{N}])`, 'giu');
    return text.replace(pattern, (...args: unknown[]) => longestFirst[args.slice(1, 1 + longestFirst.length).findIndex((g) => g !== undefined)]![1]);
  }

  /**
   * One `Customer N` per person: a name that is a word of a name seen before ("Ola" after
   * "Ola Nordmann"), or has such a name as a word, is the same person.
   */
  private customer(name: string): string {
    const key = name.toLowerCase();
    const words = nameWords(name).map((w) => w.toLowerCase());
    const same =
      this.names.get(key) ??
      words.map((w) => this.names.get(w)).find((c) => c !== undefined) ??
      [...this.names].find(([seen]) => nameWords(seen).includes(key))?.[1];
    const customer = same ?? `Customer ${new Set(this.names.values()).size + 1}`;
    this.names.set(key, customer);
    return customer;
  }
}

function tidyName(name: string): string {
  return name.trim().replace(/\s+/gu, ' ');
}

/** The words of a name worth replacing alone: "Anne-Marie Olsen" → Anne-Marie, Anne, Marie, Olsen. */
function nameWords(name: string): string[] {
  const parts = name.split(/\s+/u);
  const words = [...parts, ...parts.flatMap((p) => p.match(/\p{L}+/gu) ?? [])];
  return [...new Set(words)].filter((w) => (w.match(/\p{L}/gu) ?? []).length >= MIN_NAME_WORD_LETTERS && w !== name);
}

function spansOf(text: string, patterns: readonly RegExp[]): Span[] {
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => ({ start: m.index!, end: m.index! + m[0].length })));
}

/** The text with the spans blanked by a letter, same length, so no digit run crosses or enters them. */
function masking(text: string, spans: readonly Span[]): string {
  const chars = text.split('');
  for (const s of spans) chars.fill('x', s.start, s.end);
  return chars.join('');
}

function replaceSpans<S extends Span>(text: string, spans: readonly S[], by: (span: S) => string): string {
  let out = '';
  let at = 0;
  for (const s of spans) {
    out += text.slice(at, s.start) + by(s);
    at = s.end;
  }
  return out + text.slice(at);
}

interface Fact extends Span {
  text: string;
}

/**
 * What a recorded bot reply should still contain, for the operator to edit: its prices as written,
 * its links (but not checkout links, new on every run), the catalog items it names; failing all of
 * those, its most distinctive words. Call it on the scrubbed reply: a fact holding a placeholder is left out.
 */
export function keyFacts(reply: string, facts: { itemNames: string[] }): string[] {
  const prices: Fact[] = pricesIn(reply).map((p) => ({ text: p.text, start: p.index, end: p.index + p.text.length }));
  const urls = urlsIn(reply);
  // An item's name inside a link or a price is not a mention of it.
  const items = itemNamesIn(reply, facts.itemNames, [...prices, ...urls]);
  const found = [...prices, ...urls.filter((u) => !isCheckoutLink(u.text)), ...items].sort((a, b) => a.start - b.start).map((f) => f.text);
  const kept = distinct(found.filter((f) => !PLACEHOLDER.test(f)));
  return kept.length > 0 ? kept : distinctiveWords(reply);
}

function urlsIn(text: string): Fact[] {
  return [...text.matchAll(URL_TEXT)].map((m) => {
    // A sentence's closing punctuation is not part of the link.
    const url = m[0].replace(/[.,;:!?]+$/u, '');
    return { text: url, start: m.index!, end: m.index! + url.length };
  });
}

/** Stripe's pages and zia's own pay links hold a fresh session id each time. */
function isCheckoutLink(url: string): boolean {
  try {
    const { hostname, pathname } = new URL(/^https?:/iu.test(url) ? url : `https://${url}`);
    const path = pathname.toLowerCase();
    return hostname.includes('stripe.com') || path.includes('/checkout') || path.includes('/pay/');
  } catch {
    return false;
  }
}

/** The first whole-word mention of each item, as written; a longer name wins over one inside it ("Blue Mug" over "Mug"). */
function itemNamesIn(reply: string, itemNames: readonly string[], taken: readonly Span[]): Fact[] {
  const lower = reply.toLowerCase();
  const names = [...new Set(itemNames.map((n) => n.trim()).filter((n) => n.length > 0 && lower.includes(n.toLowerCase())))];
  const found: Fact[] = [];
  for (const name of names.sort((a, b) => b.length - a.length)) {
    const pattern = new RegExp(`(?<![\\p{L}\\p{N}])${escapeStringRegexp(name)}(?![\\p{L}\\p{N}])`, 'giu');
    const free = [...reply.matchAll(pattern)]
      .map((m) => ({ text: m[0], start: m.index!, end: m.index! + m[0].length }))
      .find((f) => ![...taken, ...found].some((s) => f.start < s.end && s.start < f.end));
    if (free) found.push(free);
  }
  return found;
}

/** Up to three of the reply's longest uncommon words, as written; links, emails and placeholders left out. */
function distinctiveWords(reply: string): string[] {
  const prose = reply.replace(URL_TEXT, ' ').replace(EMAIL, ' ').replace(PLACEHOLDERS, ' ');
  const uncommon = new Set(contentWords(prose));
  const words = (prose.match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => LONG_WORD.test(w) && uncommon.has(w.toLowerCase().normalize('NFC')));
  // sort is stable: words of the same length keep their order in the reply.
  return distinct(words.sort((a, b) => b.length - a.length)).slice(0, MAX_FALLBACK_WORDS);
}

/** The first of each text, compared without case. */
function distinct(texts: readonly string[]): string[] {
  const seen = new Set<string>();
  return texts.filter((t) => {
    const key = t.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The case file of the conversations, as YAML: one case per conversation that has a customer
 * message, each customer message a turn, the bot's answer to it an expectation of its key facts
 * (with the answer as a comment). Operator and system messages are no turns: the bot did not say them.
 */
export function recordCases(conversations: RecordedConversation[], facts: { itemNames: string[] }, header: { tenant: string; recordedAt: string }): string {
  const placeholders = new Placeholders();
  const doc = new Document();
  const cases = conversations.map((c) => recordCase(doc, c, placeholders, facts)).filter((c) => c !== undefined);
  doc.contents = doc.createNode({ cases });
  const n = cases.length;
  doc.commentBefore =
    ` zia eval cases recorded from ${n} conversation${n === 1 ? '' : 's'} of ${header.tenant} on ${header.recordedAt};\n` +
    ' personal data replaced with placeholders. Edit the expectations before relying on them.';
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** undefined for a conversation without a customer message: a case needs a turn. */
function recordCase(doc: Document, conversation: RecordedConversation, placeholders: Placeholders, facts: { itemNames: string[] }): YAMLMap | undefined {
  const known: Known = { ...conversation.known, names: [...conversation.known.names, ...(conversation.userName ? [conversation.userName] : [])] };
  const scrub = (text: string) => placeholders.scrub(text, known);
  const messages = conversation.messages;
  const asked = messages.flatMap((m, i) => (m.role === 'user' && m.text.trim().length > 0 ? [i] : []));
  if (asked.length === 0) return undefined;
  const turns = asked.slice(0, MAX_TURNS).map((i) => recordTurn(doc, scrub(messages[i]!.text), answerTo(messages, i), scrub, facts));
  const node = doc.createNode({ name: `conversation ${conversation.id}`, channel: conversation.channel, turns });
  if (asked.length > MAX_TURNS) {
    keyNode(node, 'turns').commentBefore = ` the conversation has ${asked.length} customer messages; a case holds the first ${MAX_TURNS}`;
  }
  return node;
}

type Answer = { by: 'bot'; text: string } | { by: 'operator' } | { by: 'nobody' };

/** What followed the customer message at `index`, before the customer's next message. */
function answerTo(messages: readonly RecordedMessage[], index: number): Answer {
  const next = messages.findIndex((m, i) => i > index && m.role === 'user');
  const window = messages.slice(index + 1, next === -1 ? undefined : next);
  const bot = window.find((m) => m.role === 'assistant' && m.text.trim().length > 0);
  if (bot) return { by: 'bot', text: bot.text };
  return window.some((m) => m.role === 'operator') ? { by: 'operator' } : { by: 'nobody' };
}

function recordTurn(doc: Document, message: string, answer: Answer, scrub: (text: string) => string, facts: { itemNames: string[] }): YAMLMap {
  const user = [...message.trim()].slice(0, MAX_USER_CHARS).join('');
  if (answer.by !== 'bot') {
    const turn = doc.createNode({ user });
    turn.comment = answer.by === 'operator' ? ' no bot reply: a person answered' : ' no bot reply: the bot was paused or did not answer';
    return turn;
  }
  const reply = scrub(answer.text);
  const said = ` bot said: ${oneLine(reply)}`;
  const contains = keyFacts(reply, facts);
  if (contains.length === 0) {
    const turn = doc.createNode({ user });
    turn.comment = `${said}; no key facts found, add an expectation`;
    return turn;
  }
  // One line of quoted strings, as a case author writes them: the exact text matters.
  const list = doc.createNode(contains);
  list.flow = true;
  for (const item of list.items) item.type = 'QUOTE_DOUBLE';
  const turn = doc.createNode({ user, expect: { contains: list } });
  keyNode(turn, 'expect').commentBefore = said;
  return turn;
}

/** The reply on one comment line, cut short: the whole of it is in the conversation. */
function oneLine(text: string): string {
  const chars = [...text.replace(/\s+/gu, ' ').trim()];
  return chars.length > MAX_COMMENT_CHARS ? `${chars.slice(0, MAX_COMMENT_CHARS).join('')}…` : chars.join('');
}

/** The key node of a mapping made by createNode, which holds the comment written above the key. */
function keyNode(map: YAMLMap, name: string): Scalar {
  const key = map.items.map((p) => p.key).find((k): k is Scalar => isScalar(k) && k.value === name);
  if (!key) throw new Error(`unreachable: no ${name} in the mapping`);
  return key;
}
