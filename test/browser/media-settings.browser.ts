import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { gql, gqlRaw } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { serviceMissing } from '../support/services';
import { SipClient } from 'livekit-server-sdk';
import { browserAudioStats, launchChromium, recordPeerConnections, shopperPage, startShop, chromiumMissing } from '../support/browser';
import { freeUdpPort, sippAvailable, startSipp, type CallCenterScript } from '../support/sipp';
import { startRtpEndpoint, type RtpEndpoint, type RtpEndpointOptions } from '../support/rtp-endpoint';
import { CENTER_TONE_HZ, MICROPHONE_TONE_HZ, rmsDbfs, SIGNAL_FLOOR_DBFS, writeToneWav, writeWav } from '../support/audio';
import { axeViolations, screenshot } from '../support/pages-browser';
import { liveKitFor, liveKitModeEnv, realLiveKit, type RealLiveKit } from '../support/livekit-real';
import { seedShop, widgetTag, type ShopIds } from '../support/shop-setup';

/**
 * Issue 24 over the real LiveKit, in Chromium: a PC-to-PC call (the widget on a shop page of another
 * origin, the console with an AGENT key, each in its own Chromium whose fake microphone plays a
 * speech-like WAV in a loop). Checked against what the browsers themselves report, not what the
 * widget says: the microphone track's getSettings() (every track getUserMedia returned is kept by an
 * init script), the RMS of everything the page's WebAudio sends to its speakers (an AnalyserNode
 * tapped onto each AudioDestinationNode), and the agent's own RTCPeerConnection inbound-rtp energy
 * (what the shopper's microphone really sent). Port 4680: webdial's own (LiveKit's webhooks go to the
 * voice tests' port, and nothing here needs them).
 */

const WEBDIAL_PORT = process.env.WEBDIAL_MEDIA_TEST_PORT ?? '4680';
const WEBDIAL_PSTN_PORT = String(Number(WEBDIAL_PORT) + 1);

/** 16-bit mono PCM WAV: a speech-like sound (three partials, 4 Hz syllabic envelope never below 40 %), looped by Chromium. */
const speechLikeWav = (path: string, f0: number): string => {
  const rate = 48_000;
  const n = rate * 4;
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const env = 0.7 + 0.3 * Math.sin(2 * Math.PI * 4 * t);
    const v = env * (0.5 * Math.sin(2 * Math.PI * f0 * t) + 0.3 * Math.sin(2 * Math.PI * 2.3 * f0 * t) + 0.2 * Math.sin(2 * Math.PI * 3.7 * f0 * t));
    data.writeInt16LE(Math.round(v * 0.6 * 32767), i * 2);
  }
  writeWav(path, rate, data);
  return path;
};

/** Keeps every microphone track getUserMedia returns, and measures what the page's WebAudio plays (page-side code as a string: no DOM library here). */
const INSTRUMENT = `(() => {
  window.__mics = [];
  const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (c) => {
    const s = await gum(c);
    for (const t of s.getAudioTracks()) window.__mics.push(t);
    return s;
  };
  const taps = [];
  window.__out = { level: 0, lastLoud: 0, max: 0 };
  const connect = AudioNode.prototype.connect;
  AudioNode.prototype.connect = function (dest, ...rest) {
    const r = connect.call(this, dest, ...rest);
    if (dest instanceof AudioDestinationNode) {
      let tap = dest.context.__tap;
      if (!tap) {
        tap = dest.context.createAnalyser();
        tap.fftSize = 512;
        dest.context.__tap = tap;
        taps.push(tap);
      }
      connect.call(this, tap);
    }
    return r;
  };
  const buf = new Float32Array(512);
  setInterval(() => {
    let peak = 0;
    for (const t of taps) {
      t.getFloatTimeDomainData(buf);
      let s = 0;
      for (const v of buf) s += v * v;
      peak = Math.max(peak, Math.sqrt(s / buf.length));
    }
    window.__out.level = peak;
    window.__out.max = Math.max(window.__out.max, peak);
    if (peak > 0.01) window.__out.lastLoud = Date.now();
  }, 4);
})();`;

/**
 * Follows, in the shopper's page, the level of the audio it receives (its own analyser on the live
 * received tracks of every RTCPeerConnection, RMS of 1024 samples every 5 ms) and the widget's gate
 * (data-gate in its open shadow root): window.__gateWatch = { lastAbove (−50 dBFS), openedAt, peakDb }.
 */
const WATCH_GATE = `(() => {
  const ctx = new AudioContext();
  const analysers = [];
  for (const pc of window.__pcs) for (const r of pc.getReceivers()) {
    if (r.track.kind !== 'audio' || r.track.readyState !== 'live') continue;
    const a = ctx.createAnalyser();
    a.fftSize = 1024;
    ctx.createMediaStreamSource(new MediaStream([r.track])).connect(a);
    analysers.push(a);
  }
  const w = { lastAbove: 0, openedAt: 0, peakDb: -Infinity };
  window.__gateWatch = w;
  const buf = new Float32Array(1024);
  setInterval(() => {
    for (const a of analysers) {
      a.getFloatTimeDomainData(buf);
      let s = 0;
      for (const v of buf) s += v * v;
      const db = 10 * Math.log10(s / buf.length + 1e-12);
      if (db > w.peakDb) w.peakDb = db;
      if (db > -50 && !w.openedAt) w.lastAbove = Date.now();
    }
  }, 5);
  const box = document.querySelector('[data-webdial]').shadowRoot.querySelector('.w');
  new MutationObserver(() => {
    if (box.dataset.gate === 'open' && !w.openedAt) w.openedAt = Date.now();
  }).observe(box, { attributes: true, attributeFilter: ['data-gate'] });
})()`;

/** The shopper's live microphone track, as the browser reports it. */
const micSettings = (page: Page) =>
  page.evaluate(`(() => {
    const live = window.__mics.filter((t) => t.readyState === 'live');
    const t = live[live.length - 1];
    return t ? { echoCancellation: t.getSettings().echoCancellation, noiseSuppression: t.getSettings().noiseSuppression, autoGainControl: t.getSettings().autoGainControl, tracks: window.__mics.length } : null;
  })()`) as Promise<{ echoCancellation?: boolean; noiseSuppression?: boolean; autoGainControl?: boolean; tracks: number } | null>;
const output = (page: Page) => page.evaluate('window.__out') as Promise<{ level: number; lastLoud: number; max: number }>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('issue 24 over the real LiveKit: media settings, echo suppression, ringback (PC-to-PC, Chromium)', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let server: ServerProcess;
  let shopperBrowser: Browser;
  let agentBrowser: Browser;
  let shop: { origin: string; close(): Promise<void> };
  let ids: ShopIds;
  let agentKey = '';
  let gatewayKey = '';
  let base = '';
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit and Chromium', skipped);

  before(async () => {
    const found = await liveKitFor({ chromium: true, webhookPort: false });
    if (typeof found === 'string') {
      skipped = found;
      return;
    }
    lk = found;
    server = await startServer({
      ...liveKitModeEnv(lk),
      PORT: WEBDIAL_PORT,
      LIVEKIT_SIP_TRUNK_ADDRESS: '127.0.0.1:5999',
      LIVEKIT_SIP_TRUNK_NUMBERS: '+33100000101',
    });
    base = new URL(server.url).origin;
    shop = await startShop('127.0.0.2', () => widgetTag(base, ids));
    // A US number: the ringback must be 440+480 Hz, 2 s on 4 s off.
    ids = await seedShop(server.url, { name: 'Lamp shop', allowedOrigins: [shop.origin], pushUrl: `${shop.origin}/offer`, centerNumber: '+14155550100' });
    await admin(`mutation($c: ID!) { setCallCenterKind(callCenterId: $c, kind: BROWSER) { kind } }`, { c: ids.center });
    agentKey = (await admin(`mutation($m: ID, $c: ID) { createApiKey(role: AGENT, merchantId: $m, callCenterId: $c) { key } }`, { m: ids.merchant, c: ids.center })).createApiKey.key as string;
    gatewayKey = (await admin(`mutation { createApiKey(role: GATEWAY) { key } }`)).createApiKey.key as string;
    const dir = mkdtempSync(join(tmpdir(), 'webdial-audio-'));
    shopperBrowser = await launchChromium('fake', { microphoneWav: speechLikeWav(join(dir, 'shopper.wav'), 180) });
    agentBrowser = await launchChromium('fake', { microphoneWav: speechLikeWav(join(dir, 'agent.wav'), 130) });
  });

  after(async () => {
    await shopperBrowser?.close();
    await agentBrowser?.close();
    await shop?.close();
    await server?.stop();
  });

  const timeline = async (callId: string) =>
    (await admin(`query($c: ID!) { callTimeline(callId: $c) { type occurredAt data } }`, { c: callId })).callTimeline as Array<{ type: string; occurredAt: string; data: Record<string, any> }>;

  test('keypad and console change the shopper\'s microphone; suppression gates it while the agent speaks; ringback until the answer; after the end, CONFLICT', { timeout: 180_000 }, async (t) => {
    if (skipped) return skip(t);
    const agentContext = await agentBrowser.newContext({ viewport: { width: 1280, height: 1400 } });
    await recordPeerConnections(agentContext);
    await agentContext.addInitScript({ content: INSTRUMENT });
    const agent = await agentContext.newPage();
    agent.on('pageerror', (e) => assert.fail(`console page error: ${e.message}`));
    await agent.goto(`${base}/console`);
    await agent.fill('#api-key', agentKey);
    await agent.keyboard.press('Enter');
    await agent.getByTestId('waiting').waitFor();

    const shopperContext = await shopperBrowser.newContext();
    await recordPeerConnections(shopperContext);
    await shopperContext.addInitScript({ content: INSTRUMENT });
    const page = await shopperContext.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    let callToken = '';
    page.on('response', (r) => {
      if (!r.url().endsWith('/graphql')) return;
      void r.json().then((b: { data?: { recordDownload?: { callToken?: string } } }) => {
        if (b?.data?.recordDownload?.callToken) callToken = b.data.recordDownload.callToken;
      }, () => undefined);
    });
    await page.goto(`${shop.origin}/product/lamp`);
    const box = page.locator('[data-webdial] .w');
    await page.locator('[data-webdial] button.b').click();
    await agent.locator('[data-testid=call-state]', { hasText: 'RINGING' }).waitFor({ timeout: 30_000 });
    const callId = (await box.getAttribute('data-call-id'))!;

    // Ringback: the US cadence, audible at the page's speakers while the call rings.
    await page.locator('[data-webdial] .w[data-ringback="US"]').waitFor({ timeout: 10_000 });
    const loud = await eventually(async () => {
      const o = await output(page);
      return o.level > 0.02 ? o : null;
    }, 8_000, 'the ringback is heard while ringing');
    console.log(`# measured: ringback RMS at the speakers ${loud.level.toFixed(3)} (full scale 1)`);

    // Answer while the tone is on (so that its stop is measurable): wait for an on-period.
    await eventually(async () => (await output(page)).level > 0.02, 8_000, 'a ringback on-period');
    await agent.click('button:text-is("Answer")');
    await agent.locator('[data-testid=media][data-audio=connected]').waitFor({ timeout: 30_000 });
    const answeredAt = Date.parse((await eventually(async () => (await timeline(callId)).find((e) => e.type === 'CallAnswered'), 10_000, 'CallAnswered')).occurredAt);
    await page.locator('[data-webdial] .w[data-state="answered"]').waitFor({ timeout: 10_000 });
    await sleep(300);
    const afterAnswer = await output(page);
    const stopMs = afterAnswer.lastLoud - answeredAt;
    console.log(`# measured: ringback stopped ${stopMs} ms after CallAnswered was recorded`);
    assert.ok(afterAnswer.level < 0.005, `silent after the answer (RMS ${afterAnswer.level})`);
    assert.ok(stopMs < 200, `the ringback stops within 200 ms of the answer (${stopMs} ms)`);
    assert.equal(await box.getAttribute('data-ringback'), null);

    // Audio both ways (the agent hears the shopper's file).
    await eventually(async () => ((await browserAudioStats(agent)).inboundEnergy > 0 ? true : null), 30_000, 'the agent hears the shopper');
    const before = await micSettings(page);
    assert.equal(before?.echoCancellation, true, `echo cancellation on by default: ${JSON.stringify(before)}`);

    // 1. The keypad: ##10 (echo cancellation off) reported by the gateway like any DTMF.
    await gql(server.url, `mutation($c: ID!) { reportDtmf(callId: $c, digits: "##10", gatewayEventId: "d-1") { state } }`, { c: callId }, gatewayKey);
    await eventually(async () => ((await micSettings(page))?.echoCancellation === false ? true : null), 15_000, 'getSettings().echoCancellation === false after ##10');
    await agent.locator('[data-testid=caller-media]', { hasText: 'echo cancellation off' }).waitFor({ timeout: 15_000 });
    // Then back on, with the console's button.
    await agent.click('button:text-is("Echo cancellation on (##11)")');
    await eventually(async () => ((await micSettings(page))?.echoCancellation === true ? true : null), 15_000, 'getSettings().echoCancellation === true after the button');
    // A repeated command: applied again, the same report, nothing new recorded.
    await agent.click('button:text-is("Echo cancellation on (##11)")');
    await eventually(async () => (await timeline(callId)).filter((e) => e.type === 'DtmfCommandRecognized').length === 3, 10_000, 'three commands');
    await sleep(1500);
    const applied = (await timeline(callId)).filter((e) => e.type === 'CallerMediaSettingsApplied');
    assert.deepEqual(applied.map((e) => [e.data.settings.echoCancellation, e.data.honoured]), [[false, true], [true, true]], JSON.stringify(applied.map((e) => e.data)));
    console.log(`# measured: applied by ${applied.map((e) => e.data.note).join(', ')}`);
    // Noise suppression and automatic gain, off and on again: what the track reports.
    for (const [label, key, want] of [
      ['Noise suppression off (##30)', 'noiseSuppression', false],
      ['Automatic gain off (##40)', 'autoGainControl', false],
      ['Noise suppression on (##31)', 'noiseSuppression', true],
      ['Automatic gain on (##41)', 'autoGainControl', true],
    ] as const) {
      await agent.click(`button:text-is("${label}")`);
      await eventually(async () => ((await micSettings(page))?.[key] === want ? true : null), 15_000, `getSettings().${key} === ${want} after "${label}"`);
    }
    const six = await eventually(async () => {
      const r = (await timeline(callId)).filter((e) => e.type === 'CallerMediaSettingsApplied');
      return r.length === 6 ? r : null;
    }, 10_000, 'six reports');
    assert.ok(six.every((e) => e.data.honoured === true), JSON.stringify(six.map((e) => e.data)));
    console.log(`# measured: noise suppression and automatic gain applied by ${six.slice(2).map((e) => e.data.note).join(', ')}`);
    // An unknown code: recorded as refused, nothing reaches the widget.
    await gql(server.url, `mutation($c: ID!) { reportDtmf(callId: $c, digits: "##57", gatewayEventId: "d-2") { state } }`, { c: callId }, gatewayKey);
    const refused = await eventually(async () => (await timeline(callId)).find((e) => e.type === 'DtmfCommandRecognized' && e.data.sequence === '##57'), 10_000, '##57 recorded');
    assert.deepEqual([refused.data.accepted, refused.data.reason], [false, 'unknown media-setting code ##57']);

    // 2. Echo suppression: first, how much the shopper sends while the agent speaks, with it off.
    const energyOver = async (ms: number) => {
      const a = await browserAudioStats(agent);
      await sleep(ms);
      return (await browserAudioStats(agent)).inboundEnergy - a.inboundEnergy;
    };
    await sleep(1500); // the reopened microphone's automatic gain settles
    const open = await energyOver(1500);
    await agent.click('button:text-is("Echo suppression on (##21)")');
    await page.locator('[data-webdial] .w[data-gate="closed"]').waitFor({ timeout: 10_000 });
    await sleep(500); // audio in flight drains
    const gated = await energyOver(1500);
    console.log(`# measured: the agent receives ${open.toExponential(2)} of the shopper's energy in 1.5 s open, ${gated.toExponential(2)} gated`);
    assert.ok(open > 0, 'with suppression off, the shopper is heard while the agent speaks');
    assert.ok(gated < open * 0.05, `gated while the agent speaks: ${gated} vs ${open}`);
    // The agent falls silent (mute): the gate opens within the hang time of the silence reaching the shopper.
    await page.evaluate(WATCH_GATE);
    const mutedAt = Date.now();
    await agent.getByTestId('mute').click();
    await page.locator('[data-webdial] .w[data-gate="open"]').waitFor({ timeout: 10_000 });
    console.log(`# measured: agent muted → the shopper's gate open ${Date.now() - mutedAt} ms (hang time 300 ms + the network and jitter buffer)`);
    // The hang time as the shopper's page lives it: from the last moment the agent's received audio was
    // above the threshold (measured by the test's own analyser on the received track) to the gate opening.
    const watch = (await page.evaluate('window.__gateWatch')) as { lastAbove: number; openedAt: number; peakDb: number };
    const hang = watch.openedAt - watch.lastAbove;
    console.log(`# measured: the agent's received level ${watch.peakDb.toFixed(1)} dBFS while speaking; below -50 dBFS → gate open ${hang} ms later`);
    assert.ok(watch.peakDb > -50, `the agent's speech is above the threshold at the shopper: ${watch.peakDb} dBFS`);
    assert.ok(hang >= 250 && hang <= 500, `the gate opens one hang time (300 ms, ± a window and timer jitter) after the agent's audio fell silent: ${hang} ms`);
    const reopened = await energyOver(1500);
    console.log(`# measured: the agent receives ${reopened.toExponential(2)} in 1.5 s once the gate opened again`);
    // Heard again: far above the gated leak (automatic gain makes the level itself drift between samples).
    assert.ok(reopened > 1e-4 && reopened > 1000 * gated, `the shopper is heard again: ${reopened} (open ${open}, gated ${gated})`);
    await agent.getByTestId('mute').click();
    await page.locator('[data-webdial] .w[data-gate="closed"]').waitFor({ timeout: 10_000 });
    const suppressed = (await timeline(callId)).filter((e) => e.type === 'CallerMediaSettingsApplied').pop()!;
    assert.equal(suppressed.data.settings.echoSuppression, true);

    // 3. The shopper's own menu: a headset turns echo cancellation and suppression off; shown to the agent.
    await page.locator('[data-webdial] details.sound summary').click();
    await page.locator('[data-webdial] button[data-choice="HEADSET"]').click();
    await eventually(async () => ((await micSettings(page))?.echoCancellation === false ? true : null), 15_000, 'headset: echo cancellation off');
    await agent.locator('[data-testid=caller-media]', { hasText: 'the caller chose: a headset' }).waitFor({ timeout: 15_000 });
    assert.equal(await box.getAttribute('data-gate'), null, 'suppression off with the headset');
    // The agent's own controls on a PC-to-PC call.
    await agent.locator('[data-testid=own-sound] button', { hasText: 'I use a headset' }).click();
    await agent.locator('[data-testid=own-sound-result]', { hasText: 'echo cancellation off' }).waitFor({ timeout: 15_000 });
    assert.equal((await micSettings(agent))?.echoCancellation, false, "the console's own microphone track: echo cancellation off");
    assert.deepEqual(await axeViolations(agent), [], 'axe-core on the console with the media controls');
    await screenshot(agent, 'media-settings-console');
    await screenshot(page, 'media-settings-widget');

    // Bad input and forgeries, through the API.
    const report = (token: string, input: Record<string, unknown>) =>
      gqlRaw(server.url, `mutation($t: String!, $i: CallerMediaSettingsInput!) { reportMediaSettings(callToken: $t, input: $i) }`, { t: token, i: input });
    const good = { echoCancellation: true, noiseSuppression: true, autoGainControl: true, echoSuppression: false };
    const forged = `${callToken.slice(0, -3)}${callToken.slice(-3) === 'AAA' ? 'BBB' : 'AAA'}`;
    assert.equal((await report(forged, good)).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'a forged token');
    assert.equal((await report(callToken, { ...good, note: 'x'.repeat(201) })).errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'a note too long');
    assert.equal(
      (await report(callToken, { ...good, requested: [{ setting: 'AUTO_GAIN', enabled: true }, { setting: 'AUTO_GAIN', enabled: false }] })).errors?.[0]?.extensions?.code,
      'BAD_USER_INPUT',
      'a setting requested twice',
    );

    // The end: the agent hangs up; commands and reports are then refused with CONFLICT.
    await agent.click('button:text-is("Hang up")');
    await page.locator('[data-webdial] .w[data-state="terminated"]').waitFor({ timeout: 30_000 });
    const late = await gqlRaw(server.url, `mutation($c: ID!) { agentCommand(callId: $c, action: MEDIA_SETTING, argument: "ECHO_CANCELLATION:OFF") { accepted } }`, { c: callId }, agentKey);
    assert.equal(late.errors?.[0]?.extensions?.code, 'CONFLICT');
    assert.equal((await report(callToken, good)).errors?.[0]?.extensions?.code, 'CONFLICT');
    const types = (await timeline(callId)).map((e) => e.type);
    assert.equal(types[types.length - 1], 'CallTerminated', `nothing after the end: ${types.join(', ')}`);
    assert.deepEqual(errors, []);
    await shopperContext.close();
    await agentContext.close();
  });
});

/**
 * The PSTN leg: LiveKit SIP dials sipp (the call center, a US number) through an outbound trunk;
 * sipp does the SIP, the test's RTP endpoint the media: it "speaks" (a 440 Hz tone) for the first 8 s
 * and keys ##10, ##11 and ##21 as RFC 4733 events, and keeps what it hears of the shopper, whose fake
 * microphone plays a 1000 Hz tone. Then a second call is busy.
 */
describe('issue 24 on a PSTN call over the real LiveKit SIP and sipp: ringback, keyed settings, suppression heard at the call center, busy tone', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let server: ServerProcess;
  let browser: Browser;
  let shop: { origin: string; close(): Promise<void> };
  let ids: ShopIds;
  let sippPort = 0;
  const ani = '+33100000101';
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);
  const skip = (t: TestContext) => serviceMissing(t, 'real voice stack', skipped);

  before(async () => {
    const found = await realLiveKit();
    const missing = typeof found === 'string' ? found : (sippAvailable() ?? chromiumMissing());
    if (missing) {
      skipped = missing;
      return;
    }
    lk = found as RealLiveKit;
    sippPort = 5900 + 2 * Math.floor(Math.random() * 50);
    server = await startServer({
      ...liveKitModeEnv(lk),
      PORT: WEBDIAL_PSTN_PORT,
      LIVEKIT_SIP_TRUNK_ADDRESS: `127.0.0.1:${sippPort}`,
      LIVEKIT_SIP_TRUNK_NUMBERS: ani,
      WEBDIAL_ANI_QUARANTINE: '0',
    });
    shop = await startShop('127.0.0.3', () => widgetTag(new URL(server.url).origin, ids));
    ids = await seedShop(server.url, { allowedOrigins: [shop.origin], centerNumber: '+14155550100', anis: [ani] });
    const wav = join(mkdtempSync(join(tmpdir(), 'webdial-mic-')), 'microphone.wav');
    writeToneWav(wav, MICROPHONE_TONE_HZ);
    browser = await launchChromium('fake', { microphoneWav: wav });
  });

  after(async () => {
    await browser?.close();
    await shop?.close();
    await server?.stop();
    if (lk) {
      const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
      for (const t of await sip.listSipOutboundTrunk().catch(() => []))
        if (t.address === `127.0.0.1:${sippPort}`) await sip.deleteSipTrunk(t.sipTrunkId).catch(() => undefined);
    }
  });

  const timeline = async (callId: string) =>
    (await admin(`query($c: ID!) { callTimeline(callId: $c) { type occurredAt data } }`, { c: callId })).callTimeline as Array<{ type: string; occurredAt: string; data: Record<string, any> }>;
  const placeCall = async (script: CallCenterScript, media: RtpEndpointOptions) => {
    const mediaPort = await freeUdpPort();
    const rtp = await startRtpEndpoint(mediaPort, media);
    const sipp = startSipp(sippPort, mediaPort, script);
    const { context, page, errors } = await shopperPage(browser);
    await page.addInitScript({ content: INSTRUMENT });
    await page.goto(`${shop.origin}/product/42`);
    await page.locator('[data-webdial] button.b').click();
    const box = page.locator('[data-webdial] .w');
    const callId = await eventually(async () => (await box.getAttribute('data-call-id')) ?? null, 15_000, 'the call id on the widget');
    const close = async () => {
      await sipp.stop();
      await rtp.close();
      await context.close();
    };
    return { sipp, rtp, page, errors, box, callId, close };
  };
  /** What the call center heard of the shopper, packet by packet: arrival time and RMS (dBFS). */
  const heardByCenter = (rtp: RtpEndpoint) => {
    const samples = rtp.samples();
    const arrivals = rtp.arrivals();
    return arrivals.map((a, k) => ({ at: a.at, db: rmsDbfs(samples.subarray(a.index, arrivals[k + 1]?.index ?? samples.length)) }));
  };
  const loudest = (packets: Array<{ at: number; db: number }>, from: number, to: number) =>
    Math.max(-120, ...packets.filter((p) => p.at >= from && p.at < to).map((p) => p.db));

  test('ringback until sipp answers; ##10 / ##11 keyed on the phone reach getSettings(); ##21 gates the shopper while the call center speaks, as the call center hears it; a busy line gets its tone', { timeout: 120_000 }, async (t) => {
    if (skipped) return skip(t);
    // US cadence (2 s on): sipp answers 1.2 s after its 180, within the first on-period.
    const SPEAKS_UNTIL_MS = 8000;
    const call = await placeCall(
      { kind: 'answer', ringMs: 1200, hangUpAfterMs: 11_000 },
      {
        toneHz: CENTER_TONE_HZ,
        toneWindows: [{ fromMs: 0, toMs: SPEAKS_UNTIL_MS }],
        dtmf: [
          { atMs: 1000, keys: ['#', '#', '1', '0'] },
          { atMs: 2600, keys: ['#', '#', '1', '1'] },
          { atMs: 4200, keys: ['#', '#', '2', '1'] },
        ],
      },
    );
    const { page, box, callId, rtp } = call;
    try {
      await page.locator('[data-webdial] .w[data-ringback="US"]').waitFor({ timeout: 20_000 });
      const ringing = await eventually(async () => {
        const o = await output(page);
        return o.level > 0.02 ? o : null;
      }, 5_000, 'the ringback heard while sipp rings');
      await box.and(page.locator('[data-state="answered"]')).waitFor({ timeout: 15_000 });
      await sleep(300);
      const o = await output(page);
      const answeredAt = Date.parse((await timeline(callId)).find((e) => e.type === 'CallAnswered')!.occurredAt);
      console.log(`# measured (PSTN): ringback RMS ${ringing.level.toFixed(3)}; last heard ${o.lastLoud - answeredAt} ms after CallAnswered was recorded`);
      assert.ok(o.lastLoud > answeredAt - 300, 'the tone was on when sipp answered (so its stop is measured)');
      assert.ok(o.lastLoud - answeredAt < 200, `stops within 200 ms of the answer: ${o.lastLoud - answeredAt} ms`);
      assert.ok(o.level < 0.005, `silent after the answer (RMS ${o.level})`);

      await eventually(async () => ((await micSettings(page))?.echoCancellation === false ? true : null), 15_000, 'getSettings().echoCancellation === false after ##10 keyed on the phone');
      await eventually(async () => ((await micSettings(page))?.echoCancellation === true ? true : null), 15_000, 'back to true after ##11');
      await page.locator('[data-webdial] .w[data-gate="closed"]').waitFor({ timeout: 15_000 });
      const gatedAt = Date.now();
      await page.evaluate(WATCH_GATE);
      await page.locator('[data-webdial] .w[data-gate="open"]').waitFor({ timeout: 15_000 });
      const watch = (await page.evaluate('window.__gateWatch')) as { lastAbove: number; openedAt: number; peakDb: number };
      console.log(`# measured (PSTN): the center's tone at the shopper ${watch.peakDb.toFixed(1)} dBFS; below -50 dBFS → gate open ${watch.openedAt - watch.lastAbove} ms later`);
      assert.ok(watch.openedAt - watch.lastAbove >= 250 && watch.openedAt - watch.lastAbove <= 500, `one hang time: ${watch.openedAt - watch.lastAbove} ms`);
      await box.and(page.locator('[data-state="terminated"]')).waitFor({ timeout: 30_000 });
      const result = await call.sipp.done;
      assert.equal(result.exitCode, 0, `sipp's call failed:\n${result.screen.slice(-2000)}`);
      // When sipp sent its 200 OK (its message log, local time of this machine): the SIP-level answer.
      const ok = /----------------------------------------------- (\S+ \S+)\s*\n\s*UDP message sent[^\n]*\n\n\s*SIP\/2\.0 200 OK/.exec(result.messages);
      if (ok) console.log(`# measured (PSTN): sipp's 200 OK → CallAnswered recorded ${answeredAt - Date.parse(ok[1]!.replace(' ', 'T'))} ms → ringback silent ${o.lastLoud - Date.parse(ok[1]!.replace(' ', 'T'))} ms`);

      // What the call center heard of the shopper's microphone: before suppression, while gated and
      // the center speaks, and after the center fell silent.
      const packets = heardByCenter(rtp);
      const silentAt = rtp.firstPacketAt + SPEAKS_UNTIL_MS;
      const before = loudest(packets, rtp.firstPacketAt + 2000, rtp.firstPacketAt + 4000);
      const gated = loudest(packets, gatedAt + 500, silentAt);
      const back = packets.find((p) => p.at > silentAt && p.db > SIGNAL_FLOOR_DBFS);
      console.log(
        `# measured (PSTN): at the call center, the shopper's microphone peaks at ${before.toFixed(1)} dBFS before ##21, ${gated.toFixed(1)} dBFS gated while the center speaks (${silentAt - gatedAt - 500} ms), back ${back ? back.at - silentAt : 'never'} ms after the center fell silent`,
      );
      assert.ok(before > SIGNAL_FLOOR_DBFS, `the call center hears the shopper before suppression: ${before} dBFS`);
      assert.ok(gated < SIGNAL_FLOOR_DBFS, `near silence at the call center while it speaks, suppression on: ${gated} dBFS`);
      // The center's silence reaches the shopper, then the hang time, then the shopper's audio comes back to the center (and the microphone file pauses 200 ms in 600).
      assert.ok(back && back.at - silentAt < 2000, `the shopper is heard again soon after the center fell silent: ${back ? back.at - silentAt : 'never'} ms`);

      const events = await timeline(callId);
      const commands = events.filter((e) => e.type === 'DtmfCommandRecognized').map((e) => [e.data.sequence, e.data.argument, e.data.source, e.data.accepted]);
      assert.deepEqual(commands, [['##10', 'ECHO_CANCELLATION:OFF', 'DTMF', true], ['##11', 'ECHO_CANCELLATION:ON', 'DTMF', true], ['##21', 'ECHO_SUPPRESSION:ON', 'DTMF', true]]);
      const applied = events.filter((e) => e.type === 'CallerMediaSettingsApplied').map((e) => [e.data.settings.echoCancellation, e.data.settings.echoSuppression, e.data.honoured]);
      assert.deepEqual(applied, [[false, false, true], [true, false, true], [true, true, true]]);
      assert.deepEqual(call.errors, []);
    } finally {
      await call.close();
    }

    // Busy: the ringback stops, the busy tone plays, the widget says the line is busy.
    const busy = await placeCall({ kind: 'busy', ringMs: 800 }, { toneHz: null });
    try {
      await busy.box
        .and(busy.page.locator('[data-state="terminated"]'))
        .waitFor({ timeout: 30_000 })
        .catch(async (e: Error) => {
          const r = await Promise.race([busy.sipp.stop().then(() => busy.sipp.done), sleep(5000).then(() => null)]);
          throw new Error(`${e.message}\nwidget: ${await busy.box.getAttribute('data-state')}; timeline: ${JSON.stringify((await timeline(busy.callId)).map((x) => [x.type, x.data.cause ?? '']))}\nsipp: ${r?.screen.slice(-1500) ?? 'still running'}`);
        });
      assert.equal(await busy.box.getAttribute('data-cause'), 'BUSY');
      assert.match((await busy.page.locator('[data-webdial] .s').textContent()) ?? '', /busy/);
      assert.equal(await busy.box.getAttribute('data-ringback'), null);
      assert.equal(await busy.box.getAttribute('data-end-tone'), 'busy');
      const heard = await eventually(async () => {
        const o = await output(busy.page);
        return o.level > 0.02 ? o : null;
      }, 3_000, 'the busy tone heard');
      console.log(`# measured (PSTN): busy tone RMS ${heard.level.toFixed(3)}`);
    } finally {
      await busy.close();
    }
  });
});
