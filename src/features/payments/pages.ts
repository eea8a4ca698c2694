import { readFileSync } from 'node:fs';
import { templatePath } from '../../paths.js';

/** The small HTML pages zia serves around Stripe (checkout return, onboarding return/refresh). */
export class PageRenderer {
  private readonly cache = new Map<string, string>();

  render(name: string, vars: Record<string, string>): string {
    let tpl = this.cache.get(name);
    if (tpl === undefined) {
      tpl = readFileSync(templatePath(name), 'utf8');
      this.cache.set(name, tpl);
    }
    return tpl.replace(/\{\{(\w+)\}\}/g, (_m, key: string) => escapeHtml(vars[key] ?? ''));
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
