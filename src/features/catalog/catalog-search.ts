import type { CatalogItem } from './catalog.types.js';

/**
 * Token-overlap ranking for the search_catalog tool and the offline provider: good enough for "how
 * much is the lavender candle?" without an index or a model. A name match weighs more than a
 * description match; an exact id/sku match wins outright.
 */

const NAME_WEIGHT = 3;
const DESCRIPTION_WEIGHT = 1;
const ID_WEIGHT = 10;

/** Question words and filler that would match every product description. */
const STOP_WORDS = new Set(
  (
    'a an the is are was be how much many what whats which who do does did you your we our i me my to in on at of for ' +
    'and or it its this that these those with can could would will have has any there here some please tell about ' +
    'cost costs price prices priced sell buy want need get much hi hello hey'
  ).split(' '),
);

/** Lowercase, accents stripped, split on anything not a letter or digit, plural 's' trimmed. */
export function tokens(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .map(stem);
}

function stem(token: string): string {
  if (token.length > 3 && token.endsWith('s') && !token.endsWith('ss')) return token.slice(0, -1);
  return token;
}

export function queryTokens(query: string): string[] {
  const all = tokens(query);
  const meaningful = all.filter((t) => !STOP_WORDS.has(t));
  return [...new Set(meaningful.length > 0 ? meaningful : all)];
}

interface Indexed {
  item: CatalogItem;
  name: Set<string>;
  description: Set<string>;
  id: string;
}

export function indexItems(items: CatalogItem[]): Indexed[] {
  return items.map((item) => ({
    item,
    name: new Set(tokens(item.name)),
    description: new Set(tokens(item.description ?? '')),
    id: item.id.toLowerCase(),
  }));
}

export interface Ranked {
  item: CatalogItem;
  score: number;
}

/** Matches ranked best first; score is in (0, 1], 1 meaning every query word matched the name. */
export function rank(index: Indexed[], query: string, limit: number): Ranked[] {
  const q = queryTokens(query);
  if (q.length === 0) return [];
  const rawQuery = query.trim().toLowerCase();
  const max = q.length * NAME_WEIGHT;
  const ranked: Array<Ranked & { points: number }> = [];
  for (const entry of index) {
    let points = 0;
    if (entry.id === rawQuery || q.includes(entry.id)) points += ID_WEIGHT;
    for (const t of q) {
      if (entry.name.has(t)) points += NAME_WEIGHT;
      else if (entry.description.has(t)) points += DESCRIPTION_WEIGHT;
    }
    if (points > 0) ranked.push({ item: entry.item, score: Math.min(1, points / max), points });
  }
  ranked.sort((a, b) => b.points - a.points || a.item.name.length - b.item.name.length || a.item.id.localeCompare(b.item.id));
  return ranked.slice(0, limit).map(({ item, score }) => ({ item, score }));
}
