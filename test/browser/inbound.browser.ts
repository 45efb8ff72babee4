import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SipClient } from 'livekit-server-sdk';
import type { Browser, Page } from 'playwright-core';
import { gql } from '../../src/cli/client';
import { removeInboundRouting } from '../../src/media/livekit/inbound-routing';
import { ADMIN_KEY, eventually, startServer, type ServerProcess } from '../support/server';
import { serviceMissing } from '../support/services';
import { browserAudioStats, chromiumMissing, launchChromium, recordPeerConnections } from '../support/browser';
import { screenshot } from '../support/pages-browser';
import { liveKitModeEnv, realLiveKit, webhookPortFree, type RealLiveKit } from '../support/livekit-real';
import { setupMerchant } from '../support/merchant';
import { startRtpEndpoint, type RtpEndpoint, type RtpEndpointOptions } from '../support/rtp-endpoint';
import { freeUdpPort, sippAvailable, startSippPhone, type SippPhone } from '../support/sipp';
import { CENTER_TONE_HZ, MICROPHONE_TONE_HZ, describeReport, toneReport, writeToneWav, TONE_PRESENT } from '../support/audio';

/**
 * Issue 23 the user's way: a phone dials a merchant's number. The phone is sipp (Debian's sip-tester,
 * test/support/sipp.ts's `startSippPhone`, a UAC sending from the carrier's address) for the SIP, and
 * test/support/rtp-endpoint.ts for its media (a 440 Hz tone and one RFC 4733 digit out, every sample
 * in), named in sipp's SDP offer. The agent console in Chromium (an AGENT key, a fake microphone
 * playing 1000 Hz) rings with the inbound screen pop while sipp has had no final response; the agent
 * clicks Answer, and LiveKit SIP sends sipp its 200 OK. Audio is measured both ways: the console page's
 * own RTCPeerConnection stats (the phone's audio arriving), and the RTP the phone receives (the
 * console's tone in it, by Goertzel). The phone's digit shows in the console's log. sipp sends its BYE
 * `TALK_MS` after its ACK, which ends the call in the console, by the caller; sipp's exit status 0
 * says its scenario ran to the end (the BYE answered 200). The call is charged.
 * The other end: a second call (another number and caller) answered the same way, then the agent
 * clicks Hang up: webdial records HANGUP by CALLEE and deletes the room, and LiveKit SIP sends the
 * phone a BYE (sipp `hangUp: 'remote'`: after its ACK it waits for a BYE and answers 200, so its exit
 * status 0 says the BYE came); the call is charged too. webdial in LiveKit mode against the real
 * livekit-server + SIP (`npm run livekit:start`), keeping the inbound trunk.
 */
describe('an inbound phone call answered in the agent console (Chromium) over the real LiveKit SIP', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let server: ServerProcess;
  let browser: Browser;
  const phones: SippPhone[] = [];
  const rtps: RtpEndpoint[] = [];
  const carrier = '127.0.0.1';
  // The phone's time in the call, ACK to BYE: longer than the audio and DTMF checks take (about 4 s here).
  const TALK_MS = 15_000;
  // How soon after the agent's Hang up the phone must have its BYE (LiveKit SIP sends it as the room goes: 40–70 ms here).
  const BYE_WITHIN_MS = 10_000;
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit SIP, Chromium and sipp', skipped);
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);

  before(async () => {
    const found = await realLiveKit();
    const missing = typeof found === 'string' ? found : (chromiumMissing() ?? sippAvailable());
    if (missing) {
      skipped = missing;
      return;
    }
    lk = found as RealLiveKit;
    await webhookPortFree(lk);
    server = await startServer({
      ...liveKitModeEnv(lk),
      // Required in LiveKit mode, never used here: a browser center dials nothing.
      LIVEKIT_SIP_TRUNK_ADDRESS: '127.0.0.1:5999',
      LIVEKIT_SIP_TRUNK_NUMBERS: '+33100000101',
      LIVEKIT_SIP_INBOUND_ALLOWED_ADDRESSES: `${carrier}/32`,
    });
    const wav = join(mkdtempSync(join(tmpdir(), 'webdial-inbound-')), 'microphone.wav');
    writeToneWav(wav, MICROPHONE_TONE_HZ);
    browser = await launchChromium('fake', { microphoneWav: wav });
  });
  after(async () => {
    for (const phone of phones) await phone.stop();
    for (const rtp of rtps) await rtp.close();
    await browser?.close();
    await server?.stop();
    if (lk) await removeInboundRouting(new SipClient(lk.url, lk.apiKey, lk.apiSecret), 'webdial-inbound').catch(() => undefined);
  });

  /**
   * A merchant (a BROWSER center, inbound calls rated 120/min) holding `did`, its agent signed in to
   * the console in Chromium; the phone (sipp, `hangUp` as given) dials `did` as `caller`, its media
   * through an RTP endpoint playing 440 Hz (and `dtmf`); the console rings with the inbound pop while
   * the phone has had 180 and no final response (the pop saved as the screenshot `shot`, if named);
   * the agent clicks Answer, the phone gets its 200 OK and the console shows ANSWERED.
   */
  const answeredInConsole = async (o: {
    did: string;
    caller: string;
    phone: { hangUp: 'phone'; talkMs: number } | { hangUp: 'remote' };
    dtmf?: RtpEndpointOptions['dtmf'];
    shot?: string;
  }) => {
    const { did, caller } = o;
    const m = await setupMerchant(server.url, 'Phone shop', 5);
    await admin(`mutation($c: ID!) { setCallCenterKind(callCenterId: $c, kind: BROWSER) { kind } }`, { c: m.centerId });
    await admin(
      `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "EUR", connectionFeeMinor: 5, ratePerMinuteMinor: 60, inboundRatePerMinuteMinor: 120, firstIncrementSeconds: 60, nextIncrementSeconds: 60 }) }`,
      { m: m.merchantId },
    );
    await gql(server.url, `mutation($i: DidInput!) { assignDid(input: $i) { number } }`, { i: { merchantId: m.merchantId, number: did, callCenterId: m.centerId } }, m.merchantKey);
    const agentKey = (await admin(`mutation($m: ID, $c: ID) { createApiKey(role: AGENT, merchantId: $m, callCenterId: $c) { key } }`, { m: m.merchantId, c: m.centerId })).createApiKey.key as string;
    await eventually(async () => (await new SipClient(lk.url, lk.apiKey, lk.apiSecret).listSipInboundTrunk()).some((x) => x.name === 'webdial-inbound' && x.numbers.includes(did)) || null, 10_000, `the trunk lists ${did}`);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await recordPeerConnections(context);
    const agent: Page = await context.newPage();
    const errors: string[] = [];
    agent.on('pageerror', (e) => errors.push(e.message));
    await agent.goto(`${new URL(server.url).origin}/console`);
    await agent.fill('#api-key', agentKey);
    await agent.keyboard.press('Enter');
    await agent.getByTestId('signed-in').waitFor();
    await agent.getByTestId('waiting').waitFor();

    // The phone dials; the console rings with the inbound pop.
    const rtpPort = await freeUdpPort();
    const rtp = await startRtpEndpoint(rtpPort, { toneHz: CENTER_TONE_HZ, dtmf: o.dtmf ?? [] });
    rtps.push(rtp);
    const dialledAt = Date.now();
    const phone = await startSippPhone({ fromAddress: carrier, server: { host: '127.0.0.1', port: lk.sipPort }, did, caller, mediaPort: rtpPort, timeoutMs: 100_000, ...o.phone });
    phones.push(phone);
    await agent.locator('[data-testid=call-state]', { hasText: 'RINGING' }).waitFor({ timeout: 30_000 });
    const ringMs = Date.now() - dialledAt;
    assert.equal((await agent.getByTestId('caller-id').innerText()).trim(), caller);
    assert.equal((await agent.getByTestId('did').innerText()).trim(), did);
    assert.match(await agent.getByTestId('caller').innerText(), /a phone: first call from this number/);
    assert.match(await agent.getByTestId('call-item').first().innerText(), new RegExp(`Phone call in · \\${caller}`));
    const shot = o.shot ? await screenshot(agent, o.shot) : null;
    assert.ok(phone.running() && phone.statuses().includes(180) && !phone.statuses().some((s) => s >= 200), `the phone still rings (sipp runs, 180, no final response): ${phone.statuses().join(' ')}`);

    // Answer: the console joins the room and publishes its microphone; LiveKit SIP answers the phone.
    const answeredAt = Date.now();
    await agent.click('button:text-is("Answer")');
    const okAt = await phone.answered;
    if (okAt === null) assert.fail(`the phone is answered: ${phone.statuses().join(' ')}\n${(await phone.done).screen.slice(-2500)}`);
    const okMs = okAt - answeredAt;
    await agent.locator('[data-testid=call-state]', { hasText: 'ANSWERED' }).waitFor({ timeout: 30_000 });
    return { merchantId: m.merchantId, context, agent, errors, phone, rtp, ringMs, okMs, answeredAt, shot };
  };
  /** The console heard the phone: its inbound-rtp packets and audio energy (and its own outbound packets). */
  const consoleHearsThePhone = (agent: Page) =>
    eventually(async () => {
      const s = await browserAudioStats(agent);
      return s.inboundPackets > 50 && s.inboundEnergy > 0.01 && s.outboundPackets > 50 ? s : null;
    }, 30_000, "the console receives the phone's audio");
  /** The charge of the merchant's call from `caller`, once billed. */
  const chargeOf = async (merchantId: string, caller: string) => {
    const callId = (await admin(`query($m: ID) { calls(filter: { merchantId: $m }, first: 5) { edges { node { id ani } } } }`, { m: merchantId })).calls.edges.find(
      (e: { node: { ani: string } }) => e.node.ani === caller,
    ).node.id as string;
    const charge = await eventually(async () => (await admin(`query($c: ID!) { call(id: $c) { charge { amountMinor currency direction } } }`, { c: callId })).call?.charge ?? null, 20_000, 'the charge');
    return { callId, charge };
  };

  test('the console rings with the caller and the number dialled; Answer → 200 OK, each end hears the other, the digit in the log, the BYE ends it, charged', { timeout: 150_000 }, async (t) => {
    if (skipped) return skip(t);
    const caller = '+33612347001';
    const { merchantId, context, agent, errors, phone, rtp, ringMs, okMs, answeredAt, shot } = await answeredInConsole({
      did: '+33100000701',
      caller,
      phone: { hangUp: 'phone', talkMs: TALK_MS },
      dtmf: [{ atMs: 3000, keys: ['5'] }],
      shot: 'console-inbound-pop',
    });

    // The console hears the phone: its inbound-rtp packets and audio energy grow.
    const heardByConsole = await consoleHearsThePhone(agent);
    const twoWayMs = Date.now() - answeredAt;
    // The phone hears the console: the fake microphone's 1000 Hz in the RTP it receives.
    await new Promise((r) => setTimeout(r, 2500));
    const phoneHeard = toneReport(rtp.samples(), 8000, [CENTER_TONE_HZ, MICROPHONE_TONE_HZ]);
    assert.ok(phoneHeard.loudSeconds >= 1 && phoneHeard.share[MICROPHONE_TONE_HZ]! > TONE_PRESENT, `the phone hears the console's tone: ${describeReport(phoneHeard)}`);
    const later = await browserAudioStats(agent);
    assert.ok(later.inboundEnergy > heardByConsole.inboundEnergy, `the phone's audio keeps coming: ${JSON.stringify([heardByConsole, later])}`);

    // The phone's digit (3 s into its media) shows in the console's log; never as a command.
    await agent.locator('[data-testid=call-log] li', { hasText: 'DtmfReceived: 5' }).waitFor({ timeout: 20_000 });

    assert.ok(!phone.messages().some((x) => x.cseq.endsWith('BYE')), `the checks above ran before the phone's BYE (TALK_MS ${TALK_MS} ms is too short)`);

    // The phone hangs up (sipp's BYE, TALK_MS after its ACK): the call ends in the console, by the caller, with a charge.
    const byeAt = await phone.byeSent;
    if (byeAt === null) assert.fail(`the phone sent its BYE:\n${(await phone.done).screen.slice(-2500)}`);
    await agent.locator('[data-testid=call-state]', { hasText: 'TERMINATED' }).waitFor({ timeout: 30_000 });
    const endMs = Date.now() - byeAt;
    const sipp = await phone.done;
    assert.equal(sipp.exitCode, 0, `sipp's phone scenario ran to its end (BYE answered 200):\n${sipp.screen.slice(-2500)}`);
    assert.ok(sipp.messages.some((x) => x.direction === 'received' && x.cseq.endsWith('BYE') && x.status === 200), 'the BYE answered 200');
    await agent.locator('[data-testid=call-log] li', { hasText: 'CallTerminated: HANGUP by CALLER' }).waitFor({ timeout: 10_000 });
    assert.equal(await agent.locator('[data-testid=call-log] li', { hasText: 'DtmfCommandRecognized' }).count(), 0, 'a caller digit is never an agent command');
    const { charge } = await chargeOf(merchantId, caller);
    assert.deepEqual(charge, { amountMinor: 125, currency: 'EUR', direction: 'INBOUND' }, 'rated at the inbound 120/min');
    assert.deepEqual(errors, [], 'no page errors in the console');
    console.log(
      `# measured: dial → the console rings ${ringMs} ms; Answer click → the phone's 200 OK ${okMs} ms, → the console hears the phone ${twoWayMs} ms ` +
        `(inbound-rtp ${heardByConsole.inboundPackets} packets, totalAudioEnergy ${heardByConsole.inboundEnergy.toFixed(4)} → ${later.inboundEnergy.toFixed(4)}); ` +
        `the phone heard ${describeReport(phoneHeard)}; sipp's BYE (${TALK_MS} ms after its ACK) → TERMINATED in the console ${endMs} ms; ` +
        `sipp received ${sipp.messages.filter((x) => x.direction === 'received').map((x) => `${x.status} (${x.cseq})`).join(', ')}; pop screenshot ${shot}`,
    );
    await context.close();
  });

  test("the agent's Hang up ends an answered call: the phone receives a BYE and answers 200, TERMINATED by the callee, charged", { timeout: 120_000 }, async (t) => {
    if (skipped) return skip(t);
    const caller = '+33612347002';
    const { merchantId, context, agent, errors, phone, ringMs, okMs } = await answeredInConsole({ did: '+33100000702', caller, phone: { hangUp: 'remote' } });
    await consoleHearsThePhone(agent); // the two ends talk before the agent hangs up

    // The agent hangs up: webdial records the end by the callee and deletes the room; LiveKit SIP sends the phone its BYE.
    assert.ok(phone.running() && !phone.messages().some((x) => x.cseq.endsWith('BYE')), `no BYE either way before the agent's Hang up: ${phone.messages().map((x) => x.firstLine).join(' | ')}`);
    const hangUpAt = Date.now();
    await agent.click('button:text-is("Hang up")');
    const byeAt = await eventually(
      async () => phone.messages().find((x) => x.direction === 'received' && x.firstLine.startsWith('BYE '))?.at,
      BYE_WITHIN_MS,
      "a BYE at the phone after the agent's Hang up",
    ).catch((e: Error) => assert.fail(`${e.message}; the phone's SIP so far: ${phone.messages().map((x) => `${x.direction} ${x.firstLine}`).join(' | ')}`));
    const byeMs = byeAt - hangUpAt;
    await agent.locator('[data-testid=call-state]', { hasText: 'TERMINATED' }).waitFor({ timeout: 30_000 });
    const terminatedMs = Date.now() - hangUpAt;
    const sipp = await phone.done;
    assert.equal(sipp.exitCode, 0, `sipp's phone scenario ran to its end (the BYE received, answered 200):\n${sipp.screen.slice(-2500)}`);
    assert.ok(sipp.messages.some((x) => x.direction === 'sent' && x.cseq.endsWith('BYE') && x.status === 200), 'the phone answered the BYE 200');
    assert.ok(!sipp.messages.some((x) => x.direction === 'sent' && x.cseq.endsWith('BYE') && x.status === null), 'the phone sent no BYE of its own');
    await agent.locator('[data-testid=call-log] li', { hasText: 'CallTerminated: HANGUP by CALLEE' }).waitFor({ timeout: 10_000 });
    const { callId, charge } = await chargeOf(merchantId, caller);
    const ended = (await admin(`query($c: ID!) { call(id: $c) { state terminatedBy terminationCause } }`, { c: callId })).call;
    assert.deepEqual(ended, { state: 'TERMINATED', terminatedBy: 'CALLEE', terminationCause: 'HANGUP' }, 'the call ended by the agent');
    assert.deepEqual(charge, { amountMinor: 125, currency: 'EUR', direction: 'INBOUND' }, 'an answered inbound call, rated at 120/min');
    assert.deepEqual(errors, [], 'no page errors in the console');
    console.log(
      `# measured: dial → the console rings ${ringMs} ms; Answer click → the phone's 200 OK ${okMs} ms; Hang up click → the BYE at the phone ${byeMs} ms, ` +
        `→ TERMINATED in the console ${terminatedMs} ms; sipp received ${sipp.messages.filter((x) => x.direction === 'received').map((x) => `${x.firstLine.startsWith('SIP/') ? x.status : x.firstLine.split(' ')[0]} (${x.cseq})`).join(', ')}`,
    );
    await context.close();
  });
});
