import { ValidationError } from '../../errors.js';

/** Path segments that would reach an object's prototype instead of a setting. */
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * Applies a settings patch the same way for every writer (POST and PATCH /v1/tenants, `zia tenant
 * create|update`): a key replaces the stored value, null removes it, and a dotted key
 * (`branding.color`, `faq.0.a`) reaches into the stored object or array and changes only that entry.
 * The result is not validated here; the caller validates the whole merged settings.
 */
export function mergeSettings(current: Record<string, unknown>, patch: Record<string, unknown> | undefined): Record<string, unknown> {
  let merged: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch ?? {})) {
    const segments = key.split('.');
    if (segments.some((s) => s === '' || FORBIDDEN.has(s))) {
      throw new ValidationError(`invalid settings: settings.${key}: not a settings key`, [{ path: `settings.${key}`, message: 'not a settings key' }]);
    }
    merged = setPath(merged, segments, value) as Record<string, unknown>;
  }
  return merged;
}

function setPath(target: unknown, [head, ...rest]: string[], value: unknown): unknown {
  const copy: Record<string, unknown> | unknown[] = Array.isArray(target)
    ? [...target]
    : typeof target === 'object' && target !== null
      ? { ...(target as Record<string, unknown>) }
      : /^\d+$/.test(head!)
        ? []
        : {};
  const slot = head!;
  if (rest.length > 0) {
    (copy as Record<string, unknown>)[slot] = setPath((copy as Record<string, unknown>)[slot], rest, value);
  } else if (value !== null) {
    (copy as Record<string, unknown>)[slot] = value;
  } else if (Array.isArray(copy)) {
    if (/^\d+$/.test(slot)) copy.splice(Number(slot), 1);
  } else {
    delete copy[slot];
  }
  return copy;
}
