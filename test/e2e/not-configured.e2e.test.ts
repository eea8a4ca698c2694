import ava from 'ava';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApp } from '../helpers/app.js';
import { createTenant } from '../helpers/chat.js';
import { runBin } from '../helpers/cli.js';
import { dialects } from '../helpers/db.js';
import { META_SECRET, PAGE_ID } from '../helpers/meta.js';
import { connectedTenant, PLANS, startPayments } from '../helpers/stripe.js';

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const SETTING_NAMES = /STRIPE|catalog_url|TWILIO|twilio_|META_|settings\./;

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: an unconfigured feature answers anonymous callers a bare 503 and warns the operator once per tenant and setting`, async (t) => {
    const bare = await startApp(dialect);
    try {
      await createTenant(bare, 'shop', { plans: PLANS });
      await createTenant(bare, 'cafe', { plans: PLANS });
      for (let i = 0; i < 5; i++) {
        const res = await post(`${bare.url}/v1/stripe/checkout/by-plan?tenant=shop`, { plan_id: 'basic' });
        t.is(res.status, 503);
        const { error } = (await res.json()) as any;
        t.is(error.code, 'not_configured');
        t.notRegex(error.message, SETTING_NAMES, 'the public answer names no setting');
      }
      t.is((await post(`${bare.url}/v1/stripe/checkout/qr?tenant=cafe`, { plan_id: 'basic' })).status, 503);
      const warnings = bare.logs.lines.filter((l) => /not configured/.test(l));
      t.is(warnings.length, 2, 'one warning per tenant, not per request');
      t.true(warnings.every((l) => /STRIPE_SECRET_KEY/.test(l) && /"level":40/.test(l)), 'the log names the setting, as a warning');
      t.true(warnings.some((l) => /"tenant":"shop"/.test(l)) && warnings.some((l) => /"tenant":"cafe"/.test(l)));
      t.false(bare.logs.lines.some((l) => /"level":50/.test(l)), 'no error-level line');
      t.false(bare.logs.text.includes('"stack"'), 'no stack');
      // Operators' routes keep the helpful message (payments-checkout checks onboard and send-wa).
    } finally {
      await bare.close();
    }

    const h = await startPayments(dialect);
    try {
      await connectedTenant(h, 'nocat');
      for (let i = 0; i < 3; i++) {
        const res = await post(`${h.app.url}/v1/stripe/checkout/by-item?tenant=nocat`, { item_id: 'mug' });
        t.is(res.status, 503);
        t.notRegex(((await res.json()) as any).error.message, SETTING_NAMES);
      }
      const warnings = h.app.logs.lines.filter((l) => /not configured/.test(l));
      t.is(warnings.length, 1);
      t.regex(warnings[0]!, /catalog_url/);
    } finally {
      await h.close();
    }
  });

  test(`${dialect}: simulate to an unreachable server answers 502 saying what failed; the CLI prints one line and exits 1`, async (t) => {
    const app = await startApp(dialect, { META_APP_SECRET: META_SECRET });
    try {
      await createTenant(app, 'shop', { fb_page_id: PAGE_ID });
      const port = await closedPort();
      const res = await app.admin('/v1/admin/webhooks/simulate', { method: 'POST', body: JSON.stringify({ provider: 'meta', tenant: 'shop', url: `http://127.0.0.1:${port}` }) });
      t.is(res.status, 502);
      const { error } = (await res.json()) as any;
      t.is(error.code, 'upstream_error');
      t.is(error.message, `could not reach 127.0.0.1:${port}: connection refused (ECONNREFUSED)`);
      t.is(error.details.url, `http://127.0.0.1:${port}/v1/meta/webhook`);
      t.false(app.logs.lines.some((l) => /"level":50/.test(l)), 'an unreachable target is not a server error');

      const cwd = mkdtempSync(path.join(tmpdir(), 'zia-sim-'));
      const r = await runBin(['webhooks', 'simulate', 'meta', '--tenant', 'shop', '--url', `http://127.0.0.1:${port}`], { env: app.env, cwd });
      t.is(r.code, 1);
      t.is(r.stderr, `zia: could not reach 127.0.0.1:${port}: connection refused (ECONNREFUSED)\n`);
      t.is(r.stdout, '');
    } finally {
      await app.close();
    }
  });
}
