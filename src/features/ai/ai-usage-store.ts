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

  /** Atomic increment: concurrent turns (and processes) add up instead of overwriting each other. */
  async add(tenantId: string, day: string, tokens: number): Promise<void> {
    if (tokens <= 0) return;
    const knex = this.db.knex;
    await knex('ai_usage')
      .insert({ tenant_id: tenantId, day, tokens })
      .onConflict(['tenant_id', 'day'])
      .merge({ tokens: knex.raw('?? + ?', ['ai_usage.tokens', tokens]) });
  }
}
