import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { NotConfiguredError, UnauthorizedError } from '../../errors.js';
import type { Authenticator, Principal } from '../api.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time comparison: both sides are hashed to equal length first, so length leaks nothing. */
export function keysMatch(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export type ScopedKeyResolver = (key: string) => Promise<Principal | undefined>;

/**
 * ADMIN_KEY opens everything; a tenant-scoped key (when a resolver is given) opens only routes marked
 * `tenant`, and only for its own tenant (checked by the handlers through the principal).
 */
export function createAuthenticator(adminKey: string | undefined, resolveScoped?: ScopedKeyResolver): Authenticator {
  return async (req: Request, level) => {
    const given = req.get('x-api-key');
    if (adminKey && given && keysMatch(given, adminKey)) return { kind: 'admin' };
    if (level === 'tenant' && given && resolveScoped) {
      const principal = await resolveScoped(given);
      if (principal) return principal;
    }
    if (!adminKey) {
      throw new NotConfiguredError('the admin API is disabled: set ADMIN_KEY (run `zia init` to generate one)');
    }
    throw new UnauthorizedError(given ? 'invalid API key' : 'missing x-api-key header');
  };
}
