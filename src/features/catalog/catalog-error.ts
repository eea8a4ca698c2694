import { AppError } from '../../errors.js';
import { FetchRefusedError, type FetchRefusal } from '../../net/safe-fetch.js';

export type CatalogFailure = FetchRefusal | 'invalid_shape' | 'recent_failure';

/** A tenant's catalog could not be read: the answer is a 502 `catalog_unavailable` with the reason. */
export class CatalogFetchError extends AppError {
  constructor(
    public readonly reason: CatalogFailure,
    message: string,
  ) {
    super(502, 'catalog_unavailable', message, { reason });
  }
}

/** Whatever a catalog fetch threw, as the catalog's own error (an unknown failure is a network one). */
export function asCatalogError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof FetchRefusedError) return new CatalogFetchError(err.reason, err.message);
  return new CatalogFetchError('network', `catalog fetch failed: ${(err as Error).message}`);
}
