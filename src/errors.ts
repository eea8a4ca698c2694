/**
 * One error family. Everything the HTTP layer or the CLI reports on purpose is an AppError; anything
 * else is a bug and is reported as a 500 without details.
 */
export class AppError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, details?: unknown) {
    super(400, 'bad_request', message, details);
  }
}

export interface FieldProblem {
  path: string;
  message: string;
}

export class ValidationError extends AppError {
  constructor(message: string, public readonly problems: FieldProblem[]) {
    super(400, 'validation_failed', message, problems);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'missing or invalid API key') {
    super(401, 'unauthorized', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

export class NotFoundError extends AppError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, details?: unknown) {
    super(409, 'conflict', message, details);
  }
}

export class RateLimitError extends AppError {
  constructor(message: string, public readonly retryAfterSeconds?: number) {
    super(429, 'rate_limited', message, retryAfterSeconds ? { retry_after: retryAfterSeconds } : undefined);
  }
}

export class UpstreamError extends AppError {
  constructor(message: string, details?: unknown) {
    super(502, 'upstream_error', message, details);
  }
}

export class NotConfiguredError extends AppError {
  constructor(message: string) {
    super(503, 'not_configured', message);
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** An invalid configuration: every problem, listed at once. */
export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}
