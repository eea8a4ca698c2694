import type { Db } from '../../src/db/create-db.js';
import { newId, toIso } from '../../src/db/dialect.js';

/** Inserts leads directly, for report tests: `at` spreads created_at one second apart from a start. */
export async function insertLeads(
  db: Db,
  tenantId: string,
  leads: Array<{ name?: string | null; email: string; whatsapp?: string | null; channel?: string }>,
  start = Date.parse('2026-01-01T00:00:00Z'),
): Promise<void> {
  const rows = leads.map((l, i) => {
    const at = toIso(start + i * 1000);
    return {
      id: newId(),
      tenant_id: tenantId,
      name: l.name ?? null,
      email: l.email,
      whatsapp: l.whatsapp ?? null,
      source_channel: l.channel ?? 'web',
      created_at: at,
      updated_at: at,
    };
  });
  for (let i = 0; i < rows.length; i += 500) await db.knex('leads').insert(rows.slice(i, i + 500));
}
