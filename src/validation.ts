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

/** Parses input or throws a ValidationError whose message already names every bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, prefix?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = problemsOf(result.error, prefix);
  throw new ValidationError(`invalid ${prefix ?? 'input'}: ${describeProblems(problems)}`, problems);
}
