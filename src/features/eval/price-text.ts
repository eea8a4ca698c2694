import escapeStringRegexp from 'escape-string-regexp';

/**
 * The money amounts written in a bot reply, as zia writes them (Intl.NumberFormat with the tenant's
 * locale: "NOK 249.00", "1 299,99 kr", "12,50 €", "US$20") and as a model may retype them
 * ("kr 249,-", "$1,299.99 USD"). A number counts only with a currency marker next to it: "2 mugs",
 * "open 9-17" and order numbers are not prices.
 */

export interface PriceMention {
  /** The mention as written, marker(s) included. */
  text: string;
  /** The decimal amount: 249, 12.5, 1299.99. */
  value: number;
  /** Lowercase ISO 4217 code the marker names; null when it names none for sure ('$', 'kr', '¥'). */
  currency: string | null;
  /** Where the mention starts in the text. */
  index: number;
}

const ISO_CODES = ['USD', 'EUR', 'GBP', 'NOK', 'SEK', 'DKK', 'CHF', 'JPY', 'CAD', 'AUD', 'NZD', 'INR', 'BRL', 'MXN', 'PLN', 'CZK'];

/**
 * Symbols and the currency each one names. Besides the common ones, the forms Intl writes for the
 * listed codes ('$US' and '£GB' in French, 'CA$', 'A$', 'zł', …), so zia's own output is always read.
 */
const SYMBOLS: Record<string, string | null> = {
  '€': 'eur',
  '£': 'gbp',
  '£GB': 'gbp',
  '$': null,
  'US$': 'usd',
  '$US': 'usd',
  'R$': 'brl',
  'CA$': 'cad',
  '$CA': 'cad',
  'A$': 'aud',
  'AU$': 'aud',
  'NZ$': 'nzd',
  'MX$': 'mxn',
  // Yen or yuan.
  '¥': null,
  'JP¥': 'jpy',
  '₹': 'inr',
  'zł': 'pln',
  'Kč': 'czk',
  // Norwegian, Swedish, Danish and Icelandic krone alike.
  'kr': null,
  'Kr': null,
  'kr.': null,
};

const MARKERS: ReadonlyMap<string, string | null> = new Map([...ISO_CODES.map((c): [string, string] => [c, c.toLowerCase()]), ...Object.entries(SYMBOLS)]);

/** The spaces Intl and people put between a marker and its number, or between digit groups. */
const SPACE = '[ \\u00A0\\u202F]';

/**
 * Groups of three after any grouping separator (de-CH writes an apostrophe), or plain digits; then a
 * decimal part of 1–2 digits, or ",-" for whole kroner. A final separator with exactly three digits
 * after it is therefore grouping ("1.299"), with one or two it is decimal ("12,50"). Not followed by
 * another digit, nor by a separator and a digit, so no number is cut out of a longer one.
 */
const WHOLE = `(?:\\d{1,3}(?:[,.'\\u2019 \\u00A0\\u202F]\\d{3})+|\\d+)`;
const WHOLE_KRONER = `[.,][-\\u2013]`;
const END = `(?!\\p{N}|[.,]\\p{N})`;
const NUMBER = `${WHOLE}(?:[.,]\\d{1,2}|${WHOLE_KRONER})?${END}`;
/** Where a number without a marker before it may start: not inside a word ("A4", "mp3") or another number. */
const NUMBER_START = `(?<![\\p{L}\\p{N}]|\\p{N}[.,])`;

/**
 * One alternation of the markers, longest first ('US$' before '$', 'kr.' before 'kr'). A marker that
 * starts or ends with a letter must stand as a word there (no price in "NOKIA 3" or "249 kroner"),
 * though a number may touch it ("NOK249").
 */
function markerPattern(markers: readonly string[], glued: 'before' | 'after'): string {
  const wordEnd = glued === 'before' ? '(?!\\p{L})' : '(?![\\p{L}\\p{N}])';
  return [...markers]
    .sort((a, b) => b.length - a.length)
    .map((m) => `${/^\p{L}/u.test(m) ? '(?<![\\p{L}\\p{N}])' : ''}${escapeStringRegexp(m)}${/\p{L}$/u.test(m) ? wordEnd : ''}`)
    .join('|');
}

const BEFORE = markerPattern([...MARKERS.keys()], 'before');
// "249 kr." mostly ends a sentence; after a number the dot is left to it.
const AFTER = markerPattern([...MARKERS.keys()].filter((m) => m !== 'kr.'), 'after');

/**
 * A marker between two numbers ("5 $10", "€12 CHF 15") goes to the number it touches; when it
 * touches neither or both, to the number before it, unless that one has its own marker already.
 * Hence three forms: a marker, the number, perhaps a marker after it that leads into no other number;
 * a number with a marker after it, glued to it or not glued to the next number; a number in whole
 * kroner ("249,-"), which is money without a marker.
 */
const MENTION = new RegExp(
  [
    `(?<before>${BEFORE})${SPACE}?(?<numberAfterMarker>${NUMBER})(?:${SPACE}?(?<trailing>${AFTER})(?!${SPACE}?\\d))?`,
    `${NUMBER_START}(?<number>${NUMBER})(?:(?<after>${AFTER})|${SPACE}(?<spacedAfter>${AFTER})(?!\\d))`,
    `${NUMBER_START}(?<wholeKroner>${WHOLE}${WHOLE_KRONER}${END})`,
  ].join('|'),
  'gu',
);

/** Every money amount written in the text, in order, none overlapping another. */
export function pricesIn(text: string): PriceMention[] {
  const mentions: PriceMention[] = [];
  for (const match of text.matchAll(MENTION)) {
    const g = match.groups!;
    const number = g.numberAfterMarker ?? g.number ?? g.wholeKroner!;
    const markers = [g.before, g.trailing, g.after, g.spacedAfter].filter((m): m is string => m !== undefined);
    mentions.push({ text: match[0], value: amountOf(number), currency: currencyOf(markers), index: match.index! });
  }
  return mentions;
}

/** The first marker that names a currency ("$12 USD" is in dollars of the US). */
function currencyOf(markers: readonly string[]): string | null {
  for (const m of markers) {
    const currency = MARKERS.get(m);
    if (currency) return currency;
  }
  return null;
}

/** "1.299,99" → 1299.99, "1,299" → 1299, "249,-" → 249: the decimal part is the one NUMBER allowed. */
function amountOf(number: string): number {
  const plain = number.replace(/[.,][-\u2013]$/u, '');
  const decimal = /[.,](\d{1,2})$/u.exec(plain);
  const whole = (decimal ? plain.slice(0, decimal.index) : plain).replace(/\D/gu, '');
  return Number(decimal ? `${whole}.${decimal[1]}` : whole);
}

/**
 * Whether a mention is this price (`minorUnits` in the currency's smallest unit, `digits` fraction
 * digits). A mention that names no currency for sure ('$', 'kr') matches any currency: telling the
 * krone of a reply from its language would guess.
 */
export function samePrice(mention: PriceMention, minorUnits: number, currency: string, digits: number): boolean {
  if (mention.currency !== null && mention.currency !== currency.toLowerCase()) return false;
  // In minor units, so 12.5 and 1250 cents compare without floating-point noise.
  return Math.round(mention.value * 10 ** digits) === minorUnits;
}
