import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { gql } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { serviceMissing } from '../support/services';
import { browserAudioStats, launchChromium, recordPeerConnections, startShop } from '../support/browser';
import { liveKitFor, sippTrunkSetup, type RealLiveKit } from '../support/livekit-real';
import { startRtpEndpoint } from '../support/rtp-endpoint';
import { freeUdpPort, startSipp } from '../support/sipp';
import { CENTER_TONE_HZ, MICROPHONE_TONE_HZ, describeReport, toneReport, writeToneWav, TONE_PRESENT } from '../support/audio';

/**
 * Issue 25, must-have 5 (a callback booked, then placed, with audio both ways), over the real
 * LiveKit + LiveKit SIP: the center (capacity 1) is busy with another shopper's call; a shopper clicks
 * the widget on a shop page (Chromium), is told everyone is busy, and books "Call me back" to a phone
 * number in the widget's form (requestCallback, AGENT_FREE); the busy call ends, the slot frees, and
 * the callback scheduler places the
 * try: a CALLBACK call that rings in the browser center's console (Chromium, an AGENT key, a fake
 * microphone playing 1000 Hz) with the origin click's page; the agent clicks Answer; webdial dials the
 * shopper's number through LiveKit SIP's outbound trunk into the call's room, where sipp (a UAS, the
 * shopper's phone: test/support/sipp.ts `startSipp`, its media an RTP endpoint playing 440 Hz) rings
 * and answers. The callback is DONE; audio is checked both ways (the console's inbound RTP energy,
 * the console's tone in the RTP the phone receives, by Goertzel); the agent hangs up (the phone gets a
 * BYE); the call is charged as CALLBACK; the dashboard's Callbacks card counts it done.
 */
describe('a callback placed to a phone and answered in the agent console (Chromium, real LiveKit SIP, sipp)', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let server: ServerProcess;
  let browser: Browser;
  let sippPort = 0;
  let cleanUp = async (): Promise<void> => undefined;
  let shop: { origin: string; close(): Promise<void> } | null = null;
  const ani = '+12125550300';
  const shopper = '+12125550199';
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit SIP, Chromium and sipp', skipped);
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);

  before(async () => {
    const found = await liveKitFor({ chromium: true, sipp: true });
    if (typeof found === 'string') {
      skipped = found;
      return;
    }
    lk = found;
    const setup = sippTrunkSetup(lk, ani, 20);
    ({ sippPort, cleanUp } = setup);
    server = await startServer(setup.env);
    const wav = join(mkdtempSync(join(tmpdir(), 'webdial-callback-')), 'microphone.wav');
    writeToneWav(wav, MICROPHONE_TONE_HZ);
    browser = await launchChromium('fake', { microphoneWav: wav });
  });
  after(async () => {
    await browser?.close();
    await shop?.close();
    await server?.stop();
    await cleanUp();
  });

  test('busy → the widget offers "Call me back" → booked → the slot frees → rings in the console with the click → Answer → the phone rings and answers → DONE, audio both ways, hang-up, charged as CALLBACK, on the dashboard', { timeout: 150_000 }, async (t) => {
    if (skipped) return skip(t);
    const webdial = new URL(server.url).origin;
    let m = { merchantId: '', linkId: '', centerId: '', merchantKey: '' };
    shop = await startShop('127.0.0.6', () => `<script src="${webdial}/widget.js" data-merchant="${m.merchantId}" data-link="${m.linkId}" data-customer="cust-cb"></script>`);
    // A merchant whose widget runs on the shop's origin, with one browser center of capacity 1.
    const merchantId = (await admin(`mutation($o: String!) { createMerchant(input: { name: "Callback shop", allowedOrigins: [$o] }) { id } }`, { o: shop.origin })).createMerchant.id as string;
    const centerId = (
      await admin(`mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "Desk", phoneNumber: "+12125550100", timeZone: "UTC", capacity: 1, region: "us-east", kind: BROWSER }) { id } }`, { m: merchantId })
    ).addCallCenter.id as string;
    const linkId = (await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Lamp page button", callCenterIds: [$c] }) { id } }`, { m: merchantId, c: centerId })).createLink.id as string;
    const merchantKey = (await admin(`mutation($m: ID) { createApiKey(role: MERCHANT, merchantId: $m) { key } }`, { m: merchantId })).createApiKey.key as string;
    m = { merchantId, linkId, centerId, merchantKey };
    await admin(`mutation($a: String!) { createGateway(input: { name: "GW", region: "us-east", ports: [{ number: 1, ani: $a }] }) { id } }`, { a: ani });
    await admin(
      `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "USD", connectionFeeMinor: 5, ratePerMinuteMinor: 60, callbackRatePerMinuteMinor: 120, firstIncrementSeconds: 60, nextIncrementSeconds: 60 }) }`,
      { m: m.merchantId },
    );
    const agentKey = (await admin(`mutation($m: ID, $c: ID) { createApiKey(role: AGENT, merchantId: $m, callCenterId: $c) { key } }`, { m: m.merchantId, c: m.centerId })).createApiKey.key as string;

    // The agent signs in to the console.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await recordPeerConnections(context);
    const agent = await context.newPage();
    const errors: string[] = [];
    agent.on('pageerror', (e) => errors.push(e.message));
    await agent.goto(`${new URL(server.url).origin}/console`);
    await agent.fill('#api-key', agentKey);
    await agent.keyboard.press('Enter');
    await agent.getByTestId('signed-in').waitFor();
    await agent.getByTestId('waiting').waitFor();

    // The shopper's phone: sipp answers the INVITE after 1 s of ringing and talks until the BYE.
    const mediaPort = await freeUdpPort();
    const rtp = await startRtpEndpoint(mediaPort, { toneHz: CENTER_TONE_HZ });
    const phone = startSipp(sippPort, mediaPort, { kind: 'answerUntilBye', ringMs: 1000 }, 120_000);
    try {
      // Another shopper's call takes the center's only slot (it rings in the console; nobody answers it).
      const busy = (await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, { i: { merchantId: m.merchantId, linkId: m.linkId, customerId: 'cust-busy', pageUrl: `${shop!.origin}/p/other` } }))
        .recordDownload as { callId: string; callToken: string };
      assert.equal((await gql(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { state } }`, { t: busy.callToken })).initiateCall.state, 'RINGING');

      // The shopper clicks the widget: everyone is busy; the widget offers "Call me back"; the shopper books it.
      const shopper$ = await browser.newContext();
      const page = await shopper$.newPage();
      page.on('pageerror', (e) => errors.push(`shop page: ${e.message}`));
      await page.goto(`${shop!.origin}/product/lamp`);
      await page.locator('button.b').click();
      const form = page.getByTestId('callback-form');
      await form.waitFor({ timeout: 20_000 }).catch(async (e: Error) => {
        const w = page.locator('[data-webdial] .w');
        throw new Error(`no "Call me back" offer (widget state ${await w.getAttribute('data-state')}, cause ${await w.getAttribute('data-cause')}, status "${await page.locator('[data-webdial] .s').innerText()}", errors ${errors.join('; ')}): ${e.message}`);
      });
      assert.match(await form.innerText(), /Everyone is busy or we are closed\. We can call you back/);
      const origin = (await page.locator('[data-webdial] .w').getAttribute('data-call-id'))!;
      await form.locator('input[name=phone]').fill('0612');
      await form.locator('button[type=submit]').click();
      await page.getByTestId('callback-status').and(page.locator('.err')).waitFor({ timeout: 10_000 });
      assert.match(await page.getByTestId('callback-status').innerText(), /E\.164/, 'a malformed number is refused with its message');
      // At a time: one in the past is refused with its message, and nothing is booked.
      await form.locator('input[name=phone]').fill(shopper);
      await form.locator('select[name=when]').selectOption('AT');
      await form.locator('input[name=at]').fill('2020-01-01T10:00');
      await form.locator('button[type=submit]').click();
      await page.getByTestId('callback-status').filter({ hasText: '7 days ahead' }).waitFor({ timeout: 10_000 });
      assert.match(await page.getByTestId('callback-status').innerText(), /a callback time is from now to 7 days ahead/);
      // As soon as an agent is free (the default), booked.
      await form.locator('select[name=when]').selectOption('AGENT_FREE');
      await form.locator('button[type=submit]').click();
      await page.getByTestId('callback-status').filter({ hasText: 'Booked' }).waitFor({ timeout: 10_000 });
      assert.match(await page.getByTestId('callback-status').innerText(), /we will call \+\*{7}0199 back as soon as an agent is free/);
      const booked = (await gql(server.url, `query($m: ID!) { callbacks(merchantId: $m) { items { state originCallId } } }`, { m: m.merchantId }, m.merchantKey)).callbacks.items;
      assert.deepEqual(booked.map((c: { originCallId: string }) => c.originCallId), [origin], "booked from the widget's click");

      // The busy call ends: its slot frees, the scheduler places the callback; the console rings with the click.
      await gql(server.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: busy.callToken });
      const freedAt = Date.now();
      await agent.locator('[data-testid=call-item]', { hasText: 'Callback · cust-cb' }).waitFor({ timeout: 30_000 });
      await agent.locator('[data-testid=call-state]', { hasText: 'RINGING' }).waitFor({ timeout: 30_000 });
      const ringMs = Date.now() - freedAt;
      await shopper$.close();
      assert.equal(phone.mediaPort, mediaPort);

      const answeredAt = Date.now();
      await agent.click('button:text-is("Answer")');
      await agent.locator('[data-testid=call-state]', { hasText: 'ANSWERED' }).waitFor({ timeout: 30_000 });
      const cb = async () => (await gql(server.url, `query($m: ID!) { callbacks(merchantId: $m) { items { id state attempts lastOutcome callId } } }`, { m: m.merchantId }, m.merchantKey)).callbacks.items[0];
      const done = await eventually(async () => ((await cb())?.state === 'DONE' ? cb() : null), 40_000, 'the callback DONE (the phone answered)');
      const doneMs = Date.now() - answeredAt;
      assert.deepEqual([done.attempts, done.lastOutcome], [1, 'ANSWERED']);

      // Audio both ways: the console hears the phone; the phone hears the console's 1000 Hz.
      const heard = await eventually(async () => {
        const s = await browserAudioStats(agent);
        return s.inboundPackets > 50 && s.inboundEnergy > 0.01 && s.outboundPackets > 50 ? s : null;
      }, 30_000, "the console receives the phone's audio");
      await new Promise((r) => setTimeout(r, 2500));
      const phoneHeard = toneReport(rtp.samples(), 8000, [CENTER_TONE_HZ, MICROPHONE_TONE_HZ]);
      assert.ok(phoneHeard.loudSeconds >= 1 && phoneHeard.share[MICROPHONE_TONE_HZ]! > TONE_PRESENT, `the phone hears the console's tone: ${describeReport(phoneHeard)}`);

      // The agent hangs up: the phone gets its BYE (sipp's scenario ends 0), the call is charged as CALLBACK.
      await agent.click('button:text-is("Hang up")');
      await agent.locator('[data-testid=call-state]', { hasText: 'TERMINATED' }).waitFor({ timeout: 30_000 });
      const sipp = await phone.done;
      assert.equal(sipp.exitCode, 0, `the phone answered and received a BYE:\n${sipp.screen.slice(-2000)}`);
      const charge = await eventually(async () => (await admin(`query($c: ID!) { call(id: $c) { direction charge { amountMinor currency direction sourcePage } } }`, { c: done.callId })).call?.charge ?? null, 20_000, 'the charge');
      assert.deepEqual(charge, { amountMinor: 125, currency: 'USD', direction: 'CALLBACK', sourcePage: `${shop!.origin}/product/lamp` }, "rated at the callback 120/min, credited to the widget click's page");

      // The dashboard's Callbacks card counts it done.
      const dash = await context.newPage();
      await dash.goto(`${new URL(server.url).origin}/dashboard`);
      await dash.fill('#api-key', m.merchantKey);
      await dash.keyboard.press('Enter');
      await dash.locator('[data-testid=callbacks-done]', { hasText: '1' }).waitFor({ timeout: 15_000 });
      assert.match(await dash.getByTestId('callbacks-table').innerText(), /DONE/);
      assert.deepEqual(errors, [], 'no page errors in the console');
      console.log(
        `# measured: the busy call hung up (slot freed) → the AGENT_FREE callback rings in the console ${ringMs} ms; Answer click → the phone answered, callback DONE on the read side ${doneMs} ms; ` +
          `the console heard inbound-rtp ${heard.inboundPackets} packets (energy ${heard.inboundEnergy.toFixed(4)}); the phone heard ${describeReport(phoneHeard)}; sipp got INVITE at ${sipp.inviteAt ? sipp.inviteAt - answeredAt : '?'} ms after Answer`,
      );
      await context.close();
    } finally {
      await phone.stop();
      await rtp.close();
    }
  });
});
