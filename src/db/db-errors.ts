import { ConflictError, NotFoundError } from '../errors.js';

/**
 * Constraint violations from either engine become typed errors here, once. SQLite reports
 * `SQLITE_CONSTRAINT_UNIQUE` with the columns in the message; PostgreSQL reports SQLSTATE 23505 with
 * the constraint name in `constraint` and the columns in `detail`.
 */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === '23505';
}

export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || e?.code === '23503';
}

/** Which column a unique violation was about, when the engine says. */
export function violatedColumn(err: unknown): string | undefined {
  const e = err as { message?: string; detail?: string; constraint?: string };
  const sqlite = /UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)/.exec(e.message ?? '');
  if (sqlite) return sqlite[1]!.split(', ').map((c) => c.split('.').pop()).join(',');
  const pg = /Key \(([^)]+)\)=/.exec(e.detail ?? '');
  if (pg) return pg[1]!.replace(/\s/g, '');
  return e.constraint;
}

export function translateDbError(err: unknown, what = 'record'): unknown {
  if (isUniqueViolation(err)) {
    const column = violatedColumn(err);
    return new ConflictError(`${what} already exists${column ? ` (${column})` : ''}`, column ? { field: column } : undefined);
  }
  if (isForeignKeyViolation(err)) return new NotFoundError(`referenced ${what} does not exist`);
  return err;
}
