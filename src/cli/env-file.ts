import { parse } from 'dotenv';
import { decodeKey } from '../config.js';

/** Generated values `zia init` writes; every other line of an existing .env is the operator's. */
export type InitValues = Partial<Record<'ADMIN_KEY' | 'ZIA_SECRET_KEY' | 'SITE_URL' | 'OPENAI_API_KEY', string>>;

const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/;

export function parseEnvFile(text: string): Record<string, string> {
  return parse(text);
}

export function freshEnv(values: InitValues): string {
  return [
    '# Written by `zia init`. Keep this file private: it holds the keys below.',
    `ADMIN_KEY=${values.ADMIN_KEY}`,
    `ZIA_SECRET_KEY=${values.ZIA_SECRET_KEY}`,
    `SITE_URL=${values.SITE_URL}`,
    '# DATABASE_URL=postgres://user:pass@host:5432/zia   (unset: embedded SQLite in ./data)',
    values.OPENAI_API_KEY ? `OPENAI_API_KEY=${values.OPENAI_API_KEY}` : '# OPENAI_API_KEY=sk-...   (unset: the offline provider answers)',
    '',
  ].join('\n');
}

/**
 * `zia init --force` on an existing .env: the generated values replace their lines in place, every
 * other line (settings, comments) stays, and the old ZIA_SECRET_KEY becomes the first of
 * ZIA_SECRET_KEY_PREVIOUS so that tenant secrets sealed with it can still be opened.
 */
export function rewriteEnv(text: string, values: InitValues): { text: string; keptKey: boolean } {
  const before = parse(text);
  const set: Record<string, string> = { ...values } as Record<string, string>;
  let keptKey = false;
  const oldKey = before.ZIA_SECRET_KEY?.trim();
  if (set.ZIA_SECRET_KEY && oldKey && decodeKey(oldKey) && oldKey !== set.ZIA_SECRET_KEY) {
    const previous = (before.ZIA_SECRET_KEY_PREVIOUS ?? '').split(',').map((k) => k.trim()).filter((k) => k && k !== oldKey);
    set.ZIA_SECRET_KEY_PREVIOUS = [oldKey, ...previous].join(',');
    keptKey = true;
  }
  const written = new Set<string>();
  const lines: string[] = [];
  for (const line of text.replace(/\n$/, '').split('\n')) {
    const key = ASSIGNMENT.exec(line)?.[1];
    if (key === undefined || !(key in set)) {
      lines.push(line);
      continue;
    }
    // A second assignment of a key zia just set would override it when read: drop it.
    if (!written.has(key)) lines.push(`${key}=${set[key]}`);
    written.add(key);
  }
  for (const [key, value] of Object.entries(set)) if (!written.has(key)) lines.push(`${key}=${value}`);
  return { text: `${lines.join('\n')}\n`, keptKey };
}
