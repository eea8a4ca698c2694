import type { Db, Write } from '../../db/create-db.js';
import { MICRO_USD, UsageStore } from '../usage/usage-store.js';
import { estimateCost, type ModelPrice } from './model-prices.js';

/** A turn's use of a model, as the provider saw it. */
export interface ModelTurnUse {
  model: string;
  requests: number;
  input: number;
  output: number;
}

/** Tokens spent per tenant and UTC day: the daily quota, and the usage counters billing reads. */
export class AiUsageStore {
  private readonly counters: UsageStore;

  constructor(
    private readonly db: Db,
    /** ZIA_MODEL_PRICES: prices over the built-in table, for the estimated cost. */
    private readonly prices: Record<string, ModelPrice> = {},
  ) {
    this.counters = new UsageStore(db);
  }

  static today(now = new Date()): string {
    return now.toISOString().slice(0, 10);
  }

  async tokens(tenantId: string, day: string): Promise<number> {
    const r = await this.db.knex('ai_usage').where({ tenant_id: tenantId, day }).first('tokens');
    return r ? Number(r.tokens) : 0;
  }

  /**
   * Holds `tokens` against the day's quota before a call, unless the quota is spent already: one
   * conditional increment, so turns running at once (in any process) each see what the others hold,
   * and a spent quota lets nothing more through. The caller settles the difference with add().
   */
  async reserve(tenantId: string, day: string, tokens: number, quota: number): Promise<boolean> {
    const knex = this.db.knex;
    await knex('ai_usage').insert({ tenant_id: tenantId, day, tokens: 0 }).onConflict(['tenant_id', 'day']).ignore();
    const held = await knex('ai_usage').where({ tenant_id: tenantId, day }).where('tokens', '<', quota).increment('tokens', tokens);
    return Number(held) > 0;
  }

  /**
   * Settles a turn: the quota's change (negative when a reservation was larger than what was spent)
   * and the model's counters, in one commit. Atomic increments, so concurrent turns add up.
   */
  async add(tenantId: string, day: string, tokens: number, use?: ModelTurnUse): Promise<void> {
    const writes: Write[] = [];
    if (tokens !== 0) {
      writes.push((k) => k('ai_usage').insert({ tenant_id: tenantId, day, tokens }).onConflict(['tenant_id', 'day']).merge({ tokens: k.raw('?? + ?', ['ai_usage.tokens', tokens]) }));
    }
    if (use && use.requests > 0) {
      const cost = estimateCost(use.model, use, this.prices);
      writes.push(this.counters.modelWrite(tenantId, day, { ...use, costMicroUsd: cost === null ? 0 : Math.round(cost * MICRO_USD) }));
    }
    await this.db.writeAll(writes);
  }
}
