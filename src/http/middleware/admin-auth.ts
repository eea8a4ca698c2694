import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { NotConfiguredError, UnauthorizedError } from '../../errors.js';
import type { Authenticator, Principal } from '../api.js';
import type { KeyGuard } from './key-guard.js';

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
 * `tenant`, and only for its own tenant (checked by the handlers through the principal). With a guard,
 * an address that sent too many wrong keys is refused before any key is compared or looked up (see KeyGuard).
 */
export function createAuthenticator(adminKey: string | undefined, resolveScoped?: ScopedKeyResolver, guard?: KeyGuard): Authenticator {
  return async (req: Request, level) => {
    const given = req.get('x-api-key');
    const attempt = given && guard ? await guard.attempt(req.ip ?? 'unknown') : undefined;
    const principal = given ? await check(given, level) : undefined;
    if (principal) {
      if (attempt) await guard!.succeeded(attempt);
      return principal;
    }
    if (attempt) guard!.failed(attempt);
    if (!adminKey) {
      throw new NotConfiguredError('the admin API is disabled: set ADMIN_KEY (run `zia init` to generate one)');
    }
    throw new UnauthorizedError(given ? 'invalid API key' : 'missing x-api-key header');
  };

  async function check(given: string, level: 'admin' | 'tenant'): Promise<Principal | undefined> {
    if (adminKey && keysMatch(given, adminKey)) return { kind: 'admin' };
    if (level === 'tenant' && resolveScoped) return resolveScoped(given);
    return undefined;
  }
}
