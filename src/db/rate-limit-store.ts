import { RateLimiterMemory, RateLimiterPostgres, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Db } from './create-db.js';

/** One fixed-window budget: `points` per `duration` seconds for each key, keys namespaced by `keyPrefix`. */
export interface WindowOptions {
  points: number;
  duration: number;
  keyPrefix: string;
}

export type RateLimiterFactory = (options: WindowOptions) => RateLimiterAbstract;

/**
 * Where rate-limit windows are counted. PostgreSQL: the `rate_limits` table, one atomic upsert per
 * hit, so every process on the database spends one budget (N servers allow the limit once, not N
 * times). SQLite: this process's memory, which is right because one process serves a SQLite file.
 */
export function rateLimiters(db: Db): RateLimiterFactory {
  if (db.dialect !== 'pg') return (options) => new RateLimiterMemory(options);
  // The table comes from zia's migrations (tableCreated); expired windows are deleted every few minutes.
  return (options) => new RateLimiterPostgres({ ...options, storeClient: db.knex, storeType: 'knex', tableName: 'rate_limits', tableCreated: true });
}
