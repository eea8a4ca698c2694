/**
 * Token-overlap retrieval for the offline provider: normalise, drop stopwords, crude plural folding,
 * then the Dice coefficient between the question and each candidate.
 */

const STOPWORDS = new Set(
  (
    'a an the and or but if of to in on at for from by with about as is are was were be been being am do does did ' +
    'have has had i me my we our you your yours it its this that these those there here what which who whom whose ' +
    'when where why how can could would should will shall may might must please thanks thank hi hello hey ' +
    'any some much many more most so just also too very not no yes ok okay tell know want like need get ' +
    "i'm im you're youre it's whats what's there's do you"
  ).split(/\s+/),
);

export function normalise(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\p{L}\p{N}\s']/gu, ' ');
}

function fold(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

export function tokens(text: string): string[] {
  const out = new Set<string>();
  for (const raw of normalise(text).split(/\s+/)) {
    const w = raw.replace(/^'+|'+$/g, '');
    if (!w || STOPWORDS.has(w)) continue;
    out.add(fold(w.replace(/'s$/, '')));
  }
  return [...out];
}

export function dice(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  const set = new Set(b);
  let overlap = 0;
  for (const t of a) if (set.has(t)) overlap++;
  return (2 * overlap) / (a.length + b.length);
}

/** The best candidate at or above the threshold, or undefined. */
export function bestMatch<T>(query: string, candidates: T[], textOf: (c: T) => string, threshold = 0.4): T | undefined {
  const q = tokens(query);
  let best: T | undefined;
  let bestScore = 0;
  for (const c of candidates) {
    const score = dice(q, tokens(textOf(c)));
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return bestScore >= threshold ? best : undefined;
}

/** Splits a reply into word chunks, the way a model streams it. */
export function wordChunks(text: string, wordsPerChunk = 2): string[] {
  const parts = text.match(/\S+\s*/g) ?? [];
  const chunks: string[] = [];
  const lead = /^\s+/.exec(text)?.[0] ?? '';
  for (let i = 0; i < parts.length; i += wordsPerChunk) chunks.push(parts.slice(i, i + wordsPerChunk).join(''));
  if (lead && chunks.length) chunks[0] = lead + chunks[0];
  return chunks.length ? chunks : [text];
}
