// The console in a real browser: Debian's headless Chromium driven by puppeteer-core (which
// downloads no browser), against the real daemon and the fake Graph API that
// tests/integration/test_console_browser.cpp starts. Its settings arrive as JSON on stdin
// (tokens and secrets stay out of argv). Prints one line per check and, last, a JSON line
// with what the C++ side checks against the fake Graph API; exits 1 on the first failure.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const cfg = JSON.parse(readFileSync(0, 'utf8'));
const base = cfg.base;
const now = () => Math.floor(Date.now() / 1000);
const results = { sent: [], tti_ms: null, screenshots: [] };
const problems = []; // console errors, page errors and CSP violations, from every page

function fail(message) {
  throw new Error(message);
}

async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    console.log(`not ok - ${name}: ${e.message}`);
    throw e;
  }
}

// ---- the webhook side (as Meta sends it) --------------------------------------------------

async function webhook(messagesOrStatuses, tenant = cfg.acme) {
  const value = { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550000000', phone_number_id: tenant.phone_number_id } };
  Object.assign(value, messagesOrStatuses);
  const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value }] }] });
  const signature = 'sha256=' + createHmac('sha256', tenant.app_secret).update(body).digest('hex');
  const res = await fetch(`${base}/api/whatsapp/webhook`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signature }, body,
  });
  if (res.status !== 200) fail(`webhook answered ${res.status}: ${await res.text()}`);
}

function inbound(from, name, messages) {
  return webhook({ contacts: [{ profile: { name }, wa_id: from }], messages: messages.map((m) => ({ from, ...m })) });
}

const text = (id, body, ts = now()) => ({ id, timestamp: String(ts), type: 'text', text: { body } });
const status = (id, s, recipient, ts = now()) => webhook({ statuses: [{ id, status: s, timestamp: String(ts), recipient_id: recipient }] });

// A TCP proxy in front of the daemon whose connections the test can cut (and refuse for a
// while), as a network drop would: the console's stream must say so and then resume.
function cuttableProxy(target) {
  const sockets = new Set();
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.hostname);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', drop);
      s.on('close', drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      refusing = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      refusing = false;
    },
    close() {
      this.cut();
      server.close();
    },
  })));
}

// ---- the browser side ---------------------------------------------------------------------

const browser = await puppeteer.launch({
  executablePath: cfg.chromium,
  headless: true,
  args: ['--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', `--user-data-dir=${cfg.profile}`],
});

// Failed requests the test provokes on purpose (a wrong sign-in, a rejected save): the only
// console errors allowed, each once.
const expectedFailures = [];
let cutOff = false; // while the proxy refuses connections (requests fail at the network)
let revoking = false; // while a revoked token's page finds out (its requests answer 401)
function expectFailure(path, status) {
  expectedFailures.push({ path, status });
}

async function newPage(context, label, viewport = { width: 1280, height: 800 }) {
  const page = await context.newPage();
  await page.setViewport(viewport);
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'warn') return;
    const text = msg.text();
    const url = msg.location()?.url ?? '';
    if (revoking && text.includes('status of 401')) return;
    if (cutOff && /net::ERR_/.test(text)) return;
    if (text.startsWith('Failed to load resource')) {
      const i = expectedFailures.findIndex((f) => url.includes(f.path) && text.includes(`status of ${f.status}`));
      if (i >= 0) {
        expectedFailures.splice(i, 1);
        return;
      }
    }
    if (msg.type() === 'error' || /Content.Security.Policy|Refused to/i.test(text)) problems.push(`${label}: console ${msg.type()}: ${text} ${url}`);
  });
  page.on('pageerror', (err) => problems.push(`${label}: page error: ${err.message}`));
  return page;
}

async function waitFor(page, fn, what, ...args) {
  try {
    await page.waitForFunction(fn, { timeout: 15000, polling: 50 }, ...args);
  } catch {
    fail(`timed out waiting for ${what}`);
  }
}

// Every button and icon link has a name, every field a label (CONTRACT.md §10).
async function accessible(page, view) {
  const missing = await page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll('button, a.icon, [role=button]')) {
      const name = (el.getAttribute('aria-label') || el.textContent || '').trim();
      if (!name) out.push(`${el.tagName} ${el.className}`);
    }
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (el.type === 'hidden') continue;
      if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) out.push(`${el.tagName}#${el.id}`);
    }
    return out;
  });
  if (missing.length) fail(`${view}: unnamed controls: ${missing.join(', ')}`);
}

async function shot(page, name, fullPage = false) {
  if (!cfg.screenshots) return;
  const path = join(cfg.screenshots, `${name}.png`);
  await page.screenshot({ path, fullPage });
  results.screenshots.push(path);
}

async function signIn(page, token) {
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.waitForSelector('#token');
  await page.type('#token', token);
  await page.keyboard.press('Enter');
  await page.waitForSelector('header.top');
}

// Clicks what `selector` finds at that moment: the inbox re-renders on every event, so a
// handle taken earlier may be gone.
async function press(page, selector) {
  await page.waitForSelector(selector);
  await page.$eval(selector, (el) => el.click());
}

const jane = '15551234567';
const omar = '15557654321';
const history = '15550002222';
const stale = '15550003333';
let main;

try {
  const context = await browser.createBrowserContext();
  main = await newPage(context, 'acme');

  await check('sign-in: the first load shows the sign-in form; a wrong token is refused there', async () => {
    await main.goto(`${base}/`, { waitUntil: 'load' });
    if (!main.url().endsWith('/console/')) fail(`/ went to ${main.url()}`);
    await main.waitForSelector('#token');
    expectFailure('/console/api/session', 401);
    await main.type('#token', 'wbt_not-a-real-token');
    await main.click('form.signin button[type=submit]');
    await waitFor(main, () => document.querySelector('.signin .error')?.textContent.includes('invalid'), 'the sign-in error');
    await accessible(main, 'sign-in');
  });

  await check('sign-in: a tenant token opens the inbox, live', async () => {
    await main.$eval('#token', (el) => { el.value = ''; });
    await main.type('#token', cfg.acme.token);
    await main.keyboard.press('Enter');
    await main.waitForSelector('header.top');
    await waitFor(main, () => document.querySelector('.live-mark')?.textContent === 'live', 'the live mark');
    const cookie = (await context.cookies?.() ?? await main.cookies()).find((c) => c.name === 'wabactl_session');
    if (!cookie || !cookie.httpOnly || cookie.sameSite !== 'Strict') fail(`cookie ${JSON.stringify(cookie)}`);
    const visible = await main.evaluate(() => document.cookie);
    if (visible.includes('wabactl_session')) fail('the session cookie is readable by scripts');
  });

  await check('time to interactive of a signed-in first load (loopback)', async () => {
    await main.goto(`${base}/console/`, { waitUntil: 'load' });
    await main.waitForSelector('html[data-ready]');
    results.tti_ms = await main.evaluate(() => Math.round(performance.getEntriesByName('console-ready')[0]?.startTime ?? -1));
    console.log(`# time to interactive: ${results.tti_ms} ms`);
    await waitFor(main, () => document.querySelector('.live-mark')?.textContent === 'live', 'the live mark');
  });

  await check('an inbound webhook appears live in the inbox, the bell counts it and pulses', async () => {
    await inbound(jane, 'Jane Doe', [text('wamid.J1', 'Hello from Jane')]);
    await waitFor(main, (p) => document.querySelector(`.conversation[data-peer="${p}"]`)?.textContent.includes('Hello from Jane'), 'the conversation', jane);
    await waitFor(main, () => document.querySelector('.bell.pulse') !== null || document.querySelector('.bell .badge:not([hidden])')?.textContent === '1', 'the bell');
    await waitFor(main, () => document.querySelector('.bell .badge:not([hidden])')?.textContent === '1', 'the bell count 1');
    const pulsed = await main.evaluate(() => document.querySelector('.bell').getAnimations?.().length > 0 || document.querySelector('.bell.pulse') !== null);
    if (!pulsed) fail('the bell did not pulse');
    await inbound(omar, 'Omar', [text('wamid.O1', 'Hi, Omar here', now() + 1)]);
    await waitFor(main, () => document.querySelector('.bell .badge:not([hidden])')?.textContent === '2', 'the bell count 2');
    await waitFor(main, (p) => document.querySelector('.conversations li:first-child .conversation')?.dataset.peer === p, 'newest first', omar);
    const unreadBadge = await main.$eval(`.conversation[data-peer="${omar}"] .badge`, (el) => el.textContent);
    if (unreadBadge !== '1') fail(`Omar's unread badge is ${unreadBadge}`);
  });

  await check('search filters the inbox', async () => {
    await main.type('#inbox-search', 'omar');
    await waitFor(main, () => document.querySelectorAll('.conversation').length === 1, 'one match');
    await main.$eval('#inbox-search', (el) => { el.value = ''; el.dispatchEvent(new Event('input')); });
    await waitFor(main, () => document.querySelectorAll('.conversation').length === 2, 'both again');
  });

  await check('the bell opens the unread list; mark all read empties the bell', async () => {
    await main.click('.bell');
    await waitFor(main, () => document.querySelectorAll('#notifications .note').length === 2, 'two unread conversations');
    await accessible(main, 'notifications');
    await shot(main, 'inbox');
    const [button] = await main.$$('xpath/.//button[contains(., "Mark all read")]');
    await button.click();
    await waitFor(main, () => document.querySelector('.bell .badge').hidden, 'an empty bell');
    await waitFor(main, () => document.querySelector('#notifications')?.textContent.includes('Nothing unread'), 'an empty list');
    await waitFor(main, () => !document.querySelector('.conversation .badge'), 'no unread badges');
    await main.keyboard.press('Escape');
  });

  let wamid;
  await check('a new message opens the chat live; Shift+Enter is a new line, Enter sends', async () => {
    await inbound(jane, 'Jane Doe', [text('wamid.J2', 'Can you help me?')]);
    await waitFor(main, () => document.querySelector('.bell .badge:not([hidden])')?.textContent === '1', 'the bell count 1');
    await press(main, `.conversation[data-peer="${jane}"]`);
    await waitFor(main, () => document.querySelectorAll('.messages .msg.in').length === 2, 'the two incoming messages');
    await waitFor(main, () => document.querySelector('.bell .badge').hidden, 'the chat marked them read');
    await main.focus('#composer-text');
    await main.keyboard.type('Sure, first line');
    await main.keyboard.down('Shift');
    await main.keyboard.press('Enter');
    await main.keyboard.up('Shift');
    await main.keyboard.type('and a second line');
    const value = await main.$eval('#composer-text', (el) => el.value);
    if (value !== 'Sure, first line\nand a second line') fail(`the composer holds ${JSON.stringify(value)}`);
    await main.keyboard.press('Enter');
    await waitFor(main, () => [...document.querySelectorAll('.msg.out')].some((m) => m.textContent.includes('and a second line') && m.dataset.wamid), 'the sent message');
    results.sent.push(value);
    if (await main.$eval('#composer-text', (el) => el.value) !== '') fail('the composer was not emptied');
    wamid = await main.$eval('.msg.out', (el) => el.dataset.wamid);
    const tick = await main.$eval('.msg.out .ticks', (el) => el.dataset.status);
    if (tick !== 'sent') fail(`the first tick is ${tick}`);
    await accessible(main, 'chat');
  });

  await check('status webhooks move the ticks forward; a late "sent" never moves them back', async () => {
    const tick = (s) => waitFor(main, (w, st) => document.querySelector(`.msg[data-wamid="${w}"] .ticks`)?.dataset.status === st, `the ${s} tick`, wamid, s);
    await status(wamid, 'delivered', jane);
    await tick('delivered');
    await status(wamid, 'read', jane);
    await tick('read');
    await status(wamid, 'sent', jane);
    await inbound(jane, 'Jane Doe', [text('wamid.J3', 'Thanks!')]);
    await waitFor(main, () => [...document.querySelectorAll('.msg.in')].some((m) => m.textContent.includes('Thanks!')), 'the later message');
    const now = await main.$eval(`.msg[data-wamid="${wamid}"] .ticks`, (el) => el.dataset.status);
    if (now !== 'read') fail(`after a late sent the tick is ${now}`);
  });

  await check("a failed status shows Meta's reason", async () => {
    await main.focus('#composer-text');
    await main.keyboard.type('Are you still there?');
    await main.keyboard.press('Enter');
    await waitFor(main, () => [...document.querySelectorAll('.msg.out')].some((m) => m.textContent.includes('still there') && m.dataset.wamid), 'the second message');
    results.sent.push('Are you still there?');
    const second = await main.$$eval('.msg.out', (els) => els.find((m) => m.textContent.includes('still there')).dataset.wamid);
    await webhook({ statuses: [{ id: second, status: 'failed', timestamp: String(now()), recipient_id: jane, errors: [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message', error_data: { details: 'More than 24 hours have passed since the customer last replied.' } }] }] });
    await waitFor(main, (w) => {
      const m = document.querySelector(`.msg[data-wamid="${w}"]`);
      return m?.querySelector('.ticks')?.dataset.status === 'failed' && m.querySelector('.failure')?.textContent.includes('Re-engagement message');
    }, 'the failure and its reason', second);
  });

  await check('a quoted reply, an edit and a revoke show as such', async () => {
    await inbound(jane, 'Jane Doe', [text('wamid.EDITME', 'Is it red?'), text('wamid.REVOKEME', 'Oops, wrong chat'),
      { ...text('wamid.QUOTE', 'About my first question'), context: { from: '15550000000', id: 'wamid.J2' } }]);
    await waitFor(main, () => document.querySelector('.msg[data-wamid="wamid.QUOTE"] blockquote.quote')?.textContent === 'Can you help me?', 'the quoted reply');
    await waitFor(main, () => document.querySelector('.msg[data-wamid="wamid.REVOKEME"]'), 'the two messages');
    await inbound(jane, 'Jane Doe', [
      { id: 'wamid.EDIT1', timestamp: String(now()), type: 'edit', edit: { original_message_id: 'wamid.EDITME', message: { type: 'text', text: { body: 'Is it blue?' } } } },
      { id: 'wamid.REVOKE1', timestamp: String(now()), type: 'revoke', revoke: { original_message_id: 'wamid.REVOKEME' } },
    ]);
    await waitFor(main, () => {
      const m = document.querySelector('.msg[data-wamid="wamid.EDITME"]');
      return m && m.textContent.includes('Is it blue?') && m.querySelector('.edited');
    }, 'the edited message');
    await waitFor(main, () => {
      const m = document.querySelector('.msg[data-wamid="wamid.REVOKEME"]');
      return m && m.querySelector('.revoked') && !m.textContent.includes('Oops');
    }, 'the revoked message');
  });

  await check('an image shows inline and a document downloads', async () => {
    await inbound(jane, 'Jane Doe', [
      { id: 'wamid.IMG', timestamp: String(now()), type: 'image', image: { caption: 'The shop front', mime_type: 'image/png', id: cfg.media.image } },
      { id: 'wamid.DOC', timestamp: String(now()), type: 'document', document: { filename: 'receipt.pdf', mime_type: 'application/pdf', id: cfg.media.document } },
    ]);
    await waitFor(main, () => {
      const img = document.querySelector('.msg[data-wamid="wamid.IMG"] img.media');
      return img && img.complete && img.naturalWidth > 0;
    }, 'the image, loaded');
    await waitFor(main, () => document.querySelector('.msg[data-wamid="wamid.DOC"] a.document[download]'), 'the document link');
    const cdp = await browser.target().createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: cfg.downloads, browserContextId: context.id });
    await main.click('.msg[data-wamid="wamid.DOC"] a.document');
    const file = join(cfg.downloads, 'receipt.pdf');
    for (let i = 0; i < 200 && !(existsSync(file) && statSync(file).size > 0); i++) await new Promise((r) => setTimeout(r, 50));
    if (!existsSync(file)) fail(`no download in ${cfg.downloads}: ${readdirSync(cfg.downloads).join(', ')}`);
    if (readFileSync(file, 'utf8') !== cfg.media.document_text) fail('the downloaded document differs');
  });

  await check('scrolling up loads older messages without moving what is on screen', async () => {
    const many = [];
    const start = now() - 3 * 3600;
    for (let i = 1; i <= 75; i++) many.push(text(`wamid.H${i}`, `History message ${i}`, start + i * 60));
    await inbound(history, 'Hana History', many);
    await press(main, `.conversation[data-peer="${history}"]`);
    await waitFor(main, () => document.querySelectorAll('.messages .msg').length === 30, 'the first page');
    const atBottom = await main.$eval('.messages', (el) => el.scrollHeight - el.scrollTop - el.clientHeight < 4);
    if (!atBottom) fail('the chat did not open at its newest message');
    const before = await main.$eval('.messages', (el) => {
      el.scrollTop = 0;
      const first = el.querySelector('.msg');
      return { id: first.dataset.wamid, top: first.getBoundingClientRect().top };
    });
    await waitFor(main, () => document.querySelectorAll('.messages .msg').length === 60, 'the second page');
    const after = await main.$eval(`.msg[data-wamid="${before.id}"]`, (el) => el.getBoundingClientRect().top);
    if (Math.abs(after - before.top) > 3) fail(`the message jumped from ${before.top} to ${after}`);
    const order = await main.$$eval('.messages .msg .text', (els) => els.map((e) => e.textContent));
    if (order[0] !== 'History message 16' || order[59] !== 'History message 75') fail(`order ${order[0]} … ${order[59]}`);
  });

  await check('a closed 24-hour window offers only templates', async () => {
    await inbound(stale, 'Sam Stale', [text('wamid.S1', 'Are you open on Sunday?', now() - 2 * 86400)]);
    await waitFor(main, (p) => document.querySelector(`.conversation[data-peer="${p}"] .window.closed`), 'the closed mark', stale);
    await press(main, `.conversation[data-peer="${stale}"]`);
    await waitFor(main, () => document.querySelector('.window-banner') && document.querySelectorAll('#template-select option').length > 1, 'the template picker');
    if (await main.$('#composer-text')) fail('a free-form composer is offered');
    await main.select('#template-select', '0');
    await main.waitForSelector('#template-param-0');
    // The picker asks for what this template takes: a header word, the body's name and
    // the booking button's URL part.
    await main.type('#template-header-0', 'Sunday');
    await main.type('#template-param-0', 'Sam');
    await main.type('#template-button-0', 'visit-42');
    await main.click('.template-form button[type=submit]');
    await waitFor(main, () => document.querySelectorAll('.msg.out').length === 1, 'the sent template');
    await accessible(main, 'template picker');
  });

  await check('a chat opened by its address, as a link or a reload opens it', async () => {
    await main.goto(`${base}/console/#/chat/${jane}`, { waitUntil: 'load' });
    await waitFor(main, () => {
      const img = document.querySelector('.msg[data-wamid="wamid.IMG"] img.media');
      return img && img.complete && img.naturalWidth > 0 && document.querySelector('.live-mark')?.textContent === 'live';
    }, 'the chat');
    await shot(main, 'chat');
  });

  await check('settings: test connection, a rejected token, disconnect and connect again', async () => {
    await main.goto(`${base}/console/#/settings`, { waitUntil: 'load' });
    await waitFor(main, () => document.querySelector('.status-indicator')?.dataset.status === 'configured', 'the configured status');
    await accessible(main, 'settings');
    const webhookUrl = await main.$eval('#webhook_url', (el) => el.value);
    if (webhookUrl !== `${base}/api/whatsapp/webhook/acme`) fail(`the webhook URL is ${webhookUrl}`);
    const [test] = await main.$$('xpath/.//button[contains(., "Test connection")]');
    await test.click();
    await waitFor(main, () => document.querySelector('.status-indicator')?.dataset.status === 'connected', 'connected');
    await shot(main, 'settings', true);
    expectFailure('/api/whatsapp/config', 400);
    await main.type('#access_token', cfg.bad_access_token);
    await main.click('.settings-form button[type=submit]');
    await waitFor(main, () => document.querySelector('.settings-form .error')?.textContent.includes('Not saved'), 'the rejection');
    const rejected = await main.$eval('.status-indicator', (el) => el.dataset.status);
    if (rejected !== 'reauth' && rejected !== 'error') fail(`after a rejected token the status is ${rejected}`);
    await main.$eval('#access_token', (el) => { el.value = ''; });
    const [disconnect] = await main.$$('xpath/.//button[text()="Disconnect"]');
    await disconnect.click();
    const [yes] = await main.$$('xpath/.//button[contains(., "Yes, disconnect")]');
    expectFailure('/api/whatsapp/config', 404);
    await yes.click();
    await waitFor(main, () => document.querySelector('.status-indicator')?.dataset.status === 'none', 'not configured');
    await main.type('#access_token', cfg.acme.access_token);
    await main.$eval('#phone_number_id', (el) => { el.value = ''; });
    await main.type('#phone_number_id', cfg.acme.phone_number_id);
    await main.type('#business_account_id', cfg.acme.waba);
    await main.type('#app_secret', cfg.acme.app_secret);
    await main.click('.settings-form button[type=submit]');
    await waitFor(main, () => document.querySelector('.status-indicator')?.dataset.status === 'connected', 'connected again');
  });

  await check('at 360 px: one pane at a time, nothing wider than the screen', async () => {
    const phone = await newPage(context, 'acme-phone', { width: 360, height: 740, isMobile: true, hasTouch: true });
    await phone.goto(`${base}/console/`, { waitUntil: 'load' });
    await waitFor(phone, () => document.querySelectorAll('.conversation').length >= 4, 'the inbox');
    await press(phone, `.conversation[data-peer="${jane}"]`);
    await waitFor(phone, () => document.querySelector('#composer-text') && getComputedStyle(document.querySelector('.inbox')).display === 'none', 'the chat alone');
    const wide = await phone.evaluate(() => document.documentElement.scrollWidth);
    if (wide > 360) fail(`the page is ${wide} px wide`);
    await phone.click('a.back');
    await waitFor(phone, () => getComputedStyle(document.querySelector('.inbox')).display !== 'none', 'the inbox again');
    await phone.goto(`${base}/console/#/settings`, { waitUntil: 'load' });
    await phone.waitForSelector('#access_token');
    if (await phone.evaluate(() => document.documentElement.scrollWidth) > 360) fail('settings are wider than 360 px');
    await phone.close();
  });

  await check('a tenant without an active config gets the wa.me link instead of a composer', async () => {
    const other = await browser.createBrowserContext();
    const page = await newPage(other, 'gamma');
    // The config route answers 404 for a tenant without one, once per load.
    expectFailure('/api/whatsapp/config', 404);
    expectFailure('/api/whatsapp/config', 404);
    await signIn(page, cfg.gamma.token);
    await page.goto(`${base}/console/#/chat/${jane}`, { waitUntil: 'load' });
    await waitFor(page, (p) => document.querySelector(`.fallback a[href="https://wa.me/${p}"]`), 'the wa.me link', jane);
    if (await page.$('#composer-text')) fail('a composer is offered');
    await other.close();
  });

  await check("another tenant's token sees none of it", async () => {
    const other = await browser.createBrowserContext();
    const page = await newPage(other, 'globex');
    await signIn(page, cfg.globex.token);
    await waitFor(page, () => document.querySelector('.conversations')?.textContent.includes('No conversations yet'), 'an empty inbox');
    await page.goto(`${base}/console/#/chat/${jane}`, { waitUntil: 'load' });
    await waitFor(page, () => document.querySelector('.messages')?.textContent.includes('No messages yet'), 'an empty chat');
    const leaked = await page.evaluate(async () => {
      const r = await fetch('/api/whatsapp/messages?limit=1000');
      return (await r.text()).includes('Jane');
    });
    if (leaked) fail("globex's session reads acme's messages");
    await main.goto(`${base}/console/#/inbox`, { waitUntil: 'load' });
    await waitFor(main, () => document.querySelector('.live-mark')?.textContent === 'live' && document.querySelector('.conversation'), "acme's live inbox");
    await inbound(jane, 'Jane Doe', [text('wamid.J9', 'Only for acme')]);
    await waitFor(main, () => [...document.querySelectorAll('.conversation')].some((c) => c.textContent.includes('Only for acme')), "acme's inbox");
    await new Promise((r) => setTimeout(r, 300));
    const seen = await page.evaluate(() => document.body.textContent.includes('Only for acme') || !document.querySelector('.bell .badge').hidden);
    if (seen) fail("acme's message reached globex's console");
    await other.close();
  });

  await check('a dropped connection shows reconnecting, then the stream resumes with what it missed', async () => {
    const proxy = await cuttableProxy(new URL(base));
    const other = await browser.createBrowserContext();
    const page = await newPage(other, 'acme-proxied');
    await page.goto(`${proxy.url}/`, { waitUntil: 'load' });
    await page.waitForSelector('#token');
    await page.type('#token', cfg.acme.token);
    await page.keyboard.press('Enter');
    await page.waitForSelector('header.top');
    await page.goto(`${proxy.url}/console/#/chat/${jane}`, { waitUntil: 'load' });
    await waitFor(page, () => document.querySelector('.live-mark')?.textContent === 'live' && document.querySelector('.messages .msg'), 'the live chat');
    cutOff = true;
    proxy.cut();
    await waitFor(page, () => document.querySelector('.live-mark')?.textContent === 'reconnecting…', 'the reconnecting mark');
    await inbound(jane, 'Jane Doe', [text('wamid.MISSED', 'Sent while the line was down')]);
    await new Promise((r) => setTimeout(r, 300));
    proxy.restore();
    await waitFor(page, () => document.querySelector('.live-mark')?.textContent === 'live', 'live again');
    await waitFor(page, () => document.querySelector('.msg[data-wamid="wamid.MISSED"]'), 'the missed message, replayed');
    cutOff = false;
    await other.close();
    proxy.close();
  });

  await check('revoking the token sends its console back to the sign-in form', async () => {
    const other = await browser.createBrowserContext();
    const page = await newPage(other, 'acme-revoked');
    await signIn(page, cfg.revocable.token);
    await waitFor(page, () => document.querySelector('.live-mark')?.textContent === 'live', 'the live mark');
    revoking = true;
    execFileSync(cfg.wabactl.binary, ['token', 'revoke', '--tenant', 'acme', cfg.revocable.id], { env: { ...process.env, ...cfg.wabactl.env }, stdio: 'ignore' });
    await waitFor(page, () => document.querySelector('#token') && document.querySelector('.signin .error')?.textContent.includes('session ended'), 'the sign-in form');
    await other.close();
    revoking = false;
  });

  await check('signing out returns to the sign-in form', async () => {
    await main.click('button[aria-label="Sign out"]');
    await main.waitForSelector('#token');
    expectFailure('/api/whatsapp/unread-count', 401);
    const r = await main.evaluate(async () => (await fetch('/api/whatsapp/unread-count')).status);
    if (r !== 401) fail(`after sign-out the API answered ${r}`);
  });

  await check('the page logged no console error and no CSP violation', async () => {
    await new Promise((r) => setTimeout(r, 200));
    if (problems.length) fail(problems.join('\n'));
  });
} catch (e) {
  if (main && cfg.failure_shot) await main.screenshot({ path: cfg.failure_shot }).catch(() => {});
  if (problems.length) console.log(`# browser problems:\n${problems.join('\n')}`);
  await browser.close();
  console.log(JSON.stringify(results));
  process.exit(1);
}
await browser.close();
console.log(JSON.stringify(results));
