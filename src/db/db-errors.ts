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

/**
 * The one line an operator needs when PostgreSQL cannot be reached or refuses the connection: what
 * happened and what to do about it. Undefined for any other error.
 */
export function connectionAdvice(err: unknown): string | undefined {
  const e = err as { code?: string; name?: string; message?: string; address?: string; port?: number; hostname?: string; errors?: unknown[] };
  const code = e?.code ?? (e?.errors?.[0] as { code?: string } | undefined)?.code;
  const where = e?.address ? ` at ${e.address}${e.port ? `:${e.port}` : ''}` : '';
  switch (code) {
    case '3D000': {
      const name = /database "([^"]+)" does not exist/.exec(e.message ?? '')?.[1] ?? 'named in DATABASE_URL';
      return `PostgreSQL database "${name}" does not exist: create it (createdb ${name}, or CREATE DATABASE) or correct the database name in DATABASE_URL`;
    }
    case 'ECONNREFUSED':
      return `cannot connect to PostgreSQL${where} (connection refused): is the server running, and are the host and port in DATABASE_URL right?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the PostgreSQL host${e.hostname ? ` '${e.hostname}'` : ''}: check the host in DATABASE_URL`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `cannot reach PostgreSQL${where} (${code}): check the host in DATABASE_URL and the network or firewall in between`;
    case '28P01':
    case '28000':
      return `PostgreSQL refused the login (${(e.message ?? '').split('\n')[0]}): check the user and password in DATABASE_URL (or PGPASSWORD, ~/.pgpass) and pg_hba.conf`;
    case '57P03':
      return 'PostgreSQL is not accepting connections yet (starting up or shutting down): try again in a moment';
    default:
      if (e?.name === 'KnexTimeoutError') return 'timed out connecting to PostgreSQL: is the server running and reachable at the host in DATABASE_URL?';
      return undefined;
  }
}
