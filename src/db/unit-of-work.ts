import type { Knex } from 'knex';

/**
 * A transaction in progress, opaque outside src/db and the stores: services hand it on (to stores, to
 * the job queue, to another service) and never query through it. Stores get the knex transaction out
 * of it with `knexOf`. Work that must wait until the writes are visible to others (announcing events,
 * waking the job loop) is registered with `afterCommit` and runs once the transaction has committed;
 * a transaction that is rolled back, or run again after losing a race, runs none of an abandoned try's.
 */
export class Tx {
  readonly #trx: Knex.Transaction;
  readonly #afterCommit: Array<() => void> = [];

  constructor(trx: Knex.Transaction) {
    this.#trx = trx;
  }

  afterCommit(fn: () => void): void {
    this.#afterCommit.push(fn);
  }

  static knex(tx: Tx): Knex.Transaction {
    return tx.#trx;
  }

  static committed(tx: Tx): void {
    for (const fn of tx.#afterCommit) fn();
  }
}

export const knexOf = (tx: Tx): Knex.Transaction => Tx.knex(tx);

/** The knex to query on: the transaction's, or the database's own when there is none. */
export function on(db: { knex: Knex }, tx?: Tx): Knex {
  return tx ? Tx.knex(tx) : db.knex;
}

/** Runs `fn` in a transaction that `start` opens (knex's, or SQLite's group commit), then its after-commit work. */
export async function inTransaction<T>(start: (fn: (trx: Knex.Transaction) => Promise<unknown>) => Promise<unknown>, fn: (tx: Tx) => Promise<T>): Promise<T> {
  let last: Tx | undefined;
  const value = (await start((trx) => {
    last = new Tx(trx);
    return fn(last);
  })) as T;
  if (last) Tx.committed(last);
  return value;
}

/**
 * A transaction of its own, never committed together with others (SQLite's group commit runs only
 * database work): for a caller whose work inside waits on something else, such as a provider's API.
 */
export function ownTransaction<T>(db: { knex: Knex }, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return inTransaction((f) => db.knex.transaction(f), fn);
}
