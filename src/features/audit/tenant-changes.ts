import type { Tenant, TenantService } from '../tenants/tenant-service.js';

/**
 * What a tenant write changed, by name only: `fields` (name, whatsapp) and `settings` as dotted paths
 * into nested settings (`lead.mode`, `branding.color`; lists by their own name, `faq`). Secrets are
 * compared decrypted, in memory, and named like any setting: no value ever reaches the audit log.
 */
export function tenantChanges(tenants: Pick<TenantService, 'secrets'>, before: Tenant | undefined, after: Tenant): { fields: string[]; settings: string[] } {
  const fields = (['name', 'whatsapp'] as const).filter((f) => before?.[f] !== after[f]);
  const settingsOf = (t: Tenant | undefined) => (t ? { ...t.settings, ...tenants.secrets(t) } : {});
  return { fields, settings: changedPaths(settingsOf(before), settingsOf(after)) };
}

export function changedPaths(before: unknown, after: unknown, prefix = ''): string[] {
  if (isRecord(before) || isRecord(after)) {
    const b = isRecord(before) ? before : {};
    const a = isRecord(after) ? after : {};
    // A setting that turned from a plain value into an object (or back) changed as a whole.
    if ((before !== undefined && !isRecord(before)) || (after !== undefined && !isRecord(after))) return [prefix];
    const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].sort();
    return keys.flatMap((k) => changedPaths(b[k], a[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
