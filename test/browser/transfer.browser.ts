import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RoomServiceClient } from 'livekit-server-sdk';
import type { Browser, Page } from 'playwright-core';
import { gql } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { serviceMissing } from '../support/services';
import { launchChromium, recordPeerConnections, recordRemoteAudio, startShop } from '../support/browser';
import { describeReport, toneReport, writeToneWav, TONE_ABSENT, TONE_PRESENT, type ToneReport } from '../support/audio';
import { axeViolations, screenshot } from '../support/pages-browser';
import { liveKitFor, liveKitModeEnv, webhookLines, type RealLiveKit } from '../support/livekit-real';
import { seedShop, widgetTag, type ShopIds } from '../support/shop-setup';

/** Each party's microphone plays its own tone, so that who hears whom is measured, not guessed. */
const SHOPPER_HZ = 1000;
const AGENT_A_HZ = 440;
const AGENT_B_HZ = 700;
const TONES = [SHOPPER_HZ, AGENT_A_HZ, AGENT_B_HZ];

/**
 * Issue 25's transfer with real media: the shopper's widget on a shop page of another origin
 * (127.0.0.2) calls desk A, whose agent (console A, an AGENT key of desk A) hands the call over to
 * console B (an AGENT key of desk B) — blind, then, on a second call, warm. Three Chromium processes,
 * each with its own microphone tone (shopper 1000 Hz, agent A 440 Hz, agent B 700 Hz); what each hears
 * is recorded from its page's own <audio> elements and measured by Goertzel (test/support/audio.ts).
 * Checked on the new leg: the shopper hears agent B and not agent A, agent B hears the shopper, agent A
 * is gone from the room and the call goes on; during a warm consultation the shopper hears neither
 * agent while agent B hears agent A. The charge has two legs. Prints transfer click → new agent hears
 * the caller and the caller hears the new agent (ms).
 */
describe('transfer between two consoles over the real LiveKit (issue 25)', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let server: ServerProcess;
  const browsers: Browser[] = [];
  let shop: { origin: string; close(): Promise<void> };
  let ids: ShopIds;
  let deskB = '';
  const keys = { a: '', b: '' };
  let base = '';
  const consoles: { a: Page | null; b: Page | null } = { a: null, b: null };
  let shopperBrowser: Browser;
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit and Chromium', skipped);
  const rooms = () => new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret);
  const keyIdOf = (key: string) => key.split('.')[1]!;

  before(async () => {
    const found = await liveKitFor({ chromium: true });
    if (typeof found === 'string') {
      skipped = found;
      return;
    }
    lk = found;
    server = await startServer({ ...liveKitModeEnv(lk), LIVEKIT_SIP_TRUNK_ADDRESS: '127.0.0.1:5999', LIVEKIT_SIP_TRUNK_NUMBERS: '+33100000101' });
    base = new URL(server.url).origin;
    shop = await startShop('127.0.0.2', () => widgetTag(base, ids));
    ids = await seedShop(server.url, { name: 'Lamp shop', allowedOrigins: [shop.origin] });
    await admin(`mutation($c: ID!) { setCallCenterKind(callCenterId: $c, kind: BROWSER) { kind } }`, { c: ids.center });
    deskB = (
      await admin(
        `mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "Desk B", phoneNumber: "+33100000002", timeZone: "Europe/Paris", capacity: 5, region: "eu-west", kind: BROWSER }) { id } }`,
        { m: ids.merchant },
      )
    ).addCallCenter.id;
    const key = async (c: string) => (await admin(`mutation($m: ID, $c: ID) { createApiKey(role: AGENT, merchantId: $m, callCenterId: $c) { key } }`, { m: ids.merchant, c })).createApiKey.key as string;
    keys.a = await key(ids.center);
    keys.b = await key(deskB);
    const launch = async (hz: number) => {
      const wav = join(tmpdir(), `webdial-transfer-${hz}.wav`);
      writeToneWav(wav, hz, 120);
      const b = await launchChromium('fake', { microphoneWav: wav });
      browsers.push(b);
      return b;
    };
    shopperBrowser = await launch(SHOPPER_HZ);
    const signIn = async (hz: number, key: string) => {
      const ctx = await (await launch(hz)).newContext({ viewport: { width: 1280, height: 1000 } });
      await recordPeerConnections(ctx);
      const page = await ctx.newPage();
      page.on('pageerror', (e) => assert.fail(`console page error: ${e.message}`));
      await page.goto(`${base}/console`);
      await page.fill('#api-key', key);
      await page.keyboard.press('Enter');
      await page.getByTestId('signed-in').waitFor();
      return page;
    };
    consoles.a = await signIn(AGENT_A_HZ, keys.a);
    consoles.b = await signIn(AGENT_B_HZ, keys.b);
  });

  after(async () => {
    for (const b of browsers) await b.close();
    await shop?.close();
    await server?.stop();
  });

  /** What a page hears for `ms`: its remote audio, by tone. */
  const hears = async (page: Page, where: 'widget' | 'page', ms = 2500): Promise<ToneReport> => {
    const r = await recordRemoteAudio(page, ms, where);
    return toneReport(r.samples, r.sampleRate, TONES);
  };
  /** Until `page` hears `hz` (dominant) and not `not` (when given), or the timeout. */
  const untilHears = async (page: Page, where: 'widget' | 'page', hz: number, not: number | null, what: string) => {
    let last: ToneReport | null = null;
    try {
      return await heard();
    } catch (e) {
      // What the page says about its audio and any problem: the cause, rather than "nothing recorded".
      const says = await page.evaluate(`[...document.querySelectorAll('[data-testid=media], [role=alert], .error')].map((e) => e.textContent).join(' | ')`).catch(() => '');
      throw new Error(`${(e as Error).message}; the page says: ${String(says)}; server: ${server.output().split('\n').filter((l) => /error|warn|transfer/i.test(l)).slice(-8).join('\n')}`);
    }
    function heard() {
      return eventually(
      async () => {
        last = await hears(page, where, 1500);
        return last.loudSeconds >= 0.5 && last.share[hz]! >= TONE_PRESENT && (not === null || last.share[not]! < TONE_ABSENT) ? last : null;
      },
      30_000,
      `${what} (last: ${last ? describeReport(last) : 'nothing recorded'})`,
    );
    }
  };
  const participants = async (callId: string) => (await rooms().listParticipants(`call-${callId}`)).map((p) => p.identity).sort();
  const callOf = async (callId: string) =>
    (await admin(`query($c: ID!) { call(id: $c) { state terminatedBy charge { amountMinor legs { callCenterId agent talkMs amountMinor } } } }`, { c: callId })).call;

  /** The shopper clicks on the shop page; console A rings; agent A answers; the shopper hears agent A. */
  const answeredByA = async () => {
    const a = consoles.a!;
    const ctx = await shopperBrowser.newContext();
    await recordPeerConnections(ctx);
    const page = await ctx.newPage();
    await page.goto(`${shop.origin}/product/lamp`);
    await page.locator('[data-webdial] button.b').click();
    const item = a.getByTestId('call-item').first();
    await a.locator('[data-testid=call-state]', { hasText: 'RINGING' }).waitFor({ timeout: 30_000 });
    await item.click();
    const callId = (await page.locator('[data-webdial] .w').getAttribute('data-call-id'))!;
    await a.click('button:text-is("Answer")');
    await a.locator('[data-testid=media][data-audio=connected]').waitFor({ timeout: 30_000 });
    await untilHears(page, 'widget', AGENT_A_HZ, null, 'the shopper hears agent A');
    await untilHears(a, 'page', SHOPPER_HZ, null, 'agent A hears the shopper');
    return { page, callId };
  };
  /** Console B lists one more call (the transfer's pop), and shows it (the newest is listed first). */
  const showCallIn = async (b: Page, before: number) => {
    await eventually(async () => (await b.getByTestId('call-item').count()) > before, 30_000, "the call's pop in console B");
    await b.getByTestId('call-item').first().click();
    await b.getByTestId('pop').waitFor();
  };
  /** Agent A is no longer in the room (removed), agent B and the caller are, and the call goes on. */
  const aRemovedCallGoesOn = async (callId: string) => {
    const left = await eventually(async () => {
      const p = await participants(callId);
      return p.includes(`agent-${keyIdOf(keys.a)}`) ? null : p;
    }, 15_000, 'agent A removed');
    assert.deepEqual(left, [`agent-${keyIdOf(keys.b)}`, `caller-${callId}`].sort());
    // webdial removed it (not its console leaving by itself), and its leaving ended nothing.
    const gone = await eventually(
      async () => webhookLines(server.output(), `call-${callId}`).find((h) => h.event === 'participant_left' && h.identity === `agent-${keyIdOf(keys.a)}`),
      15_000,
      "agent A's participant_left",
    );
    assert.deepEqual([gone.disconnectReason, gone.outcome], ['PARTICIPANT_REMOVED', 'agent-left: nothing to end']);
    assert.equal((await callOf(callId)).state, 'ANSWERED', "agent A's leaving did not end the call");
  };
  /** The charge's legs: desk A's agent A, then desk B's agent B; the amount is their sum. */
  const assertTwoLegs = (c: { charge: { amountMinor: number; legs: Array<{ callCenterId: string; agent: string; amountMinor: number }> } }) => {
    assert.deepEqual(
      c.charge.legs.map((l) => [l.callCenterId, l.agent]),
      [
        [ids.center, keyIdOf(keys.a)],
        [deskB, keyIdOf(keys.b)],
      ],
    );
    assert.equal(Number(c.charge.amountMinor), c.charge.legs.reduce((n, l) => n + Number(l.amountMinor), 0));
  };
  const charged = (callId: string) =>
    eventually(async () => {
      const c = await callOf(callId);
      return c?.charge ? c : null;
    }, 20_000, 'the charge');

  test('blind: agent A transfers to desk B; console B gets the pop and takes the call; the shopper hears agent B, not A; A is gone; two legs billed', { timeout: 180_000 }, async (t) => {
    if (skipped) return skip(t);
    const [a, b] = [consoles.a!, consoles.b!];
    const { page, callId } = await answeredByA();
    const listed = await b.getByTestId('call-item').count();

    await a.getByTestId('transfer').locator('button:text-is("Blind transfer")').click();
    await a.getByText(/Offered to Desk B/).waitFor({ timeout: 15_000 });
    await showCallIn(b, listed);
    // The screen pop followed the call: the page the shopper called from.
    assert.ok((await b.getByTestId('pop').innerText()).includes(`${shop.origin}/product/lamp`));
    const take = b.locator('[data-testid=transfer][data-role=take] button:text-is("Take the call")');
    await take.waitFor({ timeout: 15_000 });
    assert.deepEqual(await axeViolations(b), [], 'axe-core on the console offered a transfer');
    await screenshot(b, 'console-transfer-offer');
    const clickedAt = Date.now();
    await take.click();
    // Both measured at once (each in 1.5 s recordings: the times are upper bounds, ±1.5 s).
    const timed = async <T>(p: Promise<T>) => [await p, Date.now() - clickedAt] as const;
    const [[bHearsShopper, bHearsMs], [shopperHearsB, shopperHearsMs]] = await Promise.all([
      timed(untilHears(b, 'page', SHOPPER_HZ, null, 'agent B hears the shopper')),
      timed(untilHears(page, 'widget', AGENT_B_HZ, AGENT_A_HZ, 'the shopper hears agent B and not agent A')),
    ]);
    console.log(`# measured (blind): take click → agent B hears the caller ${bHearsMs} ms, the caller hears agent B (and no longer A) ${shopperHearsMs} ms`);
    console.log(`#   agent B hears: ${describeReport(bHearsShopper)}; the shopper hears: ${describeReport(shopperHearsB)}`);
    // Agent A was removed from the room; the call goes on (its leaving did not end it).
    await aRemovedCallGoesOn(callId);
    await a.getByText(/The call was transferred to agent/).waitFor({ timeout: 10_000 });

    await new Promise((r) => setTimeout(r, 1000));
    await b.click('[data-testid=call-panel] button:text-is("Hang up")');
    const c = await charged(callId);
    assert.equal(c.terminatedBy, 'CALLEE');
    assertTwoLegs(c);
    await page.context().close();
  });

  test('warm: agent A consults agent B (the shopper hears neither, B hears A), then completes; the shopper hears B, not A; A is gone; two legs billed', { timeout: 180_000 }, async (t) => {
    if (skipped) return skip(t);
    const [a, b] = [consoles.a!, consoles.b!];
    const { page, callId } = await answeredByA();
    const listed = await b.getByTestId('call-item').count();

    await a.getByTestId('transfer').locator('button:text-is("Consult")').click();
    await a.getByText(/Consulting agent/).waitFor({ timeout: 15_000 });
    await showCallIn(b, listed);
    const join = b.locator('[data-testid=transfer][data-role=consulted] button:text-is("Join the consultation")');
    await join.waitFor({ timeout: 15_000 });
    await join.click();
    await untilHears(b, 'page', AGENT_A_HZ, SHOPPER_HZ, 'agent B hears agent A, and not the shopper on hold, in the consultation');
    // On hold: the shopper hears neither agent while they talk.
    const onHold = await hears(page, 'widget', 3000);
    assert.ok(onHold.share[AGENT_A_HZ]! < TONE_ABSENT && onHold.share[AGENT_B_HZ]! < TONE_ABSENT, `the shopper hears no agent during the consultation: ${describeReport(onHold)}`);
    console.log(`#   (warm) during the consultation the shopper hears: ${describeReport(onHold)}`);
    assert.deepEqual(await axeViolations(a), [], 'axe-core on the console consulting a colleague');
    await screenshot(a, 'console-transfer-consulting');

    const clickedAt = Date.now();
    await a.getByTestId('transfer').locator('button:text-is("Complete transfer")').click();
    await untilHears(page, 'widget', AGENT_B_HZ, AGENT_A_HZ, 'the shopper hears agent B and not agent A');
    const shopperHearsMs = Date.now() - clickedAt;
    await untilHears(b, 'page', SHOPPER_HZ, null, 'agent B hears the shopper');
    console.log(`# measured (warm): complete click → the caller hears agent B (and no longer A) ${shopperHearsMs} ms`);
    await aRemovedCallGoesOn(callId);

    await b.click('[data-testid=call-panel] button:text-is("Hang up")');
    const c = await charged(callId);
    assertTwoLegs(c);
    await page.context().close();
  });
});
