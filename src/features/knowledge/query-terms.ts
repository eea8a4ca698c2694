import { deu, eng, fra, ita, nob, por, spa } from 'stopword';

/**
 * The words of a question that a search can use: lower-case, accents kept (the engines fold them),
 * the common words of the languages zia's built-in phrases speak left out, at most MAX_TERMS. The
 * same terms decide whether a passage clearly answers (coverage), the same way on both databases.
 */

const MAX_TERMS = 12;
const STOP_BY_LANGUAGE: Record<string, ReadonlySet<string>> = {
  en: new Set(eng), es: new Set(spa), pt: new Set(por), fr: new Set(fra), de: new Set(deu), it: new Set(ita), nb: new Set(nob),
};
const STOP = new Set([...eng, ...spa, ...por, ...fra, ...deu, ...ita, ...nob, 'hi', 'hello', 'please', 'thanks', 'thank', 'hola', 'hei', 'yes', 'no']);

/**
 * The language a question is most likely in, from its common words ("¿dónde está…", "hvor blir…"):
 * the one whose stop words it uses most, when one clearly leads; undefined when none does.
 */
export function questionLanguage(question: string): string | undefined {
  const all = words(question);
  let best: string | undefined;
  let bestHits = 0;
  let tie = false;
  for (const [language, stop] of Object.entries(STOP_BY_LANGUAGE)) {
    const hits = all.filter((w) => stop.has(w)).length;
    if (hits > bestHits) [best, bestHits, tie] = [language, hits, false];
    else if (hits === bestHits && hits > 0) tie = true;
  }
  return tie ? undefined : best;
}

function words(text: string): string[] {
  return text.toLowerCase().normalize('NFC').match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** What two forms of a word share (return/returns/returned, envío/envíos): a prefix, not a stemmer. */
export function stemOf(word: string): string {
  const bare = word.normalize('NFD').replace(/\p{M}/gu, '');
  return bare.length <= 4 ? bare : bare.slice(0, Math.max(4, bare.length - 2));
}

/** Every word of a text that says something (common words and single letters left out). */
export function contentWords(text: string): string[] {
  return words(text).filter((w) => !STOP.has(w) && (w.length > 1 || /\d/.test(w)));
}

/** The searchable terms of a question, in order, without repeats. */
export function queryTerms(question: string): string[] {
  const kept = contentWords(question);
  // A question made only of common words ("where are you?") still searches by them.
  return [...new Set(kept.length > 0 ? kept : words(question))].slice(0, MAX_TERMS);
}

/** The share of a question's terms that a passage contains (0..1), and how many. */
export function coverage(terms: readonly string[], passage: string): { share: number; matched: number } {
  if (terms.length === 0) return { share: 0, matched: 0 };
  const stems = new Set(words(passage).map(stemOf));
  const present = [...stems];
  let matched = 0;
  for (const term of terms) {
    const s = stemOf(term);
    if (stems.has(s) || (s.length >= 4 && present.some((p) => p.startsWith(s)))) matched++;
  }
  return { share: matched / terms.length, matched };
}

/**
 * Whether a passage clearly answers: most of the question's terms are in it (all of a one- or
 * two-word question). Below this the bot says it does not know rather than guess from a weak match.
 */
export function clearlyMatches(terms: readonly string[], passage: string): boolean {
  const { share, matched } = coverage(terms, passage);
  if (terms.length <= 2) return matched === terms.length && matched > 0;
  return share >= 0.6 && matched >= 2;
}
