import { randomBytes } from 'node:crypto';
import { PNG } from 'pngjs';
import jsQRModule from 'jsqr';
import type { Dialect } from '../../src/db/create-db.js';
import { newId, nowIso } from '../../src/db/dialect.js';
import type { CatalogItem, CatalogLookup } from '../../src/features/catalog/catalog.types.js';
import type { ConversationService } from '../../src/features/chat/chat.types.js';
import type { ServiceOptions } from '../../src/container.js';
import type { Tenant } from '../../src/features/tenants/tenant-service.js';
import { FakeStripe } from '../fakes/stripe-api.js';
import { startApp, type TestApp } from './app.js';

// jsqr is CommonJS typed as an ES default export: under NodeNext the function is `.default`.
const jsQR = ((jsQRModule as unknown as { default?: typeof jsQRModule.default }).default ?? jsQRModule) as unknown as typeof jsQRModule.default;

export const WEBHOOK_SECRET = `whsec_${randomBytes(16).toString('hex')}`;
export const CONNECT_SECRET = `whsec_${randomBytes(16).toString('hex')}`;

/** A catalog with a fixed item list: the stand-in for the tenant's published catalog. */
export function fixedCatalog(items: Array<Partial<CatalogItem> & Pick<CatalogItem, 'id' | 'name' | 'price' | 'currency'>>): CatalogLookup {
  const full: CatalogItem[] = items.map((i) => ({ description: null, url: null, image: null, available: true, stock: null, ...i }));
  return {
    configured: () => true,
    async search(_tenant, query) {
      return full.filter((i) => i.name.toLowerCase().includes(query.toLowerCase())).map((item) => ({ item, score: 1, priceText: `${item.price}` }));
    },
    async find(_tenant, itemId) {
      return full.find((i) => i.id === itemId);
    },
    formatPrice(_tenant, amount, currency) {
      return `${currency.toUpperCase()} ${(amount / 100).toFixed(2)}`;
    },
  };
}

/** Records what payments posts into conversations. */
export function recordingConversations() {
  const messages: Array<{ tenantId: string; conversationId: string; role: string; text: string }> = [];
  const service: Pick<ConversationService, 'appendMessage'> = {
    async appendMessage(tenantId, conversationId, m) {
      messages.push({ tenantId, conversationId, role: m.role, text: m.text });
      return { id: newId() };
    },
  };
  return { messages, service };
}

export interface PaymentsHarness {
  app: TestApp;
  fake: FakeStripe;
  close(): Promise<void>;
}

export async function startPayments(
  dialect: Dialect,
  opts: { env?: Record<string, string | undefined>; services?: Omit<ServiceOptions, 'db' | 'dbOptions'> } = {},
): Promise<PaymentsHarness> {
  const fake = await new FakeStripe().start();
  const app = await startApp(
    dialect,
    {
      STRIPE_SECRET_KEY: fake.secretKey,
      STRIPE_API_URL: fake.url,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_CONNECT_WEBHOOK_SECRET: CONNECT_SECRET,
      ...opts.env,
    },
    opts.services,
  );
  return {
    app,
    fake,
    async close() {
      await app.close();
      await fake.stop();
    },
  };
}

export const PLANS = [
  { id: 'basic', name: 'Basic coffee club', amount: 1900, currency: 'nok', interval: 'month' },
  { id: 'pro', name: 'Pro coffee club', amount: 4900, currency: 'nok', interval: 'month', description: 'Two bags a month' },
];

/** A tenant that went through onboarding: account created by zia, enabled by a signed account.updated. */
export async function connectedTenant(h: PaymentsHarness, slug: string, settings: Record<string, unknown> = { plans: PLANS }): Promise<Tenant> {
  let res = await h.app.admin('/v1/tenants', { method: 'POST', body: JSON.stringify({ slug, name: `Shop ${slug}`, settings }) });
  if (res.status !== 201) throw new Error(`tenant create: ${res.status} ${await res.text()}`);
  res = await h.app.admin('/v1/admin/stripe/connect/onboard', { method: 'POST', body: JSON.stringify({ tenant: slug }) });
  if (res.status !== 200) throw new Error(`onboard: ${res.status} ${await res.text()}`);
  const { account_id } = (await res.json()) as { account_id: string };
  const account = h.fake.completeOnboarding(account_id);
  res = await FakeStripe.deliver(`${h.app.url}/v1/stripe/webhook`, h.fake.event('account.updated', account, { account: account_id }), { secret: CONNECT_SECRET });
  if (res.status !== 200) throw new Error(`account.updated: ${res.status} ${await res.text()}`);
  return h.app.services.tenants.get(slug);
}

/** A conversation row, as the chat engine would have made it. */
export async function conversationOf(h: PaymentsHarness, tenantId: string, channel = 'whatsapp'): Promise<string> {
  const id = newId();
  const now = nowIso();
  await h.app.services.db.knex('conversations').insert({ id, tenant_id: tenantId, channel, external_user_id: `+47${Date.now() % 1e8}`, bot_paused: false, created_at: now, updated_at: now });
  return id;
}

export function decodePng(buf: Buffer): string | undefined {
  const png = PNG.sync.read(buf);
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data;
}

/**
 * Decodes the `qrcode` package's small terminal QR: each character is two modules stacked, drawn in
 * black on the white background the renderer sets (█ both dark, ▀ dark over light, ▄ light over dark,
 * space both light). Colour codes are dropped; the last line is the bottom border, drawn in white ▀.
 */
export function decodeTerminalQr(text: string): string | undefined {
  const lines = text.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => l.length > 0 && !/^▀+$/.test(l));
  const rows: boolean[][] = []; // true = light
  for (const line of lines) {
    const top: boolean[] = [];
    const bottom: boolean[] = [];
    for (const ch of line) {
      top.push(!(ch === '█' || ch === '▀'));
      bottom.push(!(ch === '█' || ch === '▄'));
    }
    rows.push(top, bottom);
  }
  const width = Math.max(...rows.map((r) => r.length));
  const pad = 4;
  const scale = 6;
  const w = (width + pad * 2) * scale;
  const h = (rows.length + pad * 2) * scale;
  const data = new Uint8ClampedArray(w * h * 4).fill(255);
  rows.forEach((r, y) =>
    r.forEach((light, x) => {
      if (light) return;
      for (let dy = 0; dy < scale; dy++)
        for (let dx = 0; dx < scale; dx++) {
          const i = (((y + pad) * scale + dy) * w + (x + pad) * scale + dx) * 4;
          data[i] = data[i + 1] = data[i + 2] = 0;
        }
    }),
  );
  return jsQR(data, w, h)?.data;
}
