import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { AccessToken, SipClient } from 'livekit-server-sdk';
import { createRtcRoomParticipant, disposeRtcNode } from '../../src/media/livekit/rtc-room-participant';
import type { Browser } from 'playwright-core';
import { gql, gqlRaw } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { serviceMissing } from '../support/services';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumMissing, launchChromium, recordRemoteAudio, shopperPage, startShop } from '../support/browser';
import { CENTER_TONE_HZ, describeReport, heardOnly, MICROPHONE_TONE_HZ, TONE_PRESENT, toneReport, toneShare, writeToneWav, SIGNAL_FLOOR_DBFS, rmsDbfs } from '../support/audio';
import { startRtpEndpoint, type RtpEndpoint, type RtpEndpointOptions } from '../support/rtp-endpoint';
import { liveKitModeEnv, realLiveKit, sippTrunkSetup, type RealLiveKit } from '../support/livekit-real';
import { freeUdpPort, sippAvailable, startSipp, type CallCenterScript } from '../support/sipp';
import { seedShop, widgetTag, type ShopIds } from '../support/shop-setup';

/**
 * A call with everything real: Debian's Chromium clicks the button on a shop page of another origin
 * (127.0.0.2), its fake microphone playing a 1000 Hz tone (a WAV); webdial creates the room and the
 * SIP participant; LiveKit SIP dials sipp, the call center behind an outbound trunk at 127.0.0.1,
 * which rings, answers and hangs up, while the test's RTP endpoint (named in sipp's SDP) plays a
 * 440 Hz tone and RFC 4733 DTMF. Each side checks that the other's tone arrived and its own did not
 * come back (Goertzel, test/support/audio.ts). Needs `npm run livekit:start` (CI starts it).
 *
 * WEBDIAL_TEST_MICROPHONE=silence makes the microphone a WAV of zeros: the first test must then fail
 * (it did; the output is in docs/livekit.md).
 */
describe('a real voice: Chromium, webdial, LiveKit, LiveKit SIP and sipp', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let server: ServerProcess;
  let browser: Browser;
  let shop: { origin: string; close(): Promise<void> };
  let ids: ShopIds;
  let sippPort = 0;
  let cleanUp = async (): Promise<void> => undefined;
  const ani = '+33100000101';
  const center = '+33100000001';
  const webdialOrigin = () => new URL(server.url).origin;
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
    const setup = sippTrunkSetup(lk, ani, 5);
    ({ sippPort, cleanUp } = setup);
    server = await startServer(setup.env);
    shop = await startShop('127.0.0.2', () => widgetTag(webdialOrigin(), ids));
    ids = await seedShop(server.url, { allowedOrigins: [shop.origin], centerNumber: center, anis: [ani], pushUrl: `${shop.origin}/pushed-offer` });
    const wav = join(mkdtempSync(join(tmpdir(), 'webdial-mic-')), 'microphone.wav');
    writeToneWav(wav, process.env.WEBDIAL_TEST_MICROPHONE === 'silence' ? null : MICROPHONE_TONE_HZ);
    browser = await launchChromium('fake', { microphoneWav: wav });
  });

  after(async () => {
    await disposeRtcNode(); // once: rtc-node cannot be used again in this process after it
    await browser?.close();
    await shop?.close();
    await server?.stop();
    await cleanUp(); // the trunks webdial created for this run's sipp port
  });

  const timeline = async (callId: string) =>
    (await admin(`query($c: ID!) { callTimeline(callId: $c) { type occurredAt data } }`, { c: callId })).callTimeline as Array<{ type: string; occurredAt: string; data: Record<string, unknown> }>;

  /** Opens the shop, clicks the button with sipp playing `script` (and the RTP endpoint `media`); returns what it saw. */
  const placeCall = async (script: CallCenterScript, media: RtpEndpointOptions = { toneHz: CENTER_TONE_HZ }) => {
    const mediaPort = await freeUdpPort();
    const rtp: RtpEndpoint = await startRtpEndpoint(mediaPort, media);
    const sipp = startSipp(sippPort, mediaPort, script);
    const stopSipp = sipp.stop;
    sipp.stop = async () => {
      await stopSipp();
      await rtp.close();
    };
    const { context, page, errors, consoleLines } = await shopperPage(browser);
    await page.goto(`${shop.origin}/product/42`);
    const button = page.locator('[data-webdial] button.b');
    await button.waitFor();
    const clickedAt = Date.now();
    await button.click();
    const box = page.locator('[data-webdial] .w');
    await eventually(async () => (await box.getAttribute('data-call-id')) ?? null, 15_000, 'the call id on the widget');
    const callId = (await box.getAttribute('data-call-id'))!;
    return { sipp, rtp, context, page, errors, consoleLines, clickedAt, box, callId };
  };

  /** The call's end as recorded: cause, by, SIP status, reason, talk seconds. */
  const endOf = async (callId: string) => {
    const ended = await eventually(async () => (await timeline(callId)).find((e) => e.type === 'CallTerminated'), 10_000, 'CallTerminated');
    return [ended.data.cause, ended.data.by, ended.data.sipStatus, ended.data.reason, ended.data.talkSeconds];
  };

  test('the shopper talks to the call center: ringing, answer, two-way audio, a DTMF page push, the agent hangs up', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    const { sipp, rtp, context, page, errors, consoleLines, clickedAt, box, callId } = await placeCall(
      { kind: 'answer', ringMs: 1500, hangUpAfterMs: 8000 },
      {
        toneHz: CENTER_TONE_HZ,
        // *76 pushes a page; 16 ("flash") is an RFC 4733 event but no DTMF key: refused.
        dtmf: [
          { atMs: 1500, keys: ['*', '7', '6'] },
          { atMs: 3000, keys: [16] },
        ],
      },
    );
    try {
      await box.and(page.locator('[data-state="ringing"]')).waitFor({ timeout: 15_000 });
      assert.match((await page.locator('[data-webdial] .s').textContent()) ?? '', /Ringing/);
      const mute = page.locator('[data-webdial] button.mute');
      assert.equal(await mute.isVisible(), false, 'no Mute button while ringing (issue 22: it always showed)');
      await box.and(page.locator('[data-state="answered"]')).waitFor({ timeout: 15_000 });
      await mute.waitFor({ state: 'visible', timeout: 5_000 });
      // The call center's 440 Hz reaches the shopper: polled in 300 ms recordings until it dominates.
      let centerHeardAt = 0;
      await eventually(
        async () => {
          const r = await recordRemoteAudio(page, 300);
          if (rmsDbfs(r.samples) > SIGNAL_FLOOR_DBFS && toneShare(r.samples, r.sampleRate, CENTER_TONE_HZ) >= TONE_PRESENT) centerHeardAt = Date.now();
          return centerHeardAt > 0;
        },
        10_000,
        `the call center's ${CENTER_TONE_HZ} Hz in the shopper's browser`,
      );
      // Then two seconds of what the shopper hears: the center's tone, and not the microphone's own
      // (nobody echoes it back).
      const heard = await recordRemoteAudio(page, 2000);
      const shopperHears = toneReport(heard.samples, heard.sampleRate, [CENTER_TONE_HZ, MICROPHONE_TONE_HZ]);
      assert.match((await page.locator('[data-webdial] .s').textContent()) ?? '', /Connected \d+:\d\d/);
      // The agent's *76 pushes a page, shown in the widget.
      const link = page.locator(`[data-webdial] .page a[href="${shop.origin}/pushed-offer"]`);
      await link.waitFor({ timeout: 10_000 });
      // Mute and unmute are the shopper's.
      await page.locator('[data-webdial] button.mute').click();
      assert.equal(await page.locator('[data-webdial] button.mute').getAttribute('aria-pressed'), 'true');
      await page.locator('[data-webdial] button.mute').click();
      // The agent hangs up: the widget says so.
      await box.and(page.locator('[data-state="terminated"]')).waitFor({ timeout: 20_000 });
      assert.equal(await box.getAttribute('data-cause'), 'HANGUP');
      assert.equal(await mute.isVisible(), false, 'no Mute button after the end');
      const result = await sipp.done;
      assert.equal(result.exitCode, 0, `sipp's call failed:\n${result.screen.slice(-2500)}`);
      // What the call center heard: the shopper's 1000 Hz microphone, and not its own 440 Hz back.
      const samples = rtp.samples();
      const centerHears = toneReport(samples, 8000, [MICROPHONE_TONE_HZ, CENTER_TONE_HZ]);
      console.log(`# the shopper heard: ${describeReport(shopperHears)}`);
      console.log(`# the call center heard: ${describeReport(centerHears)} (${rtp.packetsReceived} RTP packets in, ${rtp.packetsSent} out)`);
      assert.ok(heardOnly(shopperHears, CENTER_TONE_HZ, MICROPHONE_TONE_HZ), `the shopper must hear the center's ${CENTER_TONE_HZ} Hz and not the microphone's ${MICROPHONE_TONE_HZ} Hz: ${describeReport(shopperHears)}`);
      assert.ok(heardOnly(centerHears, MICROPHONE_TONE_HZ, CENTER_TONE_HZ), `the call center must hear the microphone's ${MICROPHONE_TONE_HZ} Hz and not its own ${CENTER_TONE_HZ} Hz: ${describeReport(centerHears)}`);
      // When the microphone's tone first reached the call center: the first 100 ms window where it dominates.
      const win = 800;
      let micHeardAt = 0;
      for (let i = 0; i + win <= samples.length && micHeardAt === 0; i += 160) {
        const w = samples.subarray(i, i + win);
        if (rmsDbfs(w) > SIGNAL_FLOOR_DBFS && toneShare(w, 8000, MICROPHONE_TONE_HZ) >= TONE_PRESENT) micHeardAt = rtp.arrivals().find((a) => a.index >= i + win - 160)?.at ?? 0;
      }

      const events = await timeline(callId);
      const types = events.map((e) => e.type);
      const order = ['CallDownloaded', 'CallerJoinedMedia', 'CallInitiated', 'CallRinging', 'CallAnswered', 'DtmfReceived', 'DtmfCommandRecognized', 'CallTerminated'];
      assert.deepEqual(types.filter((x, i) => order.includes(x) && types.indexOf(x) === i), order, `timeline: ${types.join(', ')}`);
      const digits = events.filter((e) => e.type === 'DtmfReceived').map((e) => e.data.digits);
      assert.deepEqual(digits, ['*', '7', '6'], 'the flash event (16) is refused, nothing recorded for it');
      const pushed = events.find((e) => e.type === 'DtmfCommandRecognized')!.data;
      assert.deepEqual([pushed.sequence, pushed.action, pushed.argument, pushed.accepted], ['*76', 'PUSH_PAGE', `${shop.origin}/pushed-offer`, true]);
      const ended = events.find((e) => e.type === 'CallTerminated')!.data;
      assert.deepEqual([ended.cause, ended.by, ended.sipStatus, ended.reason], ['HANGUP', 'CALLEE', 200, null]);
      assert.ok(Number(ended.talkSeconds) >= 6, `talk seconds ${ended.talkSeconds}`);
      assert.match(server.output(), /DTMF refused: RFC 4733 event 16/);
      // The charge for the talk time (30/6 increments: 10 + 6 × 30/60 rounded up).
      const charged = await eventually(async () => {
        const { call } = await admin(`query($c: ID!) { call(id: $c) { talkSeconds charge { amountMinor currency billableSeconds } } }`, { c: callId });
        return call?.charge ? call : null;
      }, 10_000, 'the charge');
      assert.equal(charged.charge.currency, 'EUR');
      assert.equal(charged.charge.billableSeconds, 30);
      assert.equal(charged.charge.amountMinor, 13);
      assert.deepEqual(errors, [], 'no console errors on the shop page');
      // The button writes nothing into the merchant's console (livekit-client is silent without data-debug).
      assert.deepEqual(consoleLines.filter((l) => /livekit|webdial|room|track/i.test(l)), [], 'the widget logged into the shop page');

      const answeredAt = Date.parse(events.find((e) => e.type === 'CallAnswered')!.occurredAt);
      console.log(
        `# measured: click → the agent's ring (sipp receives the INVITE) ${result.inviteAt! - clickedAt} ms; ` +
          `answer → the center's tone heard in the browser ${centerHeardAt - answeredAt} ms (polled in 300 ms recordings); ` +
          `answer → the microphone's tone at the call center ${micHeardAt - answeredAt} ms (LiveKit ${lk.serverVersion}, SIP ${lk.sipVersion})`,
      );
    } finally {
      await sipp.stop();
      await context.close();
    }
  });

  // The cause table (src/media/livekit/causes.ts) against the real LiveKit SIP, one row per answer
  // sipp can give. Each ends with sipp's own verdict: its scenario ran to the end (exit 0).
  const refusals: Array<{ name: string; script: CallCenterScript; widget: RegExp; end: unknown[] }> = [
    { name: 'busy (486): BUSY with the SIP status; the widget says the line is busy', script: { kind: 'busy', ringMs: 800 }, widget: /busy/, end: ['BUSY', 'CALLEE', 486, null, 0] },
    { name: 'decline (603): REJECTED with the SIP status', script: { kind: 'reject', ringMs: 800, status: '603 Decline' }, widget: /declined/, end: ['REJECTED', 'CALLEE', 603, null, 0] },
    {
      name: '503 from the trunk: FAILED, reason TRUNK_ERROR; the widget says the line could not be reached',
      script: { kind: 'reject', ringMs: 300, status: '503 Service Unavailable' },
      widget: /could not be reached/,
      end: ['FAILED', 'CALLEE', 503, 'TRUNK_ERROR', 0],
    },
  ];
  for (const r of refusals)
    test(r.name, { timeout: 90_000 }, async (t) => {
      if (skipped) return skip(t);
      const { sipp, context, box, page, callId } = await placeCall(r.script);
      try {
        await box.and(page.locator('[data-state="terminated"]')).waitFor({ timeout: 20_000 });
        assert.equal(await box.getAttribute('data-cause'), r.end[0]);
        assert.match((await page.locator('[data-webdial] .s').textContent()) ?? '', r.widget);
        assert.deepEqual(await endOf(callId), r.end);
        const result = await sipp.done;
        assert.equal(result.exitCode, 0, `sipp: ${result.screen.slice(-1500)}`);
        assert.equal(result.received.ACK, 1, 'LiveKit SIP ACKed the final response');
      } finally {
        await sipp.stop();
        await context.close();
      }
    });

  test('no answer: LiveKit gives up after the ringing timeout and the call ends as NO_ANSWER (and the 487 is never ACKed)', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    const { sipp, context, box, page, callId, clickedAt } = await placeCall({ kind: 'noAnswer' });
    try {
      await box.and(page.locator('[data-state="ringing"]')).waitFor({ timeout: 15_000 });
      await box.and(page.locator('[data-state="terminated"]')).waitFor({ timeout: 30_000 });
      const endedAfter = Date.now() - clickedAt;
      assert.equal(await box.getAttribute('data-cause'), 'NO_ANSWER');
      assert.match((await page.locator('[data-webdial] .s').textContent()) ?? '', /no answer/);
      const [cause, , sipStatus, reason, talk] = await endOf(callId);
      assert.deepEqual([cause, reason, talk], ['NO_ANSWER', null, 0]);
      assert.ok(sipStatus === null || sipStatus === 487, `SIP status ${String(sipStatus)}`);
      // sipp waits 20 s for the ACK of its 487, then ends its scenario either way (exit 0).
      const result = await sipp.done;
      assert.equal(result.exitCode, 0, `sipp: ${result.screen.slice(-1500)}`);
      assert.equal(result.received.CANCEL, 1, 'LiveKit SIP cancelled the INVITE at its ringing timeout');
      const acked = (result.received.ACK ?? 0) > 0;
      console.log(`# no answer: ended after ${endedAfter} ms; the 487 after LiveKit's CANCEL was ${acked ? '' : 'NOT '}ACKed (livekit-sip ${lk.sipVersion})`);
      // livekit-sip v1.8.0 never ACKs it (issue 22, docs/livekit.md): this line changes when the pin moves.
      if (lk.sipVersion === 'v1.8.0') assert.equal(acked, false, 'livekit-sip v1.8.0 ACKs the 487 now: update docs/livekit.md');
    } finally {
      await sipp.stop();
      await context.close();
    }
  });

  test('no response from the trunk (a dead trunk): FAILED with reason TRUNK_NO_RESPONSE, never NO_ANSWER; the widget says the line could not be reached', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    const { sipp, context, box, page, callId, clickedAt } = await placeCall({ kind: 'silent' });
    try {
      await box.and(page.locator('[data-state="terminated"]')).waitFor({ timeout: 60_000 });
      const endedAfter = Date.now() - clickedAt;
      assert.equal(await box.getAttribute('data-cause'), 'FAILED');
      assert.match((await page.locator('[data-webdial] .s').textContent()) ?? '', /could not be reached/);
      // Two timers race, both set to the ringing timeout: LiveKit SIP's (reported by the callee side)
      // and webdial's own supervisor's (SYSTEM). Whichever fires first records the end, and both
      // apply the same rule: no 18x, so FAILED with TRUNK_NO_RESPONSE, never NO_ANSWER.
      const [cause, by, sipStatus, reason, talk] = (await endOf(callId)) as [string, string, number | null, string, number];
      assert.deepEqual([cause, sipStatus, reason, talk], ['FAILED', null, 'TRUNK_NO_RESPONSE', 0]);
      assert.ok(by === 'CALLEE' || by === 'SYSTEM', `ended by ${by}`);
      assert.equal((await timeline(callId)).some((e) => e.type === 'CallRinging'), false, 'it never rang');
      const result = await sipp.done;
      assert.equal(result.exitCode, 0, `sipp: ${result.screen.slice(-1500)}`);
      console.log(`# no response: ended after ${endedAfter} ms; sipp received ${JSON.stringify(result.received)}`);
    } finally {
      await sipp.stop();
      await context.close();
    }
  });

  test('the shopper hangs up with the button: LiveKit SIP sends the BYE to the call center', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    const { sipp, context, box, page, callId } = await placeCall({ kind: 'answerUntilBye', ringMs: 300 });
    try {
      await box.and(page.locator('[data-state="answered"]')).waitFor({ timeout: 15_000 });
      await page.waitForTimeout(1500);
      await page.locator('[data-webdial] button.b').click(); // "Hang up"
      await box.and(page.locator('[data-state="terminated"]')).waitFor({ timeout: 10_000 });
      const result = await sipp.done; // sipp's scenario ends only after it received the BYE and answered it
      assert.equal(result.exitCode, 0, result.screen.slice(-2000));
      const [cause, by] = await endOf(callId);
      assert.deepEqual([cause, by], ['HANGUP', 'CALLER']);
    } finally {
      await sipp.stop();
      await context.close();
    }
  });

  test('a denied microphone fails clearly, and no call is placed', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    const denying = await launchChromium('denied');
    try {
      const { page } = await shopperPage(denying, { denyMicrophone: true });
      await page.goto(`${shop.origin}/product/7`);
      await page.locator('[data-webdial] button.b').click();
      const box = page.locator('[data-webdial] .w');
      await box.and(page.locator('[data-state="failed"]')).waitFor({ timeout: 15_000 });
      assert.match((await page.locator('[data-webdial] .s').textContent()) ?? '', /Microphone access was denied/);
      const callId = (await box.getAttribute('data-call-id'))!;
      const types = (await timeline(callId)).map((e) => e.type);
      assert.deepEqual(types, ['CallDownloaded', 'CallTerminated'], 'downloaded, then hung up: never joined, never dialled');
    } finally {
      await denying.close();
    }
  });

  test('the room join: once per call token; a forged or expired call token and a forged LiveKit token are refused, nothing changes', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    const { recordDownload } = await gql(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken media { provider url room token } } }`, {
      i: { merchantId: ids.merchant, linkId: ids.link, pageUrl: `${shop.origin}/p/1` },
    });
    assert.equal(recordDownload.media.provider, 'livekit');
    assert.equal(recordDownload.media.token, null, 'the room token is only given by joinMedia');
    const join = `mutation($t: String!) { joinMedia(callToken: $t) { provider url room token } }`;
    const code = async (tok: string) => (await gqlRaw(server.url, join, { t: tok })).errors?.[0]?.extensions?.code;
    const forged = recordDownload.callToken.replace(/.$/, (c: string) => (c === 'A' ? 'B' : 'A'));
    assert.equal(await code(forged), 'UNAUTHENTICATED');
    assert.equal(await code('v1.eyJjIjoiYyIsIm0iOiJtIiwiZSI6MX0.bad'), 'UNAUTHENTICATED');
    const { joinMedia } = await gql(server.url, join, { t: recordDownload.callToken });
    assert.equal(joinMedia.room, `call-${recordDownload.callId}`);
    assert.equal(await code(recordDownload.callToken), 'CONFLICT', 'a second join with the same token');

    // The real LiveKit accepts the token we issued and refuses a tampered one.
    const tampered = createRtcRoomParticipant(joinMedia.url);
    const [h, p, s] = (joinMedia.token as string).split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    claims.video.room = 'call-someone-else';
    await assert.rejects(tampered.connect('call-someone-else', `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`));
    assert.deepEqual((await timeline(recordDownload.callId)).map((e) => e.type), ['CallDownloaded', 'CallerJoinedMedia'], 'refusals changed nothing');
    const real = createRtcRoomParticipant(joinMedia.url);
    await real.connect(joinMedia.room, joinMedia.token);
    await real.disconnect();
    // The caller leaving its room is a hang-up (LiveKit's participant_left webhook).
    const ended = await eventually(async () => (await timeline(recordDownload.callId)).find((e) => e.type === 'CallTerminated'), 15_000, 'the caller-left webhook');
    assert.deepEqual([ended.data.cause, ended.data.by], ['HANGUP', 'CALLER']);
    assert.equal((await timeline(recordDownload.callId)).filter((e) => e.type === 'CallerJoinedMedia').length, 1);
  });

  test('a second webdial process of the deployment finds the outbound trunk by name: one trunk, not two (issue 22)', { timeout: 60_000 }, async (t) => {
    if (skipped) return skip(t);
    const second = await startServer({
      ...liveKitModeEnv(lk),
      PORT: '0', // the webhook port is the first process's
      LIVEKIT_SIP_TRUNK_ADDRESS: `127.0.0.1:${sippPort}`,
      LIVEKIT_SIP_TRUNK_NUMBERS: ani,
    });
    try {
      await eventually(async () => /LiveKit outbound trunk found by name: reused/.test(second.output()), 15_000, "the second process's trunk look-up");
      const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
      const named = (await sip.listSipOutboundTrunk()).filter((tr) => tr.name === 'webdial');
      assert.deepEqual(named.map((tr) => tr.address), [`127.0.0.1:${sippPort}`]);
    } finally {
      await second.stop();
    }
  });

  test("after all these calls, the server's log has no deleteRoom warning and no rtc-node debug line (LOG_LEVEL=info)", async (t) => {
    if (skipped) return skip(t);
    const lines = server.output().split('\n');
    assert.deepEqual(lines.filter((l) => /deleteRoom failed/.test(l)), []);
    assert.deepEqual(lines.filter((l) => /"name":"lk-rtc"/.test(l) && /"level":(10|20)\b/.test(l)), []);
    console.log(`# deleteRoom raced the room's own close (info, no warning) ${lines.filter((l) => /deleteRoom raced/.test(l)).length} time(s) in this run`);
  });

  test('a correctly signed LiveKit webhook about a call webdial does not know is acknowledged and ignored', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    // A participant joins and leaves a room named like ours, for a call that does not exist: the real
    // livekit-server signs and posts participant_joined/left (and room_*) to webdial.
    const callId = `c_unknown${Date.now()}`;
    const room = `call-${callId}`;
    const at = new AccessToken(lk.apiKey, lk.apiSecret, { identity: `pstn-${callId}`, ttl: 60 });
    at.addGrant({ roomJoin: true, room });
    const p = createRtcRoomParticipant(lk.wsUrl);
    await p.connect(room, await at.toJwt());
    await p.disconnect();
    await eventually(async () => /"outcome":"unknown call: ignored"/.test(server.output()), 15_000, 'the webhook about the unknown call');
    assert.doesNotMatch(server.output(), /LiveKit webhook failed/);
    // A webhook with a bad signature is refused.
    const res = await fetch(`${webdialOrigin()}/webhooks/livekit`, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json', authorization: 'eyJhbGciOiJIUzI1NiJ9.e30.bad' },
      body: JSON.stringify({ event: 'participant_left', room: { name: room } }),
    });
    assert.equal(res.status, 401);
  });
});
