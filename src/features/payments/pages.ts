import { readFileSync } from 'node:fs';
import type { Response } from 'express';
import { fillTemplate } from '../../http/html.js';
import { templatePath } from '../../paths.js';

export interface PageText {
  title: string;
  business: string;
  message: string;
  detail: string;
  footer: string;
}

/** The small pages zia serves around Stripe (checkout return, onboarding return/refresh): one layout. */
export class PageRenderer {
  private template: string | undefined;

  send(res: Response, text: PageText): void {
    this.template ??= readFileSync(templatePath('page.html'), 'utf8');
    res.type('html').setHeader('cache-control', 'no-store').send(fillTemplate(this.template, { ...text }));
  }
}
