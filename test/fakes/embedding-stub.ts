/**
 * A deterministic stand-in for an embeddings model: feature hashing of a text's word prefixes and
 * character 4-grams into a fixed number of signed buckets. Texts that share words (or most of a word)
 * point the same way; nothing is learned, so it measures the hybrid plumbing, not a model's quality.
 */
export function stubEmbedding(text: string, dim = 256): number[] {
  const v = new Array<number>(dim).fill(0);
  const words = text.toLowerCase().normalize('NFD').replace(/\p{M}/gu, '').match(/[\p{L}\p{N}]+/gu) ?? [];
  const add = (feature: string, weight: number) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < feature.length; i++) h = Math.imul(h ^ feature.charCodeAt(i), 0x01000193);
    const bucket = (h >>> 0) % dim;
    v[bucket]! += (h & 0x80000000 ? -1 : 1) * weight;
  };
  for (const w of words) {
    if (w.length < 3) continue;
    add(`w:${w.slice(0, 5)}`, 1);
    for (let i = 0; i + 4 <= w.length; i++) add(`g:${w.slice(i, i + 4)}`, 0.3);
  }
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}
