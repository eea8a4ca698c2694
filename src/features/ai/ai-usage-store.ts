import type { Db } from '../../db/create-db.js';

/** Tokens spent per tenant and UTC day, for the daily quota. */
export class AiUsageStore {
  constructor(private readonly db: Db) {}

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

  /** Atomic change (negative when a reservation was larger than what was spent): concurrent turns add up. */
  async add(tenantId: string, day: string, tokens: number): Promise<void> {
    if (tokens === 0) return;
    const knex = this.db.knex;
    await knex('ai_usage')
      .insert({ tenant_id: tenantId, day, tokens })
      .onConflict(['tenant_id', 'day'])
      .merge({ tokens: knex.raw('?? + ?', ['ai_usage.tokens', tokens]) });
  }
}
