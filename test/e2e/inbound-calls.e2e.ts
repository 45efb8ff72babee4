import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { SipClient } from 'livekit-server-sdk';
import type { Room } from '@livekit/rtc-node';
import { gql, gqlRaw } from '../../src/cli/client';
import { removeInboundRouting } from '../../src/media/livekit/inbound-routing';
import { ADMIN_KEY, collect, eventually, startServer, wsClient, type ServerProcess } from '../support/server';
import { serviceMissing } from '../support/services';
import { liveKitModeEnv, realLiveKit, webhookPortFree, type RealLiveKit } from '../support/livekit-real';
import { setupMerchant, type TestMerchant } from '../support/merchant';
import { callDid, type UacCall } from '../support/sip-uac';
import { startRtpEndpoint, type RtpEndpoint } from '../support/rtp-endpoint';
import { freeUdpPort } from '../support/sipp';
import { CENTER_TONE_HZ, MICROPHONE_TONE_HZ, toneReport, describeReport, TONE_PRESENT } from '../support/audio';

/**
 * Issue 23, a phone calling a merchant's number, end to end: the real webdial server in LiveKit mode
 * (it keeps the inbound trunk's numbers in step with its DIDs), the real livekit-server + SIP
 * (`npm run livekit:start`), a phone (test/support/sip-uac.ts's `callDid`, its RTP endpoint sending a
 * 440 Hz tone and one RFC 4733 digit), and an agent in the call's room (@livekit/rtc-node, joining
 * with agentMediaJoin's token and publishing a 1000 Hz tone, as the console does). Everything is
 * asserted through GraphQL, as a CRM or an agent sees it.
 */
describe('inbound calls end to end: a phone dials a DID, the call rings, an agent answers, DTMF, BYE, billed', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let server: ServerProcess | null = null;
  const carrier = '127.0.0.1';
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit SIP', skipped);
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(server!.url, q, v, ADMIN_KEY);
  const rtc = () => require('@livekit/rtc-node') as typeof import('@livekit/rtc-node');
  let rtcLoaded = false;

  /** A webdial in LiveKit mode on LiveKit's webhook port, keeping the inbound trunk (`webdial-inbound`). */
  const boot = async (ringingTimeoutSeconds: number) => {
    await webhookPortFree(lk);
    server = await startServer({
      ...liveKitModeEnv(lk),
      // Required in LiveKit mode, never used here: a browser center dials nothing.
      LIVEKIT_SIP_TRUNK_ADDRESS: '127.0.0.1:5999',
      LIVEKIT_SIP_TRUNK_NUMBERS: '+33100000101',
      LIVEKIT_SIP_INBOUND_ALLOWED_ADDRESSES: `${carrier}/32`,
      WEBDIAL_RINGING_TIMEOUT: String(ringingTimeoutSeconds),
    });
  };
  const stop = async () => {
    await server?.stop();
    server = null;
  };

  /** A merchant whose center takes calls in consoles (BROWSER), with a plan rating inbound minutes apart, and `did` on the center. */
  const browserMerchant = async (name: string, capacity: number, did: string) => {
    const m = await setupMerchant(server!.url, name, capacity);
    await admin(`mutation($c: ID!) { setCallCenterKind(callCenterId: $c, kind: BROWSER) { kind } }`, { c: m.centerId });
    // Outbound: 5 + 60/min; inbound: 5 + 120/min, a first increment of a minute: a short inbound call costs 125.
    await admin(
      `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "EUR", connectionFeeMinor: 5, ratePerMinuteMinor: 60, inboundRatePerMinuteMinor: 120, firstIncrementSeconds: 60, nextIncrementSeconds: 60 }) }`,
      { m: m.merchantId },
    );
    await gql(server!.url, `mutation($i: DidInput!) { assignDid(input: $i) { number } }`, { i: { merchantId: m.merchantId, number: did, callCenterId: m.centerId } }, m.merchantKey);
    return m;
  };
  const key = async (m: TestMerchant, role: 'AGENT' | 'CRM') =>
    (await admin(`mutation($r: Role!, $m: ID, $c: ID) { createApiKey(role: $r, merchantId: $m, callCenterId: $c) { key } }`, { r: role, m: m.merchantId, c: role === 'AGENT' ? m.centerId : null })).createApiKey
      .key as string;
  /** The inbound trunk lists `did` (webdial updated it when assignDid answered). */
  const trunkLists = (did: string) =>
    eventually(async () => (await new SipClient(lk.url, lk.apiKey, lk.apiSecret).listSipInboundTrunk()).some((t) => t.name === 'webdial-inbound' && t.numbers.includes(did)) || null, 10_000, `the trunk lists ${did}`);

  const phones: Array<{ call: UacCall; rtp: RtpEndpoint }> = [];
  /** A phone calling `did` from `caller`: its RTP sends 440 Hz, and keys 5 1.5 s after the first packet it receives. */
  const phone = async (did: string, caller: string, timeoutMs = 60_000) => {
    const rtpPort = await freeUdpPort();
    const rtp = await startRtpEndpoint(rtpPort, { toneHz: CENTER_TONE_HZ, dtmf: [{ atMs: 1500, keys: ['5'] }] });
    const call = await callDid({ fromAddress: carrier, server: { host: '127.0.0.1', port: lk.sipPort }, did, caller, mediaPort: rtpPort, timeoutMs });
    phones.push({ call, rtp });
    return { call, rtp };
  };

  const CALL = `query($c: ID!) { call(id: $c) { id state direction ani did media callCenterId answeredAt terminatedBy terminationCause talkSeconds charge { amountMinor billableSeconds currency direction } } }`;
  const callOf = async (callId: string) => (await admin(CALL, { c: callId })).call as Record<string, any> | null;
  const callsOf = async (m: TestMerchant) =>
    ((await admin(`query($m: ID) { calls(filter: { merchantId: $m }, first: 50) { edges { node { id state ani did direction } } } }`, { m: m.merchantId })).calls.edges as Array<{ node: Record<string, any> }>).map((e) => e.node);
  /** The merchant's call from `caller`, once it rings or was refused (InboundCallReceived alone shows INITIATED, the next event comes in the same append but the read side may show it apart). */
  const callFrom = (m: TestMerchant, caller: string) =>
    eventually(async () => (await callsOf(m)).find((c) => c.ani === caller && c.state !== 'INITIATED') ?? null, 20_000, `the call from ${caller} ringing or refused`);
  const timelineOf = async (callId: string) => (await admin(`query($c: ID!) { callTimeline(callId: $c) { type data } }`, { c: callId })).callTimeline as Array<{ type: string; data: Record<string, any> }>;
  const ended = (callId: string, timeoutMs = 20_000) =>
    eventually(async () => {
      const c = await callOf(callId);
      return c?.state === 'TERMINATED' ? c : null;
    }, timeoutMs, `call ${callId} terminated`);
  const metric = async (outcome: string) => {
    const text = await (await fetch(server!.url.replace(/\/graphql$/, '/metrics'))).text();
    return Number(new RegExp(`^webdial_inbound_calls_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  /**
   * The agent's console in the room, as rtc-node: joins with agentMediaJoin's token (the key's), listens to
   * the caller, and publishes a microphone that plays `MICROPHONE_TONE_HZ`. Returns the room and what it heard.
   */
  const agentJoins = async (callId: string, agentKey: string) => {
    const join = (await gql(server!.url, `query($c: ID!) { agentMediaJoin(callId: $c) { provider url room token } }`, { c: callId }, agentKey)).agentMediaJoin;
    assert.equal(join.room, `call-${callId}`);
    const lib = rtc();
    rtcLoaded = true;
    const room: Room = new lib.Room();
    await room.connect(join.url, join.token, { autoSubscribe: true, dynacast: false });
    const source = new lib.AudioSource(48_000, 1);
    const track = lib.LocalAudioTrack.createAudioTrack('microphone', source);
    let playing = true;
    const play = (async () => {
      const n = 480; // 10 ms
      let phase = 0;
      while (playing) {
        const data = new Int16Array(n);
        for (let i = 0; i < n; i++, phase += (2 * Math.PI * MICROPHONE_TONE_HZ) / 48_000) data[i] = Math.round(0.25 * 32767 * Math.sin(phase));
        await source.captureFrame(new lib.AudioFrame(data, 48_000, 1, n));
      }
    })();
    return {
      room,
      publish: () => room.localParticipant!.publishTrack(track, new lib.TrackPublishOptions({ source: lib.TrackSource.SOURCE_MICROPHONE })),
      leave: async () => {
        playing = false;
        await room.disconnect().catch(() => undefined);
        await play.catch(() => undefined);
      },
    };
  };

  before(async () => {
    const found = await realLiveKit();
    if (typeof found === 'string') {
      skipped = found;
      return;
    }
    lk = found;
    await boot(30);
  });
  after(async () => {
    for (const p of phones) {
      p.call.close();
      await p.rtp.close();
    }
    await stop();
    if (lk) await removeInboundRouting(new SipClient(lk.url, lk.apiKey, lk.apiSecret), 'webdial-inbound').catch(() => undefined);
    if (rtcLoaded) await rtc().dispose();
  });

  let shop: TestMerchant;
  const did = '+33100000501';
  const caller = '+33612345001';

  test('the phone rings a BROWSER center: recorded INBOUND with the caller and the number dialled, and a CRM screen pop carries them; the agent answers → 200 OK, the agent tone reaches the phone, a digit is DtmfReceived (no command), the BYE ends it HANGUP by CALLER, charged at the inbound rate', { timeout: 120_000 }, async (t) => {
    if (skipped) return skip(t);
    shop = await browserMerchant('Phone shop', 5, did);
    const [agentKey, crmKey] = [await key(shop, 'AGENT'), await key(shop, 'CRM')];
    await trunkLists(did);
    const ws = wsClient(server!.wsUrl, crmKey);
    try {
      const pops = collect<Record<string, any>>(ws, `subscription($m: ID!) { screenPops(merchantId: $m) { callId direction ani did state media callCenterId } }`, { m: shop.merchantId }, (items) => items.some((p) => p.ani === caller), 30_000);
      await new Promise((r) => setTimeout(r, 500)); // the subscription is registered before the phone dials
      const dialledAt = Date.now();
      const { call: sipCall, rtp } = await phone(did, caller);

      // a. Recorded and popped.
      const pop = (await pops.done).find((p) => p.ani === caller)!;
      const popMs = Date.now() - dialledAt;
      assert.deepEqual({ ...pop, callId: '' }, { callId: '', direction: 'INBOUND', ani: caller, did, state: 'RINGING', media: 'BROWSER', callCenterId: shop.centerId });
      const callId = pop.callId as string;
      assert.match(callId, /^in_\+33100000501_[A-Za-z0-9]{12}$/);
      const ringing = await callOf(callId);
      assert.deepEqual(
        [ringing?.state, ringing?.direction, ringing?.ani, ringing?.did, ringing?.media, ringing?.callCenterId],
        ['RINGING', 'INBOUND', caller, did, 'BROWSER', shop.centerId],
      );
      assert.ok(sipCall.statuses.includes(180) && !sipCall.statuses.some((s) => s >= 200), `the phone rings: ${sipCall.statuses.join(' ')}`);

      // b. The agent answers and publishes its microphone: LiveKit SIP answers the phone.
      const answeredAt = Date.now();
      const answered = (await gql(server!.url, `mutation($c: ID!) { answerCall(callId: $c) { state } }`, { c: callId }, agentKey)).answerCall;
      assert.equal(answered.state, 'ANSWERED');
      const agent = await agentJoins(callId, agentKey);
      try {
        await agent.publish();
        const final = await sipCall.final;
        const okMs = Date.now() - answeredAt;
        assert.equal(final.status, 200, `the phone is answered: ${sipCall.statuses.join(' ')}`);

        // The digit the phone keys 1.5 s into its media: recorded, never a command.
        const timeline = await eventually(async () => {
          const tl = await timelineOf(callId);
          return tl.some((e) => e.type === 'DtmfReceived') ? tl : null;
        }, 20_000, `DtmfReceived (RTP sent ${rtp.packetsSent}, received ${rtp.packetsReceived})`);
        assert.deepEqual(timeline.filter((e) => e.type === 'DtmfReceived').map((e) => e.data.digits), ['5']);
        // The agent's 1000 Hz reaches the phone: what its RTP endpoint received.
        await new Promise((r) => setTimeout(r, 2000));
        const heard = toneReport(rtp.samples(), 8000, [CENTER_TONE_HZ, MICROPHONE_TONE_HZ]);
        assert.ok(heard.share[MICROPHONE_TONE_HZ]! > TONE_PRESENT, `the phone hears the agent's tone: ${describeReport(heard)}`);

        const bye = await sipCall.bye();
        assert.equal(bye, 200, 'BYE answered');
        const done = await ended(callId);
        assert.deepEqual([done.terminationCause, done.terminatedBy], ['HANGUP', 'CALLER']);
        const types = (await timelineOf(callId)).map((e) => e.type);
        assert.ok(!types.includes('DtmfCommandRecognized'), `a caller's digit is never an agent command: ${types.join(', ')}`);
        for (const [a, b] of [['InboundCallReceived', 'CallRinging'], ['CallRinging', 'CallAnswered'], ['CallAnswered', 'DtmfReceived'], ['DtmfReceived', 'CallTerminated']])
          assert.ok(types.indexOf(a!) >= 0 && types.indexOf(a!) < types.indexOf(b!), `${a} before ${b}: ${types.join(', ')}`);
        assert.equal(types.filter((x) => x === 'CallTerminated').length, 1, types.join(', '));
        const charge = await eventually(async () => (await callOf(callId))?.charge ?? null, 20_000, 'the charge');
        assert.deepEqual(charge, { amountMinor: 125, billableSeconds: 60, currency: 'EUR', direction: 'INBOUND' }, 'rated at the inbound 120/min (outbound would be 65)');
        console.log(`# measured: dial → screen pop ${popMs} ms; answerCall → the phone's 200 OK ${okMs} ms; the phone heard ${describeReport(heard)}; RTP sent ${rtp.packetsSent}, received ${rtp.packetsReceived}`);
      } finally {
        await agent.leave();
      }
    } finally {
      await ws.dispose();
    }
  });

  test('busy: a center of capacity 1 with an inbound call ringing refuses a second one with 486, recorded BUSY/486; the first still rings', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    const busyDid = '+33100000502';
    const small = await browserMerchant('Small shop', 1, busyDid);
    await trunkLists(busyDid);
    const first = await phone(busyDid, '+33612345002');
    const ringing = await callFrom(small, '+33612345002');
    assert.equal(ringing.state, 'RINGING');
    const second = await phone(busyDid, '+33612345003');
    const refused = await second.call.final;
    assert.equal(refused.status, 486, `the second phone is refused: ${second.call.statuses.join(' ')} (${refused.reason})`);
    const busy = await callFrom(small, '+33612345003');
    const done = await ended(busy.id as string);
    assert.deepEqual([done.direction, done.did, done.terminationCause, done.terminatedBy], ['INBOUND', busyDid, 'BUSY', 'SYSTEM']);
    const terminated = (await timelineOf(busy.id as string)).find((e) => e.type === 'CallTerminated')!;
    assert.equal(terminated.data.sipStatus, 486, JSON.stringify(terminated.data));
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await callOf(ringing.id as string))?.state, 'RINGING', 'the first call still rings');
    assert.ok(!first.call.statuses.some((s) => s >= 200), `the first phone still rings: ${first.call.statuses.join(' ')}`);
    // The first caller gives up: hangs up the agent's way (the console's "Hang up" on a ringing call is not offered; the system ends it).
    first.call.close();
  });

  test('an AGENT-number DID rings for that agent only: another agent of the center gets CONFLICT, the agent it names answers', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    const agentDid = '+33100000503';
    const own = await key(shop, 'AGENT');
    const other = await key(shop, 'AGENT');
    await gql(server!.url, `mutation($i: DidInput!) { assignDid(input: $i) { number } }`, { i: { merchantId: shop.merchantId, number: agentDid, agentKeyId: own.split('.')[1] } }, shop.merchantKey);
    await trunkLists(agentDid);
    const { call: sipCall } = await phone(agentDid, '+33612345004');
    const ringing = await callFrom(shop, '+33612345004');
    assert.deepEqual([ringing.state, ringing.did], ['RINGING', agentDid]);
    const refused = await gqlRaw(server!.url, `mutation($c: ID!) { answerCall(callId: $c) { state } }`, { c: ringing.id }, other);
    assert.equal(refused.errors?.[0]?.extensions?.code, 'CONFLICT', JSON.stringify(refused.errors));
    assert.equal((await callOf(ringing.id as string))?.state, 'RINGING', 'the refusal changed nothing');
    const answered = (await gql(server!.url, `mutation($c: ID!) { answerCall(callId: $c) { state } }`, { c: ringing.id }, own)).answerCall;
    assert.equal(answered.state, 'ANSWERED');
    await gql(server!.url, `mutation($c: ID!) { agentHangUp(callId: $c) { state } }`, { c: ringing.id }, own);
    const final = await sipCall.final;
    assert.ok(final.status !== null && final.status >= 400, `the agent's hang-up before any audio ends the phone's call: ${sipCall.statuses.join(' ')}`);
  });

  test("the merchant's main number: the prompt answers the phone, a wrong ID is prompted again, the right one rings the agent it names with the tries recorded", { timeout: 120_000 }, async (t) => {
    if (skipped) return skip(t);
    const mainDid = '+33100000505';
    const m = await browserMerchant('Main number shop', 5, '+33100000506');
    const agentKey = await key(m, 'AGENT');
    const agentId = /^wd\.([A-Za-z0-9_-]+)\./.exec(agentKey)![1];
    // Too long an ID is refused when the menu is set, with its stable reason.
    const tooLong = await gqlRaw(server!.url, `mutation($i: DidInput!) { assignDid(input: $i) { number } }`, { i: { merchantId: m.merchantId, number: mainDid, menu: [{ id: '1234567890123', callCenterId: m.centerId }] } }, m.merchantKey);
    assert.equal(tooLong.errors?.[0]?.extensions?.reason, 'ID_TOO_LONG', JSON.stringify(tooLong.errors));
    const menu = [{ id: '1', callCenterId: m.centerId }, { id: '42', agentKeyId: agentId }];
    const assigned = await gql(server!.url, `mutation($i: DidInput!) { assignDid(input: $i) { destination menu { id destination agentKeyId } } }`, { i: { merchantId: m.merchantId, number: mainDid, menu } }, m.merchantKey);
    assert.deepEqual(assigned.assignDid, { destination: 'MENU', menu: [{ id: '1', destination: 'CALL_CENTER', agentKeyId: null }, { id: '42', destination: 'AGENT', agentKeyId: agentId }] });
    await trunkLists(mainDid);
    const menuCaller = '+33612345006';
    const rtpPort = await freeUdpPort();
    // The prompt is the first audio the phone receives: 9# a second into it (a wrong ID), then 42# during the second prompt.
    const rtp = await startRtpEndpoint(rtpPort, { toneHz: CENTER_TONE_HZ, dtmf: [{ atMs: 1000, keys: ['9', '#'] }, { atMs: 4000, keys: ['4', '2', '#'] }] });
    const sipCall = await callDid({ fromAddress: carrier, server: { host: '127.0.0.1', port: lk.sipPort }, did: mainDid, caller: menuCaller, mediaPort: rtpPort, timeoutMs: 30_000 });
    phones.push({ call: sipCall, rtp });
    const answered = await sipCall.final;
    assert.equal(answered.status, 200, `the prompt answers the phone, no agent yet: ${sipCall.statuses.join(' ')}`);
    const ringing = await callFrom(m, menuCaller);
    assert.equal(ringing.state, 'RINGING');
    assert.equal(ringing.did, mainDid);
    const received = (await timelineOf(ringing.id as string)).find((e) => e.type === 'InboundCallReceived')!.data;
    assert.deepEqual([received.keyed, received.destination, received.agent], [['9', '42'], 'AGENT', agentId], 'the wrong ID, then the one that rang');
    assert.equal(await metric('MENU_RETRY'), 1, 'one wrong ID, prompted again');
    // The agent it names takes it in the console; the caller hangs up.
    await gql(server!.url, `mutation($c: ID!) { answerCall(callId: $c) { state } }`, { c: ringing.id }, agentKey);
    assert.equal(await sipCall.bye(), 200);
    const done = await ended(ringing.id as string);
    assert.deepEqual([done.terminationCause, done.terminatedBy], ['HANGUP', 'CALLER']);
  });

  test('webdial_inbound_calls_total on /metrics counts the calls that rang and the busy one', async (t) => {
    if (skipped) return skip(t);
    assert.deepEqual([await metric('RINGING'), await metric('BUSY')], [4, 1]);
  });

  test('no answer: after WEBDIAL_RINGING_TIMEOUT an unanswered inbound call ends NO_ANSWER and the phone gets a final status', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    await stop();
    await boot(4);
    const lateDid = '+33100000504';
    const late = await browserMerchant('Late shop', 5, lateDid);
    await trunkLists(lateDid);
    const dialledAt = Date.now();
    const { call: sipCall } = await phone(lateDid, '+33612345005');
    const ringing = await callFrom(late, '+33612345005');
    const done = await ended(ringing.id as string, 30_000);
    assert.deepEqual([done.terminationCause, done.terminatedBy, done.charge], ['NO_ANSWER', 'SYSTEM', null]);
    const final = await sipCall.final;
    const finalMs = Date.now() - dialledAt;
    assert.ok(final.status !== null && final.status >= 400, `the phone's call is ended: ${sipCall.statuses.join(' ')} (${final.reason})`);
    assert.ok(finalMs < 20_000, `within the ringing timeout and a sweep, not LiveKit's own 3 minutes: ${finalMs} ms`);
    console.log(`# measured: dial → the phone's final ${final.status} ${final.reason} after ${finalMs} ms (WEBDIAL_RINGING_TIMEOUT 4)`);
  });
});
