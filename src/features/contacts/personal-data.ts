import escapeStringRegexp from 'escape-string-regexp';

/**
 * Finding a person's identifiers inside free text and JSON, and taking them out. The database narrows
 * candidates with a LIKE; these decide, so `ada@example.com` never matches `ada@example.community` and
 * `+4791234567` never matches `+47912345678`.
 */

/** Keys whose values describe a person wherever they appear in event data. */
const PERSONAL_KEYS = new Set(['email', 'customer_email', 'name', 'customer_name', 'user_name', 'profile_name', 'username', 'whatsapp', 'phone', 'from', 'to', 'text', 'message', 'body', 'reason']);

/** One pattern for every term: each must stand alone (no identifier character glued to either end). */
export function termPattern(terms: readonly string[]): RegExp | undefined {
  const parts = [...new Set(terms.filter((t) => t.length > 0))].sort((a, b) => b.length - a.length).map((t) => escapeStringRegexp(t));
  if (parts.length === 0) return undefined;
  return new RegExp(`(?<![\\w.@+-])(?:${parts.join('|')})(?![\\w@-]|\\.\\w)`, 'gi');
}

export function mentions(text: string | null | undefined, pattern: RegExp | undefined): boolean {
  if (!text || !pattern) return false;
  pattern.lastIndex = 0;
  const found = pattern.test(text);
  pattern.lastIndex = 0;
  return found;
}

/** JSON with personal keys nulled and every mention of the person replaced by their pseudonym. */
export function scrubJson(value: unknown, pattern: RegExp | undefined, reference: string): unknown {
  if (typeof value === 'string') return pattern ? value.replace(pattern, reference) : value;
  if (Array.isArray(value)) return value.map((v) => scrubJson(v, pattern, reference));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, PERSONAL_KEYS.has(k) && v !== null ? null : scrubJson(v, pattern, reference)]));
}

/** The LIKE patterns (lower-case, wildcards escaped with a backslash) that find candidates for the terms. */
export function likePatterns(terms: readonly string[]): string[] {
  return [...new Set(terms.filter((t) => t.length > 0).map((t) => `%${t.toLowerCase().replace(/[\\%_]/g, '\\$&')}%`))];
}
