import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { gql } from '../../src/cli/client';
import type { DemoSeed } from '../../src/composition/demo';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { axeViolations, launchChromiumOrSkip, screenshot, tabTo } from '../support/pages-browser';

/**
 * The people's pages (issue 12) in Debian's Chromium, the way their users work: sign in with a key
 * (by keyboard), watch live data from simulated calls, press the buttons. The caller's side is the
 * real widget on the demo's shop page for the PC-to-PC call, and the public API elsewhere (it sends
 * the cart and referrer the widget has no attributes for). Each page is checked with axe-core's WCAG
 * A/AA rules; screenshots go to test-artifacts/screenshots/ (git-ignored).
 */
describe('the pages in Chromium: console, dashboard, history', () => {
  let server: ServerProcess;
  let browser: Browser | null = null;
  let ctx: BrowserContext;
  let base = '';
  let demo: DemoSeed;
  const A: Record<string, string> = {};
  const B: Record<string, string> = {};
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);

  const merchant = async (ids: Record<string, string>, name: string) => {
    ids.m = (await admin(`mutation($n: String!, $o: [String!]) { createMerchant(input: { name: $n, allowedOrigins: $o }) { id } }`, { n: name, o: ['https://shop.example'] })).createMerchant.id;
    ids.center = (
      await admin(
        `mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "Phone room", phoneNumber: "+14155550100", timeZone: "UTC", capacity: 5, region: "us-east" }) { id } }`,
        { m: ids.m },
      )
    ).addCallCenter.id;
    ids.link = (await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Lamp page button", callCenterIds: [$c] }) { id } }`, { m: ids.m, c: ids.center })).createLink.id;
    await admin(`mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "USD", connectionFeeMinor: 10, ratePerMinuteMinor: 6, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }) }`, { m: ids.m });
    await admin(`mutation($m: ID!) { setDtmfCommand(merchantId: $m, sequence: "*76", action: PUSH_PAGE, argument: "https://shop.example/offers") }`, { m: ids.m });
    for (const role of ['MERCHANT', 'CRM', 'ANALYST'])
      ids[role] = (await admin(`mutation($r: Role!, $m: ID) { createApiKey(role: $r, merchantId: $m) { key } }`, { r: role, m: ids.m })).createApiKey.key;
  };

  /** A call as the widget places it, with a cart and a referrer; the simulator rings and answers it. */
  const place = async (ids: Record<string, string>, customerId = 'cust-lamp') => {
    const d = (
      await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
        i: { merchantId: ids.m, linkId: ids.link, customerId, pageUrl: 'https://shop.example/p/lamp', referrer: 'https://search.example/?q=desk+lamp', context: { cart: ['desk-lamp', 'bulb'] } },
      })
    ).recordDownload as { callId: string; callToken: string };
    await gql(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { id } }`, { t: d.callToken });
    return d;
  };
  const hangUp = (token: string) => gql(server.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: token });
  const stateOf = async (callId: string) => (await admin(`query($id: ID!) { call(id: $id) { state } }`, { id: callId })).call?.state;

  /** Opens a page and signs in by keyboard only: Tab to the key field, type, Enter. */
  const signIn = async (path: string, key: string): Promise<Page> => {
    const page = await ctx.newPage();
    page.on('pageerror', (e) => assert.fail(`page error on ${path}: ${e.message}`));
    await page.goto(base + path);
    await page.getByTestId('signin-needed').waitFor();
    assert.ok(await tabTo(page, { css: '#api-key' }), 'the key field is reachable with Tab');
    await page.keyboard.type(key);
    await page.keyboard.press('Enter');
    await page.getByTestId('signed-in').waitFor();
    assert.equal(await page.evaluate(() => (globalThis as unknown as { location: { href: string } }).location.href.includes('wd.')), false, 'the key is never in the address');
    return page;
  };

  const accessible = async (page: Page, what: string) => {
    const v = await axeViolations(page);
    assert.deepEqual(v, [], `${what}: axe-core violations:\n${JSON.stringify(v, null, 2)}`);
  };

  before(async () => {
    server = await startServer({
      WEBDIAL_DEMO: '1',
      WEBDIAL_SIM_RING_MS: '200',
      WEBDIAL_SIM_ANSWER_MS: '1500',
      WEBDIAL_SIM_TALK_MS: '120000',
      WEBDIAL_ANI_QUARANTINE: '0',
      WEBDIAL_RINGING_TIMEOUT: '120',
    });
    base = server.url.replace(/\/graphql$/, '');
    demo = JSON.parse(readFileSync(join(server.dataDir, 'demo.json'), 'utf8')) as DemoSeed;
    await merchant(A, 'Lamp shop');
    await merchant(B, 'Other shop');
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const open = async (t: TestContext): Promise<boolean> => {
    if (!browser) {
      browser = await launchChromiumOrSkip(t);
      if (!browser) return false;
    }
    ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    return true;
  };
  const close = async () => ctx?.close();

  test('every page: no key, a wrong key, a key of the wrong role or of another merchant get a clear message and nothing of the merchant', async (t) => {
    if (!(await open(t))) return;
    try {
      for (const [path, right, wrongRole] of [
        ['/console', 'CRM', 'ANALYST'],
        ['/dashboard', 'MERCHANT', 'CRM'],
        ['/history', 'ANALYST', 'MERCHANT'],
      ] as const) {
        const page = await ctx.newPage();
        await page.goto(`${base}${path}?merchant=${A.m}`);
        assert.match(await page.getByTestId('signin-needed').innerText(), /Sign in with an? .*key/);
        const refused = async (key: string, message: RegExp) => {
          await page.fill('#api-key', key);
          await page.click('button[type=submit]');
          await eventually(async () => message.test(await page.getByTestId('signin-error').innerText()), 5000, `the message ${message}`);
        };
        await refused('wd.kNotAKey0001.aaaaaaaaaaaaaaaaaaaaaaaa', /This key is not valid/);
        await refused(A[wrongRole]!, new RegExp(`This page needs an? ${right}`));
        await refused(B[right]!, /belongs to another merchant/);
        assert.equal(await page.getByTestId('signed-in').count(), 0);
        assert.doesNotMatch(await page.locator('body').innerText(), /Lamp shop|Other shop/, 'no merchant data on a refused page');
        await accessible(page, `${path} sign-in with an error`);
        if (path === '/console') await screenshot(page, 'signin-refused');
        await page.close();
      }
    } finally {
      await close();
    }
  });

  test('console: the screen pop shows before the answer, the call state and timer, buttons recorded as DTMF commands, a push outside the origins refused, buttons refused after the end', async (t) => {
    if (!(await open(t))) return;
    try {
      const earlier = await place(A);
      await hangUp(earlier.callToken);
      const page = await signIn(`/console`, A.CRM!);
      await page.getByTestId('waiting').waitFor();

      const call = await place(A);
      const panel = page.getByTestId('call-panel');
      await panel.waitFor();
      // Before the simulator answers (1.5 s after ringing): who, where from, cart, history, caller ID.
      assert.equal(await page.getByTestId('call-state').innerText(), 'RINGING');
      const pop = await page.getByTestId('pop').innerText();
      assert.match(pop, /cust-lamp/);
      assert.match(pop, /https:\/\/shop\.example\/p\/lamp/);
      assert.match(pop, /https:\/\/search\.example\/\?q=desk\+lamp/);
      assert.match(await page.getByTestId('context').innerText(), /desk-lamp[\s\S]*bulb/);
      assert.match(await page.getByTestId('caller-id').innerText(), /^\+1415555020\d$/);
      await eventually(async () => /terminated|downloaded/i.test(await page.getByTestId('earlier-calls').innerText()), 5000, 'the earlier call in the pop');
      assert.match(await page.getByTestId('timer').innerText(), /^Ringing \d+:\d\d$/);
      await screenshot(page, 'console-screen-pop');

      // A call of another merchant never shows in this console.
      const foreign = await place(B);
      await page.waitForFunction(() => (globalThis as any).document.querySelector('[data-testid=call-state]')?.textContent === 'ANSWERED', null, { timeout: 10_000 });
      assert.equal(await page.getByTestId('call-item').count(), 1, "only this merchant's call");
      await hangUp(foreign.callToken);

      assert.match(await page.getByTestId('timer').innerText(), /^\d+:\d\d$/);
      assert.ok(await tabTo(page, { text: 'Volume +20 %' }), 'the command buttons are reachable with Tab');
      await page.keyboard.press('Enter');
      assert.match(await page.getByTestId('command-result').innerText(), /Done: volume \+20 % \(button\)/);
      await page.fill('input[name=push-url]', 'https://elsewhere.example/contest');
      await page.click('button:text("Push page")');
      const refusal = page.locator('[data-testid=command-result][role=alert]');
      await refusal.waitFor();
      assert.match(await refusal.innerText(), /Refused: origin https:\/\/elsewhere\.example is not among the merchant's allowed origins/);
      await screenshot(page, 'console-refused-push');
      await page.click('button:text("Push https://shop.example/offers (*76)")');
      await page.getByText('Done: push https://shop.example/offers (button)').waitFor();
      await accessible(page, 'console with an answered call');
      await screenshot(page, 'console-commands');

      // The buttons went into the call's stream as the same typed events DTMF produces.
      const commands = await eventually(async () => {
        const tl = (await gql(server.url, `query($id: ID!) { callTimeline(callId: $id) { type data } }`, { id: call.callId }, A.CRM)).callTimeline as Array<{ type: string; data: any }>;
        const c = tl.filter((e) => e.type === 'DtmfCommandRecognized');
        return c.length === 3 ? c.map((e) => [e.data.source, e.data.action, e.data.sequence, e.data.accepted]) : null;
      }, 10_000, 'three commands in the timeline');
      assert.deepEqual(commands, [['AGENT', 'VOLUME', null, true], ['AGENT', 'PUSH_PAGE', null, false], ['AGENT', 'PUSH_PAGE', '*76', true]]);

      // The caller hangs up: the console says so and its buttons are refused.
      await hangUp(call.callToken);
      await page.waitForFunction(() => (globalThis as any).document.querySelector('[data-testid=call-state]')?.textContent === 'TERMINATED', null, { timeout: 10_000 });
      assert.equal(await page.getByTestId('commands-note').innerText(), 'The call has ended: commands are refused.');
      assert.equal(await page.locator('button:text("Volume +20 %")').isDisabled(), true);
      assert.match(await page.getByTestId('timer').innerText(), /^Talked \d+:\d\d$/);
      await screenshot(page, 'console-ended');
      await page.close();
    } finally {
      await close();
    }
  });

  test('PC-to-PC in simulator mode: the widget calls a browser desk, it rings in the console, the agent answers there; commands, chat and hang-up reach the widget; the call is billed', async (t) => {
    if (!(await open(t))) return;
    try {
      const agent = await signIn('/console', demo.keys.agent!);
      const shop = await ctx.newPage();
      await shop.goto(`${base}/demo/browser`);
      const widget = shop.locator('button', { hasText: 'Talk to us in the browser' });
      await widget.click();
      const panel = agent.getByTestId('call-panel');
      await panel.waitFor({ timeout: 10_000 });
      assert.equal(await agent.getByTestId('call-state').innerText(), 'RINGING');
      assert.match(await agent.getByTestId('caller-id').innerText(), /browser call \(PC-to-PC\) has no phone line/);
      assert.match(await agent.getByTestId('pop').innerText(), /\/demo\/browser/);
      await agent.click('button:text("Answer")');
      await agent.getByTestId('media').waitFor();
      assert.match(await agent.getByTestId('media').innerText(), /Simulator mode: no audio/);
      assert.equal(await agent.getByTestId('call-state').innerText(), 'ANSWERED');
      // Everything the widget shows (its state line, pushed pages, notes, chat), inside its shadow root.
      const status = () => shop.locator('[data-webdial] .w').innerText();
      await eventually(async () => /Connected/.test(await status()), 5000, 'the widget shows the answer');

      await agent.click('button:text("Push https://shop.example/offers (*76)")');
      await eventually(async () => /The agent sent you a page: https:\/\/shop\.example\/offers/.test(await status()), 5000, 'the pushed page in the widget');
      // The widget offers the page as a link (it does not open windows by itself).
      assert.equal(await shop.locator('[data-webdial] .page a').getAttribute('href'), 'https://shop.example/offers');
      await agent.click('button:text("Volume +20 %")');
      await eventually(async () => /Volume \+20 %/.test(await status()), 5000, 'the volume in the widget');
      await agent.click('button:text("Open chat 01")');
      await eventually(async () => /Chat with the agent \(channel 01\)/.test(await status()), 5000, 'the chat in the widget');
      await agent.fill('input[name=chat-text]', 'Hello from the browser desk');
      await agent.click('button:text("Send")');
      await eventually(async () => /Agent: Hello from the browser desk/.test(await status()), 5000, 'the message in the widget');
      await agent.getByTestId('chat-log').getByText('Hello from the browser desk').waitFor();
      await accessible(agent, 'console on a browser call');
      await screenshot(agent, 'pc-to-pc-console');
      await screenshot(shop, 'pc-to-pc-widget');

      await new Promise((r) => setTimeout(r, 1100)); // a billable second
      await agent.click('button:text("Hang up")');
      await agent.waitForFunction(() => (globalThis as any).document.querySelector('[data-testid=call-state]')?.textContent === 'TERMINATED', null, { timeout: 10_000 });
      await eventually(async () => /Call ended/.test(await status()), 5000, 'the widget shows the end');
      const billed = await eventually(async () => {
        const edges = (await gql(server.url, `{ calls(first: 5) { edges { node { state media terminatedBy charge { amountMinor sourcePage } } } } }`, {}, demo.keys.merchant)).calls.edges as Array<{ node: any }>;
        return edges.map((e) => e.node).find((n) => n.media === 'BROWSER' && n.charge);
      }, 10_000, 'the browser call billed');
      assert.equal(billed.terminatedBy, 'CALLEE');
      assert.match(billed.charge.sourcePage, /\/demo\/browser$/);
      assert.ok(billed.charge.amountMinor > 0);
    } finally {
      await close();
    }
  });

  test('dashboard: live charges from a simulated call, by day, link, source page and call center; CSV download; a re-rate what-if', async (t) => {
    if (!(await open(t))) return;
    try {
      const page = await signIn('/dashboard', A.MERCHANT!);
      await page.getByTestId('kpis').waitFor();
      const before = Number(await page.getByTestId('kpi-calls').innerText());
      const call = await place(A, 'cust-dashboard');
      await eventually(async () => (await stateOf(call.callId)) === 'ANSWERED', 10_000, 'the simulator answers');
      await new Promise((r) => setTimeout(r, 1100));
      await hangUp(call.callToken);
      // Live: the page refreshes itself when the call ends.
      await page.waitForFunction((n) => Number((globalThis as any).document.querySelector('[data-testid=kpi-calls]')?.textContent) === n, before + 1, { timeout: 10_000 });
      assert.match(await page.getByTestId('by-source').innerText(), /https:\/\/shop\.example\/p\/lamp/);
      assert.match(await page.getByTestId('by-center').innerText(), /Phone room\s+phone\s+\d+\s+\d+\s+\d+(\.\d)? %/);
      assert.ok((await page.locator('.chart canvas').count()) >= 2, 'uPlot charts of the day and center lines');
      await accessible(page, 'dashboard');
      await screenshot(page, 'dashboard');

      const download = page.waitForEvent('download');
      await page.click('button:text("Export charges (CSV)")');
      const file = await (await download).path();
      const csv = readFileSync(file!, 'utf8').trim().split('\r\n');
      assert.match(csv[0]!, /^call_id,started_at,terminated_at,link_id/);
      assert.ok(csv.some((l) => l.startsWith(call.callId)), 'the call is in the export');

      await page.fill('input[name=ratePerMinuteMinor]', '600');
      await page.click('button:text("Draw against today\'s")');
      await page.getByTestId('whatif-result').waitFor();
      assert.match(await page.getByTestId('whatif-result').innerText(), /What-if\s*\$\d+\.\d\d/);
      await screenshot(page, 'dashboard-whatif');
      // An export longer than the limit is refused with the limit, on the page.
      await page.fill('input[name=from]', '2020-01-01');
      await page.click('button:text("Show")');
      await page.click('button:text("Export charges (CSV)")');
      await page.getByText(/a CSV export covers at most 366 days/).waitFor();
      await page.close();
    } finally {
      await close();
    }
  });

  test("history: filter calls, open a timeline, replay at 100×, a caller ID at a past instant; another merchant's call is not shown", async (t) => {
    if (!(await open(t))) return;
    try {
      const call = await place(A, 'cust-history');
      await eventually(async () => (await stateOf(call.callId)) === 'ANSWERED', 10_000, 'answered');
      await hangUp(call.callToken);
      const row = await eventually(
        async () => {
          const c = (await admin(`query($id: ID!) { call(id: $id) { ani initiatedAt terminatedAt state } }`, { id: call.callId })).call;
          return c?.terminatedAt ? c : null;
        },
        10_000,
        'the call in the history',
      );
      const page = await signIn('/history', A.ANALYST!);
      await page.selectOption('select[name=state]', 'TERMINATED');
      await page.click('button:text("Filter")');
      await page.getByRole('button', { name: `Open the timeline of call ${call.callId}` }).click();
      await page.getByTestId('timeline').getByText('CallTerminated').waitFor();
      assert.match(await page.getByTestId('timeline').innerText(), /CallDownloaded[\s\S]*CallAnswered[\s\S]*CallTerminated/);

      await page.selectOption('select[name=speed]', '100');
      await page.click('button:text("Replay")');
      await page.getByText(/events replayed, now at .* — done\./).waitFor({ timeout: 30_000 });
      assert.ok((await page.locator('[data-testid=replay-timeline] circle').count()) >= 5);

      // An instant while the call held the caller ID, on a whole second (the field's resolution):
      // the call lasted over 1.7 s (ringing 0.2 s, answer 1.5 s later), so this lies inside it.
      const mid = new Date(Math.ceil((Date.parse(row.initiatedAt) + 100) / 1000) * 1000);
      assert.ok(mid.getTime() < Date.parse(row.terminatedAt));
      await page.fill('input[name=ani]', row.ani);
      const local = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
      await page.fill('input[name=ani-at]', local(mid));
      await page.click('button:text("Look up")');
      assert.match(await page.getByTestId('ani-result').innerText(), new RegExp(call.callId));
      await accessible(page, 'history');
      await screenshot(page, 'history');

      // Another merchant's call: not shown.
      const foreign = await place(B, 'cust-foreign');
      await hangUp(foreign.callToken);
      await page.goto(`${base}/history?call=${foreign.callId}`);
      await page.getByTestId('timeline-empty').waitFor();
      assert.doesNotMatch(await page.getByTestId('timeline').innerText(), /cust-foreign|CallDownloaded/);
      await page.close();
    } finally {
      await close();
    }
  });
});
