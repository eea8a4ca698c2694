import type { Section } from './extract-document.js';

/**
 * Cuts sections into passages small enough to rank and quote, at paragraph boundaries where it can, so a
 * passage reads as the page wrote it and always carries its section's heading.
 */

export interface Chunk {
  position: number;
  heading: string;
  text: string;
}

const DEFAULT_MAX_CHARS = 900;
const DEFAULT_MIN_CHARS = 80;

export function chunkSections(sections: Section[], options: { maxChars?: number; minChars?: number } = {}): Chunk[] {
  const maxChars = Math.max(1, options.maxChars ?? DEFAULT_MAX_CHARS);
  const minChars = Math.max(0, options.minChars ?? DEFAULT_MIN_CHARS);
  const chunks: Chunk[] = [];
  for (const section of sections) {
    const pieces = section.text
      .split('\n')
      .map((p) => p.trim())
      .filter(Boolean)
      .flatMap((p) => (p.length > maxChars ? splitLong(p, maxChars) : [p]));
    for (const text of mergeSmall(pack(pieces, maxChars), minChars)) chunks.push({ position: chunks.length, heading: section.heading, text });
  }
  return chunks;
}

/** Greedily fills each chunk with whole paragraphs, joined by newlines as in the section. */
function pack(pieces: string[], maxChars: number): string[] {
  const out: string[] = [];
  let current = '';
  for (const piece of pieces) {
    if (current && current.length + 1 + piece.length > maxChars) {
      out.push(current);
      current = piece;
    } else current = current ? `${current}\n${piece}` : piece;
  }
  if (current) out.push(current);
  return out;
}

/**
 * A tiny piece says little on its own and ranks badly, so it joins its neighbour in the same section
 * (the one before it, or the one after when it comes first), even if that passes maxChars a little.
 */
function mergeSmall(texts: string[], minChars: number): string[] {
  const out: string[] = [];
  for (const text of texts) {
    const previous = out.at(-1);
    if (previous !== undefined && (text.length < minChars || previous.length < minChars)) out[out.length - 1] = `${previous}\n${text}`;
    else out.push(text);
  }
  return out;
}

/** A paragraph over the limit is cut between sentences, a sentence over it between words, a word over it anywhere. */
function splitLong(paragraph: string, maxChars: number): string[] {
  const sentences = Array.from(new Intl.Segmenter(undefined, { granularity: 'sentence' }).segment(paragraph), (s) => s.segment.trim()).filter(Boolean);
  const parts: string[] = [];
  let current = '';
  const add = (unit: string, joiner: string): void => {
    if (current && current.length + joiner.length + unit.length > maxChars) {
      parts.push(current);
      current = unit;
    } else current = current ? `${current}${joiner}${unit}` : unit;
  };
  for (const sentence of sentences) {
    if (sentence.length <= maxChars) {
      add(sentence, ' ');
      continue;
    }
    for (const word of sentence.split(/\s+/)) {
      for (let i = 0; i < word.length; i += maxChars) add(word.slice(i, i + maxChars), i === 0 ? ' ' : '');
    }
  }
  if (current) parts.push(current);
  return parts;
}
