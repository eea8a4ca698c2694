/**
 * Splits a reply into messages within a channel's limit (Messenger: 2,000 characters; Instagram:
 * 1,000 UTF-8 bytes; WhatsApp: 1,600 characters), preferring paragraph, then line, then sentence, then
 * word boundaries, never cutting a character.
 */
export type Measure = (s: string) => number;

export const charCount: Measure = (s) => [...s].length;
export const utf8Bytes: Measure = (s) => Buffer.byteLength(s, 'utf8');

export function splitText(text: string, limit: number, measure: Measure): string[] {
  const parts: string[] = [];
  let rest = text.trim();
  while (rest.length > 0) {
    if (measure(rest) <= limit) {
      parts.push(rest);
      break;
    }
    const cut = fitPrefix(rest, limit, measure);
    // The window includes the character after the cut: a space there makes the cut a word boundary.
    const window = rest.slice(0, cut + 1);
    let at = window.lastIndexOf('\n\n');
    if (at < cut / 2) at = window.lastIndexOf('\n');
    if (at < cut / 2) at = lastSentenceEnd(window);
    if (at < cut / 2) at = window.search(/\s\S*$/);
    if (at <= 0) at = cut;
    parts.push(rest.slice(0, at).trimEnd());
    rest = rest.slice(at).trimStart();
  }
  return parts.filter((p) => p.length > 0);
}

/** Index just after the last sentence end (., ! ?, … and any closing quote or bracket) followed by a space. */
function lastSentenceEnd(window: string): number {
  let at = -1;
  for (const m of window.matchAll(/[.!?…]["'”’)\]]*(?=\s)/g)) at = m.index + m[0].length;
  return at;
}

/** Truncates to one message within the limit (a private reply is a single message). */
export function truncateText(text: string, limit: number, measure: Measure): string {
  const t = text.trim();
  if (measure(t) <= limit) return t;
  const ell = '…';
  return t.slice(0, fitPrefix(t, limit - measure(ell), measure)).trimEnd() + ell;
}

/** Longest prefix length (in UTF-16 units, on a code point boundary) that fits the limit. */
function fitPrefix(s: string, limit: number, measure: Measure): number {
  let used = 0;
  let i = 0;
  for (const ch of s) {
    const m = measure(ch);
    if (used + m > limit) break;
    used += m;
    i += ch.length;
  }
  return Math.max(i, 1);
}
