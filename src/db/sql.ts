import type { Knex } from 'knex';
import type { Db } from './create-db.js';

export type Interval = 'hour' | 'day' | 'week';

/**
 * A timestamp column truncated to an interval, as the same text label on both engines
 * ('2026-11-26T14' for hours, '2026-11-26' for days, the Monday of the week for weeks), in UTC.
 * SQLite stores zia's timestamps as ISO-8601 text; PostgreSQL as timestamptz.
 */
export function timeBucket(db: Db, column: string, interval: Interval): Knex.Raw {
  const k = db.knex;
  if (db.dialect === 'sqlite') {
    if (interval === 'hour') return k.raw(`substr(??, 1, 13)`, [column]);
    if (interval === 'day') return k.raw(`substr(??, 1, 10)`, [column]);
    return k.raw(`date(substr(??, 1, 10), '-' || ((cast(strftime('%w', substr(??, 1, 10)) as integer) + 6) % 7) || ' days')`, [column, column]);
  }
  if (interval === 'hour') return k.raw(`to_char(date_trunc('hour', ?? at time zone 'UTC'), 'YYYY-MM-DD"T"HH24')`, [column]);
  if (interval === 'day') return k.raw(`to_char(date_trunc('day', ?? at time zone 'UTC'), 'YYYY-MM-DD')`, [column]);
  return k.raw(`to_char(date_trunc('week', ?? at time zone 'UTC'), 'YYYY-MM-DD')`, [column]);
}

/** A JSON column as text, for matching inside it (jsonb on PostgreSQL, already text on SQLite). */
export function jsonText(db: Db, column: string): Knex.Raw {
  return db.dialect === 'sqlite' ? db.knex.raw('??', [column]) : db.knex.raw('??::text', [column]);
}
