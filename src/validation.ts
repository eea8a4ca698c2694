import { z } from 'zod';
import { ValidationError, type FieldProblem } from './errors.js';

/** Turns zod issues into field paths an operator can act on (`settings.faq.2.a`, `settings.foo`). */
export function problemsOf(error: z.ZodError, prefix?: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const issue of error.issues) {
    const base = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({ path: base ? `${base}.${key}` : key, message: 'unknown key' });
      }
      continue;
    }
    problems.push({ path: base || '(root)', message: issue.message });
  }
  return problems;
}

export function describeProblems(problems: FieldProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('; ');
}

/**
 * The input without U+0000 in any string or key. PostgreSQL refuses the character in text and jsonb
 * (SQLite keeps it), and no person types it, so it is dropped at the boundary rather than refused.
 * Unchanged values are returned as they are, so clean input (nearly all of it) costs one walk.
 */
export function withoutNul<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\u0000') ? value.replaceAll('\u0000', '') : value) as T;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = withoutNul(value[i]);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return (out ?? value) as T;
  }
  if (value === null || typeof value !== 'object') return value;
  // Only plain records (parsed JSON, forms, queries): a Date or a Buffer is not text to clean.
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const key = withoutNul(k);
    const clean = withoutNul(v);
    if (key === k && clean === v) continue;
    if (!out) out = { ...(value as Record<string, unknown>) };
    if (key !== k) delete out[k];
    out[key] = clean;
  }
  return (out ?? value) as T;
}

/** A ULID, the form of every id zia makes: anything else cannot name a row, so it is refused before a query. */
export const ulidSchema = z.string().regex(/^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$/, 'an id such as 01JD3M5X6Y7Z8A9B0C1D2E3F4G (26 characters)');

/**
 * Parses input or throws a ValidationError whose message already names every bad field. Every input
 * passes here (bodies, queries, path parameters, provider payloads after their signature check, stored
 * items, CLI flags), so this is where U+0000 is dropped.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, prefix?: string): z.output<S> {
  const result = schema.safeParse(withoutNul(input));
  if (result.success) return result.data;
  const problems = problemsOf(result.error, prefix);
  throw new ValidationError(`invalid ${prefix ?? 'input'}: ${describeProblems(problems)}`, problems);
}
