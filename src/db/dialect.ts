import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/**
 * What comes back from the two engines differs: JSON is text on SQLite and an object on PostgreSQL,
 * booleans are 0/1 or true/false, timestamps are ISO text or Date. Stores write and read through these
 * helpers so features never branch on the dialect.
 */

/**
 * ulid's default source asks the system CSPRNG for one byte per character (16 calls per id), which
 * showed on the chat path. The same CSPRNG, drawn a few KB at a time, gives the same bytes for less.
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
function pooledRandom(): number {
  if (poolAt >= pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return pool[poolAt++]! / 256;
}

const nextUlid = monotonicFactory(pooledRandom);

/** Time-sortable unique id, generated in the app so no insert depends on returning(). */
export function newId(): string {
  return nextUlid();
}

/** Timestamps are written as ISO-8601 UTC text with milliseconds: sortable on SQLite, timestamptz on PG. */
export function nowIso(): string {
  return new Date().toISOString();
}

export function toIso(value: Date | string | number): string {
  return new Date(value).toISOString();
}

/** The form nowIso() writes; SQLite gives it back as is, and it needs no parsing (exports read millions). */
const ISO_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function readTime(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  const s = String(value);
  if (ISO_MS_UTC.test(s)) return s;
  // SQLite CURRENT_TIMESTAMP form, if any row was written by SQL defaults.
  if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(s)) return new Date(`${s.replace(' ', 'T')}Z`).toISOString();
  return new Date(s).toISOString();
}

export function writeJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

export function readJson<T>(value: unknown, fallback: T): T {
  if (value === null || value === undefined) return fallback;
  if (typeof value === 'string') {
    try {
      return JSON.parse(value) as T;
    } catch {
      return fallback;
    }
  }
  return value as T;
}

export function readBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't';
}

/** Counts come back as strings from PostgreSQL (bigint) and numbers from SQLite. */
export function readCount(value: unknown): number {
  return value === null || value === undefined ? 0 : Number(value);
}
