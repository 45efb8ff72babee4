import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { RoomServiceClient, TrackSource } from 'livekit-server-sdk';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { gql } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { serviceMissing } from '../support/services';
import { browserAudioStats, launchChromium, recordPeerConnections, startShop, type BrowserAudioStats } from '../support/browser';
import { axeViolations, screenshot } from '../support/pages-browser';
import { liveKitFor, liveKitModeEnv, webhookLines, type RealLiveKit } from '../support/livekit-real';
import { seedShop, widgetTag, type ShopIds } from '../support/shop-setup';

/**
 * Issue 12's PC-to-PC call with real media: one Chromium (fake microphone and speakers) with two
 * contexts, the shopper's (the shop page on another origin, 127.0.0.2, with the widget of a browser
 * center's link) and the agent's (the console signed in with an AGENT key of that center). webdial
 * runs with WEBDIAL_MEDIA=livekit against the real livekit-server (`npm run livekit:start`), on the
 * port LiveKit posts its webhooks to. No SIP leg: the two browsers meet in the call's room. Each end's own RTCPeerConnection stats show the
 * other's audio arriving. Prints the click → ring and answer → two-way audio times (not asserted).
 */
describe('PC-to-PC over the real LiveKit: the widget on another origin calls the agent console', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let server: ServerProcess;
  let browser: Browser;
  /** The shopper's browser profile (the shop page) and the agent's (the console): two contexts, nothing shared. */
  let shopperContext: BrowserContext;
  let agentContext: BrowserContext;
  let shop: { origin: string; close(): Promise<void> };
  let ids: ShopIds;
  let agentKey = '';
  let crmKey = '';
  let base = '';
  let consolePage: Page | null = null;
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit and Chromium', skipped);
  const rooms = () => new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret);

  before(async () => {
    const found = await liveKitFor({ chromium: true });
    if (typeof found === 'string') {
      skipped = found;
      return;
    }
    lk = found;
    server = await startServer({
      ...liveKitModeEnv(lk),
      // Required in LiveKit mode, never used here: a browser center dials nothing.
      LIVEKIT_SIP_TRUNK_ADDRESS: '127.0.0.1:5999',
      LIVEKIT_SIP_TRUNK_NUMBERS: '+33100000101',
    });
    base = new URL(server.url).origin;
    shop = await startShop('127.0.0.2', () => widgetTag(base, ids));
    ids = await seedShop(server.url, { name: 'Lamp shop', allowedOrigins: [shop.origin], pushUrl: `${shop.origin}/offer` });
    await admin(`mutation($c: ID!) { setCallCenterKind(callCenterId: $c, kind: BROWSER) { kind } }`, { c: ids.center });
    const key = async (role: string, c: string | null) =>
      (await admin(`mutation($r: Role!, $m: ID, $c: ID) { createApiKey(role: $r, merchantId: $m, callCenterId: $c) { key } }`, { r: role, m: ids.merchant, c })).createApiKey.key as string;
    agentKey = await key('AGENT', ids.center);
    crmKey = await key('CRM', null);
    browser = await launchChromium('fake');
    shopperContext = await browser.newContext();
    agentContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await recordPeerConnections(shopperContext);
    await recordPeerConnections(agentContext);
  });

  after(async () => {
    await browser?.close();
    await shop?.close();
    await server?.stop();
  });

  const signIn = async (ctx: BrowserContext, key: string): Promise<Page> => {
    const page = await ctx.newPage();
    page.on('pageerror', (e) => assert.fail(`console page error: ${e.message}`));
    await page.goto(`${base}/console`);
    await page.fill('#api-key', key);
    await page.keyboard.press('Enter');
    await page.getByTestId('signed-in').waitFor();
    await page.getByTestId('waiting').waitFor();
    return page;
  };
  const agentConsole = async () => (consolePage ??= await signIn(agentContext, agentKey));

  /** The shop page's widget, inside its shadow root. */
  const widget = (page: Page) => ({
    box: page.locator('[data-webdial] .w'),
    button: page.locator('[data-webdial] button.b'),
    state: (s: string) => page.locator(`[data-webdial] .w[data-state="${s}"]`),
  });
  const callOf = async (callId: string) =>
    (await admin(`query($c: ID!) { call(id: $c) { state terminatedBy terminationCause talkSeconds media charge { amountMinor billableSeconds currency } } }`, { c: callId })).call;
  const roomOf = async (callId: string) => (await rooms().listRooms([`call-${callId}`]))[0] ?? null;
  /**
   * webdial deletes the room at the end. LiveKit's DeleteRoom answers before the room leaves its room
   * list, so this waits a little; without the deletion the emptied room would stay listed for the
   * server's departure_timeout (20 s).
   */
  const roomDeleted = (callId: string) => eventually(async () => (await roomOf(callId)) === null, 15_000, `room call-${callId} deleted`);
  /** The agent's microphone track as livekit-server sees it: muted or not. */
  const agentTrackMuted = async (callId: string) => {
    const agent = (await rooms().listParticipants(`call-${callId}`)).find((p) => p.identity.startsWith('agent-'));
    const track = agent?.tracks.find((t) => t.source === TrackSource.MICROPHONE);
    return track ? track.muted : null;
  };
  /** The call's events, as the read side answers callTimeline over GraphQL. */
  const timelineOf = async (callId: string) =>
    (await admin(`query($c: ID!) { callTimeline(callId: $c) { type data } }`, { c: callId })).callTimeline as Array<{ type: string; data: Record<string, unknown> }>;

  /** The shopper clicks; the console rings with the screen pop. Returns the call and the click → ring time. */
  const ring = async (agent: Page) => {
    const page = await shopperContext.newPage();
    const errors: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    await page.goto(`${shop.origin}/product/lamp`);
    const w = widget(page);
    await w.button.waitFor();
    const clickedAt = Date.now();
    await w.button.click();
    await agent.locator('[data-testid=call-state]', { hasText: 'RINGING' }).waitFor({ timeout: 30_000 });
    const ringMs = Date.now() - clickedAt;
    const callId = (await w.box.getAttribute('data-call-id'))!;
    assert.ok(callId, 'the widget has its call id');
    await w.state('ringing').waitFor({ timeout: 20_000 });
    return { page, w, callId, ringMs, errors };
  };

  /** Both ends receive audio: inbound-rtp packets and audio energy, sampled until both are under way. */
  const twoWayAudio = async (shopper: Page, agent: Page, what: string) => {
    const both = async () => ({ shopper: await browserAudioStats(shopper), agent: await browserAudioStats(agent) });
    const hearing = (s: BrowserAudioStats) => s.inboundPackets > 10 && s.inboundEnergy > 0;
    return eventually(
      async () => {
        const s = await both();
        return hearing(s.shopper) && hearing(s.agent) ? s : null;
      },
      30_000,
      `${what}: audio received on both ends`,
    );
  };
  /** The audio goes on: inbound packets and energy, and the microphone's outbound packets, grow beyond `a`. */
  const growing = (page: Page, a: BrowserAudioStats, who: string) =>
    eventually(
      async () => {
        const b = await browserAudioStats(page);
        return b.inboundPackets > a.inboundPackets && b.inboundEnergy > a.inboundEnergy && b.outboundPackets > a.outboundPackets ? b : null;
      },
      20_000,
      `${who}: inbound-rtp packets and audio energy, and the microphone's outbound-rtp, keep growing (from ${JSON.stringify(a)})`,
    );

  const answer = async (agent: Page) => {
    const answeredAt = Date.now();
    await agent.click('button:text-is("Answer")');
    await agent.locator('[data-testid=media][data-audio=connected]').waitFor({ timeout: 30_000 });
    await agent.locator('[data-testid=call-state]', { hasText: 'ANSWERED' }).waitFor({ timeout: 30_000 });
    return answeredAt;
  };

  /** A call from the widget, answered in the console, with audio both ways. */
  const answeredCall = async (what: string) => {
    const agent = await agentConsole();
    const call = await ring(agent);
    await answer(agent);
    await twoWayAudio(call.page, agent, what);
    return { agent, ...call };
  };

  const endedIn = async (callId: string, what: string) =>
    eventually(async () => {
      const c = await callOf(callId);
      return c?.state === 'TERMINATED' ? c : null;
    }, 30_000, what);

  test('the agent answers in the console, both hear each other, a button pushes a page to the widget, mute, the agent hangs up (CALLEE), billed, room deleted', { timeout: 120_000 }, async (t) => {
    if (skipped) return skip(t);
    const agent = await agentConsole();
    const { page, w, callId, ringMs, errors } = await ring(agent);
    // The screen pop, before the answer: a browser call from the shop page, with no caller ID.
    const pop = await agent.getByTestId('pop').innerText();
    assert.match(pop, /shopper-1/);
    assert.ok(pop.includes(`${shop.origin}/product/lamp`), `the page in the pop: ${pop}`);
    assert.match(await agent.getByTestId('caller-id').innerText(), /browser call \(PC-to-PC\) has no phone line/);

    const answeredAt = await answer(agent);
    const first = await twoWayAudio(page, agent, 'call 1');
    const twoWayMs = Date.now() - answeredAt;
    await w.state('answered').waitFor();
    await agent.locator('[data-testid=media]', { hasText: 'you hear the caller' }).waitFor({ timeout: 20_000 });
    // Only the two browsers are in the room: no SIP participant, nor webdial's own.
    const people = (await rooms().listParticipants(`call-${callId}`)).map((p) => p.identity).sort();
    assert.deepEqual(people, [`agent-${agentKey.split('.')[1]}`, `caller-${callId}`]);
    await growing(page, first.shopper, 'the shopper');
    await growing(agent, first.agent, 'the agent');

    // A console button pushes one of the merchant's pages (the *76 command): the widget shows it.
    await agent.click(`button:text("Push ${shop.origin}/offer (*76)")`);
    await page.locator(`[data-webdial] .page a[href="${shop.origin}/offer"]`).waitFor({ timeout: 20_000 });

    // Mute: the shopper stops receiving the agent's audio energy; unmute: it comes back.
    const mute = agent.getByTestId('mute');
    await mute.click();
    await agent.locator('[data-testid=mute][aria-pressed=true]').waitFor();
    await eventually(async () => (await agentTrackMuted(callId)) === true, 15_000, "livekit-server sees the agent's microphone muted");
    await new Promise((r) => setTimeout(r, 500)); // in-flight audio drains
    const muted0 = await browserAudioStats(page);
    await new Promise((r) => setTimeout(r, 1500));
    const muted1 = await browserAudioStats(page);
    await mute.click();
    await agent.locator('[data-testid=mute][aria-pressed=false]').waitFor();
    await eventually(async () => (await agentTrackMuted(callId)) === false, 15_000, "livekit-server sees the agent's microphone unmuted");
    const unmuted = await eventually(async () => {
      const s = await browserAudioStats(page);
      return s.inboundEnergy - muted1.inboundEnergy > 2 * (muted1.inboundEnergy - muted0.inboundEnergy) + 1e-6 ? s : null;
    }, 20_000, 'the agent heard again after unmuting');
    assert.ok(muted1.inboundEnergy - muted0.inboundEnergy < (unmuted.inboundEnergy - muted1.inboundEnergy) / 2, 'muted, the agent sends no audio energy');

    assert.deepEqual(await axeViolations(agent), [], 'axe-core on the console with a connected call');
    await screenshot(agent, 'pc-to-pc-livekit-console');
    await screenshot(page, 'pc-to-pc-livekit-widget');

    await agent.click('button:text-is("Hang up")');
    await agent.locator('[data-testid=call-state]', { hasText: 'TERMINATED' }).waitFor({ timeout: 30_000 });
    await w.state('terminated').waitFor({ timeout: 30_000 });
    const ended = await endedIn(callId, 'the call terminated');
    assert.deepEqual([ended.terminatedBy, ended.terminationCause, ended.media], ['CALLEE', 'HANGUP', 'BROWSER']);
    assert.ok(ended.talkSeconds >= 1, `talked ${ended.talkSeconds} s (over 2 s passed between answer and hang-up)`);
    // The timeline over GraphQL: a browser call (no SIP leg), answered, the console's push, ended by the agent.
    const timeline = await eventually(async () => {
      const tl = await timelineOf(callId);
      return tl.some((e) => e.type === 'CallTerminated') ? tl : null;
    }, 20_000, 'CallTerminated in the timeline');
    const types = timeline.map((e) => e.type);
    for (const [a, b] of [['CallDownloaded', 'CallerJoinedMedia'], ['CallInitiated', 'CallRinging'], ['CallRinging', 'CallAnswered'], ['CallAnswered', 'DtmfCommandRecognized'], ['DtmfCommandRecognized', 'CallTerminated']]) {
      assert.ok(types.includes(a!) && types.indexOf(a!) < types.indexOf(b!), `${a} before ${b}: ${types.join(', ')}`);
    }
    assert.equal(types.filter((t) => t === 'CallTerminated').length, 1, types.join(', '));
    assert.ok(!types.includes('DtmfReceived'), 'no keypad: the push was the console button');
    const terminated = timeline.find((e) => e.type === 'CallTerminated')!.data;
    assert.deepEqual([terminated.by, terminated.cause], ['CALLEE', 'HANGUP'], JSON.stringify(terminated));
    const billed = await eventually(async () => (await callOf(callId))?.charge ?? null, 20_000, 'the charge');
    // 30 s first increment: 10 + 30/60 × 6 rounded up.
    assert.deepEqual(billed, { amountMinor: 13, billableSeconds: 30, currency: 'EUR' });
    await roomDeleted(callId);
    await agent.locator('[data-testid=media]', { hasText: 'The call has ended' }).waitFor();
    assert.deepEqual(errors, [], 'no errors on the shop page');
    console.log(`# measured: click → the console rings ${ringMs} ms; answer → two-way audio ${twoWayMs} ms (LiveKit ${lk.serverVersion})`);
    await page.close();
  });

  test('a console whose microphone is refused says so and does not take the call; the agent answers; the shopper hangs up (CALLER)', { timeout: 120_000 }, async (t) => {
    if (skipped) return skip(t);
    const agent = await agentConsole();
    const denying = await launchChromium('denied');
    try {
      const refusing = await signIn(await denying.newContext(), crmKey);
      const { page, w, callId, ringMs } = await ring(agent);
      await refusing.locator('[data-testid=call-state]', { hasText: 'RINGING' }).waitFor({ timeout: 20_000 });
      await refusing.click('button:text-is("Answer")');
      const refusal = refusing.locator('[data-testid=media][data-audio=refused]');
      await refusal.waitFor({ timeout: 20_000 });
      assert.match(await refusal.innerText(), /Microphone access was denied, so the call was not answered: allow the microphone/);
      assert.equal(await refusal.getAttribute('role'), 'alert');
      assert.equal((await callOf(callId)).state, 'RINGING', 'the call still rings for the others');
      await screenshot(refusing, 'pc-to-pc-console-microphone-denied');

      const answeredAt = await answer(agent);
      await twoWayAudio(page, agent, 'call 2');
      const twoWayMs = Date.now() - answeredAt;
      await refusing.locator('[data-testid=call-state]', { hasText: 'ANSWERED' }).waitFor();
      await new Promise((r) => setTimeout(r, 1000));
      await w.button.click(); // "Hang up"
      await w.state('terminated').waitFor({ timeout: 30_000 });
      const ended = await endedIn(callId, 'the call terminated');
      assert.deepEqual([ended.terminatedBy, ended.terminationCause], ['CALLER', 'HANGUP']);
      await agent.locator('[data-testid=call-state]', { hasText: 'TERMINATED' }).waitFor({ timeout: 30_000 });
      await agent.locator('[data-testid=media]', { hasText: 'The call has ended' }).waitFor();
      await roomDeleted(callId);
      await eventually(async () => (await callOf(callId))?.charge ?? null, 10_000, 'the charge');
      console.log(`# measured (call 2): click → the console rings ${ringMs} ms; answer → two-way audio ${twoWayMs} ms`);
      await page.close();
    } finally {
      await denying.close();
    }
  });

  test("the agent's console page is closed mid-call: LiveKit reports the agent gone and the call ends as the agent's hang-up", { timeout: 120_000 }, async (t) => {
    if (skipped) return skip(t);
    const { agent, page, w, callId } = await answeredCall('call 3');
    const closedAt = Date.now();
    await agent.close();
    consolePage = null;
    await w.state('terminated').waitFor({ timeout: 30_000 });
    const endMs = Date.now() - closedAt;
    const ended = await endedIn(callId, 'the call terminated');
    assert.deepEqual([ended.terminatedBy, ended.terminationCause], ['CALLEE', 'HANGUP']);
    await roomDeleted(callId);
    // What LiveKit sent, as the webhook handler logged it: the agent left (livekit-client says goodbye
    // when its page goes), which ended the call; then the caller left, either by itself (the widget
    // learnt of the end first: CLIENT_INITIATED, a no-op on the ended call) or dropped by the deletion.
    const hooks = await eventually(async () => {
      const h = webhookLines(server.output(), `call-${callId}`);
      return h.some((x) => x.event === 'room_finished') ? h : null;
    }, 10_000, 'room_finished');
    const agentLeft = hooks.find((h) => h.event === 'participant_left' && h.identity?.startsWith('agent-'));
    assert.deepEqual([agentLeft?.disconnectReason, agentLeft?.outcome], ['CLIENT_INITIATED', 'agent-left'], JSON.stringify(hooks));
    const callerLeft = hooks.find((h) => h.event === 'participant_left' && h.identity === `caller-${callId}`);
    assert.ok(
      (callerLeft?.disconnectReason === 'ROOM_DELETED' && callerLeft.outcome === 'ignored') || (callerLeft?.disconnectReason === 'CLIENT_INITIATED' && callerLeft.outcome === 'caller-left'),
      JSON.stringify(hooks),
    );
    assert.equal((await callOf(callId)).terminatedBy, 'CALLEE', 'the caller leaving afterwards changed nothing');
    console.log(`# measured: the console page closed → the call ended in the widget ${endMs} ms (participant_left ${agentLeft?.disconnectReason})`);
    await page.close();
  });

  test("the agent's browser crashes mid-call (no goodbye): LiveKit times the agent out and the call ends as the agent's hang-up", { timeout: 120_000 }, async (t) => {
    if (skipped) return skip(t);
    const { agent, page, w, callId } = await answeredCall('call 4');
    const crashedAt = Date.now();
    const cdp = await agent.context().newCDPSession(agent);
    void cdp.send('Page.crash').catch(() => undefined); // the renderer dies: no leave reaches LiveKit
    consolePage = null;
    await w.state('terminated').waitFor({ timeout: 60_000 });
    const endMs = Date.now() - crashedAt;
    const ended = await endedIn(callId, 'the call terminated');
    assert.deepEqual([ended.terminatedBy, ended.terminationCause], ['CALLEE', 'HANGUP']);
    const hooks = await eventually(async () => {
      const h = webhookLines(server.output(), `call-${callId}`);
      return h.some((x) => x.event === 'participant_left' && x.identity?.startsWith('agent-')) ? h : null;
    }, 10_000, "the agent's participant_left");
    const agentLeft = hooks.find((h) => h.event === 'participant_left' && h.identity?.startsWith('agent-'));
    assert.deepEqual([agentLeft?.disconnectReason, agentLeft?.outcome], ['CONNECTION_TIMEOUT', 'agent-left'], JSON.stringify(hooks));
    await roomDeleted(callId);
    console.log(`# measured: the console crashed → the call ended in the widget ${endMs} ms (participant_left CONNECTION_TIMEOUT)`);
    await agent.close().catch(() => undefined);
    await page.close();
  });
});
