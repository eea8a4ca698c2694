import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { freePort, startApp, type TestApp } from '../helpers/app.js';
import { ARTIFACTS, launchBrowser } from '../helpers/browser.js';

const FAQ_ANSWER = 'We roast on Tuesdays and Fridays and ship the same afternoon, so your beans are never more than three days old.';

let app: TestApp;
let browser: Browser;

test.before(async () => {
  // The demo page loads the widget from SITE_URL, so the app's own address is SITE_URL here.
  const port = await freePort();
  app = await startApp('sqlite', { SITE_URL: `http://127.0.0.1:${port}` }, {}, { port });
  await app.services.tenants.create({
    slug: 'cafe',
    name: 'Cafe Aurora',
    settings: {
      greeting: 'Welcome to Cafe Aurora!',
      branding: { color: '#ff0066', title: 'Aurora helper', launcher_text: 'Ask us', position: 'bottom-left' },
      faq: [{ q: 'When do you roast the coffee?', a: FAQ_ANSWER }],
      lead: { mode: 'off', form_enabled: true },
    },
  });
  browser = await launchBrowser();
});

test.after.always(async () => {
  await browser?.close();
  await app?.close();
});

test.serial('the demo page embeds the widget: branding from bootstrap, a streamed FAQ answer, kept across a reload', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${app.url}/demo?tenant=cafe`);
  const launcher = page.locator('button.launcher');
  await launcher.waitFor();
  t.is(await launcher.textContent(), 'Ask us');
  t.is(await launcher.evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(255, 0, 102)', 'brand colour from bootstrap');
  t.true(await launcher.evaluate((el) => el.classList.contains('left')), 'position from bootstrap');
  t.is(await launcher.getAttribute('aria-expanded'), 'false');

  await launcher.click();
  t.is(await launcher.getAttribute('aria-expanded'), 'true');
  await page.getByRole('dialog').waitFor();
  t.is(await page.locator('#zia-title').textContent(), 'Aurora helper');
  t.truthy(await page.getByText('Welcome to Cafe Aurora!').count());

  // Count how the reply bubble's text changes while it streams in.
  await page.evaluate(() => {
    const host = document.querySelector('[id^="zia-widget-"]')!;
    const log = host.shadowRoot!.querySelector('.log')!;
    (window as any).__growth = [];
    new MutationObserver(() => {
      const bots = log.querySelectorAll('.msg.bot');
      (window as any).__growth.push(bots[bots.length - 1]?.textContent?.length ?? 0);
    }).observe(log, { subtree: true, childList: true, characterData: true });
  });
  const input = page.getByLabel('Message');
  await input.fill('when do you roast your coffee?');
  await input.press('Enter');
  await page.getByText(FAQ_ANSWER).waitFor({ timeout: 10_000 });
  const growth: number[] = await page.evaluate(() => (window as any).__growth);
  const distinct = new Set(growth.filter((n) => n > 0 && n < FAQ_ANSWER.length));
  t.true(distinct.size >= 3, `the reply grew in ${distinct.size} visible steps before it was complete`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'widget-open.png') });

  const conversation = await page.evaluate(() => localStorage.getItem('zia:cafe:conversation'));
  t.truthy(conversation);
  await page.reload();
  await page.locator('button.launcher').click();
  await page.getByText(FAQ_ANSWER).waitFor();
  t.is(await page.evaluate(() => localStorage.getItem('zia:cafe:conversation')), conversation, 'the same conversation after a reload');

  // The next message continues the stored conversation on the server.
  await page.getByLabel('Message').fill('hello');
  await page.getByLabel('Message').press('Enter');
  await page.getByText('Welcome to Cafe Aurora!').waitFor();
  const rows = await app.services.db.knex('conversations').where({ id: JSON.parse(conversation!) });
  t.is(rows.length, 1);
  const messages = await app.services.db.knex('messages').where({ conversation_id: JSON.parse(conversation!) });
  t.is(messages.length, 4, 'two turns in one conversation');

  // Escape closes the panel and gives focus back to the launcher.
  await page.keyboard.press('Escape');
  t.is(await page.locator('button.launcher').getAttribute('aria-expanded'), 'false');
  await context.close();
});

test.serial('the lead form posts to /v1/leads and the lead is stored; a phone-sized screen gets a full-screen panel', async (t) => {
  const context = await browser.newContext({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(`${app.url}/demo?tenant=cafe`);
  await page.locator('button.launcher').click();
  const panel = page.getByRole('dialog');
  const box = (await panel.boundingBox())!;
  t.is(Math.round(box.width), 375, 'full width on a phone');
  await page.getByRole('button', { name: 'Leave your contact details' }).click();
  await page.getByLabel('Name *').fill('Grace Hopper');
  await page.getByLabel('Email *').fill('grace@example.com');
  // The browser checks the email field itself; the server's field errors reach the visitor too.
  await page.getByLabel('WhatsApp').fill('call me maybe');
  await page.getByRole('button', { name: 'Send details' }).click();
  await page.getByText(/Please check: .*whatsapp/).waitFor();
  await page.getByLabel('WhatsApp').fill('+47 912 34 567');
  await page.getByRole('button', { name: 'Send details' }).click();
  await page.getByText('Thanks! We have your details').waitFor();
  const leads = await app.services.db.knex('leads').where({ email: 'grace@example.com' });
  t.is(leads.length, 1);
  t.is(leads[0].name, 'Grace Hopper');
  t.is(leads[0].source_channel, 'web');
  t.is(leads[0].whatsapp, '+4791234567');
  await page.screenshot({ path: path.join(ARTIFACTS, 'widget-phone.png') });
  await context.close();
});

test.serial('on a site whose origin is not allowed, the widget says it cannot reach the assistant, and the server logs why', async (t) => {
  // Another origin (another port) serving a page with the embed snippet.
  const site = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><html><body><h1>Some shop</h1><script src="${app.url}/widget.js" data-tenant="cafe" async></script></body></html>`);
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  const origin = `http://localhost:${(site.address() as AddressInfo).port}`;
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(origin);
    await page.locator('button.launcher').click();
    await page.getByText("Can't reach the assistant right now").first().waitFor();
    t.true(app.logs.text.includes(`cors: origin ${origin} refused`), 'the refusal is in the server log');

    // Allowed by the tenant: the same page works.
    await app.services.tenants.update('cafe', { settings: { allowed_origins: [origin] } });
    await page.reload();
    await page.locator('button.launcher').click();
    await page.getByText('Welcome to Cafe Aurora!').waitFor();
    await page.getByLabel('Message').fill('When do you roast?');
    await page.getByLabel('Message').press('Enter');
    await page.getByText(FAQ_ANSWER).waitFor({ timeout: 10_000 });
    t.pass();
  } finally {
    await context.close();
    site.close();
  }
});

test.serial("handoff on the web: the visitor asks for a person; the operator's reply reaches the open widget over its stream within a second, marked as theirs, once, also after a reload", async (t) => {
  await app.services.tenants.update('cafe', { settings: { handoff: { enabled: true, operator_label: 'Marta, roastery' } } });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const polls: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/v1/chat/operator-messages')) polls.push(r.url());
  });
  await page.goto(`${app.url}/demo?tenant=cafe`);
  const launcher = page.locator('button.launcher');
  await launcher.click();
  const human = page.getByRole('button', { name: 'Talk to a person' });
  await human.click();
  await page.getByText("I've asked a person from our team to join.").waitFor({ timeout: 10_000 });
  await human.waitFor({ state: 'hidden' });
  const id = JSON.parse((await page.evaluate(() => localStorage.getItem('zia:cafe:conversation')))!) as string;
  const waiting: any = await (await app.admin('/v1/admin/conversations?tenant=cafe&waiting=true')).json();
  t.deepEqual(waiting.conversations.map((c: any) => c.id), [id]);
  t.true(waiting.conversations[0].bot_paused);

  // The operator answers through the API while the panel stays open: nothing polls, the stream brings it.
  const text = 'Hi, this is Marta from the roastery.';
  const started = Date.now();
  t.is((await app.admin(`/v1/admin/conversations/${id}/reply`, { method: 'POST', body: JSON.stringify({ text }) })).status, 202);
  const bubble = page.locator('.msg.operator', { hasText: text });
  await bubble.waitFor({ timeout: 10_000 });
  const ms = Date.now() - started;
  t.log(`operator reply shown ${ms} ms after the API call`);
  t.true(ms < 1_000, `shown after ${ms} ms`);
  t.is(await bubble.locator('.who').textContent(), 'Marta, roastery', "marked as the operator's");
  t.deepEqual(polls, [], 'no polling');
  await page.screenshot({ path: path.join(ARTIFACTS, 'widget-operator.png') });

  // A reload shows it once (from the transcript; the stream resumes after it).
  await page.reload();
  const resumed = page.waitForRequest((r) => r.url().includes('/v1/chat/operator-stream'));
  await page.locator('button.launcher').click();
  t.regex((await resumed).url(), /after=/, 'the stream after a reload asks only for newer replies');
  await page.locator('.msg.operator', { hasText: text }).waitFor();
  await page.waitForTimeout(300);
  t.is(await page.locator('.msg.operator', { hasText: text }).count(), 1);

  // Handed back to the bot: the visitor may ask for a person again.
  t.is((await app.admin(`/v1/admin/conversations/${id}/resume`, { method: 'POST' })).status, 200);
  await page.getByRole('button', { name: 'Talk to a person' }).waitFor();
  await context.close();
});
