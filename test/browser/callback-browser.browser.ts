import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { gql } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { serviceMissing } from '../support/services';
import { launchChromium, recordPeerConnections, recordRemoteAudio, startShop } from '../support/browser';
import { describeReport, toneReport, writeToneWav, TONE_PRESENT, type ToneReport } from '../support/audio';
import { liveKitFor, liveKitModeEnv, type RealLiveKit } from '../support/livekit-real';

/** Each side's microphone plays its own tone, so that who hears whom is measured, not guessed. */
const SHOPPER_HZ = 1000;
const AGENT_HZ = 440;
const TONES = [SHOPPER_HZ, AGENT_HZ];

/**
 * Issue 25, must-have 2, "or to this browser if the shopper keeps the page open", over the real
 * LiveKit: a browser center of capacity 1 is busy with another shopper's call; a shopper clicks the
 * widget on a shop page of another origin (Chromium, a fake microphone at 1000 Hz), is told everyone is
 * busy and books "Call me back" → "Call this browser" (AGENT_FREE); the busy call ends; the callback
 * scheduler places the try, which rings in the agent console (another Chromium, an AGENT key, a fake
 * microphone at 440 Hz); the agent answers; the widget, still open, rings ("We are calling you back",
 * Answer / Decline); the shopper answers: the widget joins the try's room with its microphone, as for a
 * click. Audio both ways by Goertzel (each side hears the other's tone); the callback is DONE; the
 * shopper hangs up in the widget; the call is charged as CALLBACK at the callback rate, credited to the
 * click's page. Prints agent Answer → widget rings, and shopper Answer → each side hears the other.
 */
describe('a callback to the shopper\'s browser, answered in the widget (Chromium, real LiveKit)', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let server: ServerProcess;
  const browsers: Browser[] = [];
  let shop: { origin: string; close(): Promise<void> } | null = null;
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit and Chromium', skipped);
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);

  before(async () => {
    const found = await liveKitFor({ chromium: true });
    if (typeof found === 'string') {
      skipped = found;
      return;
    }
    lk = found;
    server = await startServer({ ...liveKitModeEnv(lk), LIVEKIT_SIP_TRUNK_ADDRESS: '127.0.0.1:5999', LIVEKIT_SIP_TRUNK_NUMBERS: '+33100000101', WEBDIAL_RINGING_TIMEOUT: '60' });
  });
  after(async () => {
    for (const b of browsers) await b.close();
    await shop?.close();
    await server?.stop();
  });

  const launch = async (hz: number) => {
    const wav = join(tmpdir(), `webdial-callback-browser-${hz}.wav`);
    writeToneWav(wav, hz, 120);
    const b = await launchChromium('fake', { microphoneWav: wav });
    browsers.push(b);
    return b;
  };
  /** What a page hears for `ms`: its remote audio, by tone. */
  const hears = async (page: Page, where: 'widget' | 'page', ms = 1500): Promise<ToneReport> => {
    const r = await recordRemoteAudio(page, ms, where);
    return toneReport(r.samples, r.sampleRate, TONES);
  };
  const untilHears = async (page: Page, where: 'widget' | 'page', hz: number, what: string) => {
    let last: ToneReport | null = null;
    return eventually(
      async () => {
        last = await hears(page, where);
        return last.loudSeconds >= 0.5 && last.share[hz]! >= TONE_PRESENT ? last : null;
      },
      30_000,
      what,
    ).catch((e: Error) => {
      throw new Error(`${e.message} (last heard: ${last ? describeReport(last) : 'nothing recorded'})`);
    });
  };

  test('busy → "Call this browser" booked → the slot frees → rings in the console → agent answers → the widget rings → Answer → audio both ways, DONE, hang-up, charged as CALLBACK', { timeout: 180_000 }, async (t) => {
    if (skipped) return skip(t);
    const base = new URL(server.url).origin;
    let m = { merchantId: '', linkId: '', centerId: '', merchantKey: '' };
    shop = await startShop('127.0.0.8', () => `<script src="${base}/widget.js" data-merchant="${m.merchantId}" data-link="${m.linkId}" data-customer="cust-here"></script>`);
    const merchantId = (await admin(`mutation($o: String!) { createMerchant(input: { name: "Browser callback shop", allowedOrigins: [$o] }) { id } }`, { o: shop.origin })).createMerchant.id as string;
    const centerId = (
      await admin(`mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "Desk", phoneNumber: "+12125550100", timeZone: "UTC", capacity: 1, region: "us-east", kind: BROWSER }) { id } }`, { m: merchantId })
    ).addCallCenter.id as string;
    const linkId = (await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Chair page button", callCenterIds: [$c] }) { id } }`, { m: merchantId, c: centerId })).createLink.id as string;
    const merchantKey = (await admin(`mutation($m: ID) { createApiKey(role: MERCHANT, merchantId: $m) { key } }`, { m: merchantId })).createApiKey.key as string;
    m = { merchantId, linkId, centerId, merchantKey };
    await admin(
      `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "USD", connectionFeeMinor: 5, ratePerMinuteMinor: 60, callbackRatePerMinuteMinor: 120, firstIncrementSeconds: 60, nextIncrementSeconds: 60 }) }`,
      { m: merchantId },
    );
    const agentKey = (await admin(`mutation($m: ID, $c: ID) { createApiKey(role: AGENT, merchantId: $m, callCenterId: $c) { key } }`, { m: merchantId, c: centerId })).createApiKey.key as string;
    const errors: string[] = [];

    // The agent signs in to the console (its own Chromium, 440 Hz).
    const agentCtx = await (await launch(AGENT_HZ)).newContext({ viewport: { width: 1280, height: 900 } });
    await recordPeerConnections(agentCtx);
    const agent = await agentCtx.newPage();
    agent.on('pageerror', (e) => errors.push(`console: ${e.message}`));
    await agent.goto(`${base}/console`);
    await agent.fill('#api-key', agentKey);
    await agent.keyboard.press('Enter');
    await agent.getByTestId('signed-in').waitFor();

    // Another shopper's call takes the center's only slot (it rings in the console; nobody answers it).
    const busy = (await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId, linkId, customerId: 'cust-busy', pageUrl: `${shop.origin}/p/other` } }))
      .recordDownload as { callId: string; callToken: string };
    assert.equal((await gql(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { state } }`, { t: busy.callToken })).initiateCall.state, 'RINGING');

    // The shopper (its own Chromium, 1000 Hz) clicks: everyone is busy; "Call me back" → "Call this browser".
    const shopperCtx = await (await launch(SHOPPER_HZ)).newContext();
    await recordPeerConnections(shopperCtx);
    const page = await shopperCtx.newPage();
    page.on('pageerror', (e) => errors.push(`shop page: ${e.message}`));
    await page.goto(`${shop.origin}/product/chair`);
    await page.locator('[data-webdial] button.b').click();
    const form = page.getByTestId('callback-form');
    await form.waitFor({ timeout: 20_000 });
    const originCallId = (await page.locator('[data-webdial] .w').getAttribute('data-call-id'))!;
    await form.getByTestId('callback-to-browser').check();
    assert.equal(await form.locator('input[name=phone]').isDisabled(), true, 'no number needed');
    await form.locator('button[type=submit]').click();
    await page.getByTestId('callback-status').filter({ hasText: 'Booked' }).waitFor({ timeout: 10_000 });
    assert.match(await page.getByTestId('callback-status').innerText(), /we will call you back here, in this browser, as soon as an agent is free\. Keep this page open\./);
    const cb = async () =>
      (await gql(server.url, `query($m: ID!) { callbacks(merchantId: $m) { items { id state targetKind number attempts lastOutcome callId originCallId } } }`, { m: merchantId }, merchantKey)).callbacks.items[0] as Record<string, string | number | null>;
    const booked = await eventually(cb, 10_000, 'the booking listed');
    assert.deepEqual([booked.targetKind, booked.number, booked.originCallId, booked.state], ['BROWSER', null, originCallId, 'PENDING']);

    // The busy call ends: the slot frees, the scheduler places the try; it rings in the console with the click.
    await gql(server.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: busy.callToken });
    const item = agent.locator('[data-testid=call-item]', { hasText: 'cust-here' });
    await item.waitFor({ timeout: 30_000 });
    await item.click();
    await agent.locator('[data-testid=call-state]', { hasText: 'RINGING' }).waitFor({ timeout: 30_000 });

    // The agent answers: the widget, still open, rings.
    const agentAnsweredAt = Date.now();
    await agent.click('button:text-is("Answer")');
    const ringing = page.getByTestId('callback-ringing');
    await ringing.waitFor({ timeout: 20_000 });
    const ringMs = Date.now() - agentAnsweredAt;
    assert.match(await ringing.innerText(), /We are calling you back/);
    assert.equal(await page.locator('[data-webdial] .w').getAttribute('data-state'), 'callback-ringing');
    await agent.locator('[data-testid=media][data-audio=connected]').waitFor({ timeout: 30_000 });

    // The shopper answers: the widget joins the try's room with its microphone; audio both ways.
    const shopperAnsweredAt = Date.now();
    await page.getByTestId('callback-answer').click();
    await page.locator('[data-webdial] .w[data-state=answered]').waitFor({ timeout: 20_000 });
    // Both sides listened to at once, each timed on its own.
    const timed = async (p: Promise<ToneReport>) => [await p, Date.now() - shopperAnsweredAt] as const;
    const [[shopperHeard, shopperHearsMs], [agentHeard, agentHearsMs]] = await Promise.all([
      timed(untilHears(page, 'widget', AGENT_HZ, "the shopper hears the agent's tone")),
      timed(untilHears(agent, 'page', SHOPPER_HZ, "the agent hears the shopper's tone")),
    ]);
    const done = await eventually(async () => ((await cb()).state === 'DONE' ? cb() : null), 10_000, 'the callback DONE');
    assert.deepEqual([done.attempts, done.lastOutcome], [1, 'ANSWERED']);
    assert.equal(await page.locator('[data-webdial] .w').getAttribute('data-call-id'), done.callId, "the widget is on the try's call");

    // The shopper hangs up in the widget: the call ends (the console sees it), charged as CALLBACK.
    await page.locator('[data-webdial] button.b', { hasText: 'Hang up' }).click();
    await page.locator('[data-webdial] .w[data-state=terminated]').waitFor({ timeout: 20_000 });
    await agent.locator('[data-testid=call-state]', { hasText: 'TERMINATED' }).waitFor({ timeout: 30_000 });
    const charge = await eventually(async () => (await admin(`query($c: ID!) { call(id: $c) { direction terminatedBy charge { amountMinor currency direction sourcePage } } }`, { c: done.callId })).call, 20_000, 'the charge');
    assert.deepEqual(
      charge,
      { direction: 'CALLBACK', terminatedBy: 'CALLER', charge: { amountMinor: 125, currency: 'USD', direction: 'CALLBACK', sourcePage: `${shop.origin}/product/chair` } },
      "rated at the callback rate (120/min, one minute, +5), credited to the widget click's page",
    );
    assert.deepEqual(errors, [], 'no page errors');
    console.log(
      `# measured: agent Answer click → the widget rings ${ringMs} ms; shopper Answer click → the shopper hears the agent ${shopperHearsMs} ms, the agent hears the shopper ${agentHearsMs} ms ` +
        `(1.5 s recording windows: upper bounds); the shopper heard ${describeReport(shopperHeard)}; the agent heard ${describeReport(agentHeard)}`,
    );
  });
});
