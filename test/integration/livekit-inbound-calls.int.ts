import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { AccessToken } from 'livekit-server-sdk';
import { startInboundHarness, type HookLine, type InboundHarness } from '../support/livekit-inbound';
import { realLiveKit, type RealLiveKit } from '../support/livekit-real';
import { serviceMissing } from '../support/services';
import { eventually } from '../support/server';
import type { InboundArrival, InboundCallSink, InboundDecision } from '../../src/ports/media';
import type { LiveKitMedia } from '../../src/media/livekit/livekit-media';

/**
 * Issue 23, a phone calling one of our numbers, against the real LiveKit server + SIP
 * (`npm run livekit:start`): webdial's trunk and dispatch rule, the webhook handler reporting the
 * arrival to an InboundCallSink (a recording fake), and the LiveKit adapter following an accepted
 * call. The phone is test/support/sip-uac.ts's `callDid`, its media test/support/rtp-endpoint.ts
 * (PCMU and RFC 4733, started by LiveKit SIP's first packet after the 200 OK). The agent who answers
 * is an rtc-node participant publishing a microphone track, as the console does.
 */
describe('inbound calls on the real LiveKit SIP: arrival, refusal, answer, DTMF and the caller hanging up', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let harness: InboundHarness | undefined;
  let media: LiveKitMedia;
  const name = `webdial-inbound-int-${process.pid}`;
  const did = '+33100000401';
  const carrier = '127.0.0.1';
  const progress: unknown[][] = [];
  const arrivals: InboundArrival[] = [];
  /** The sink's decision, by caller number (accepted for any other). */
  const decisions = new Map<string, InboundDecision>();
  const hookLines: HookLine[] = [];
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit SIP', skipped);

  before(async () => {
    const found = await realLiveKit();
    if (typeof found === 'string') {
      skipped = found;
      return;
    }
    lk = found;
    const inbound: InboundCallSink = {
      arrived: async (arrival) => {
        arrivals.push(arrival);
        return decisions.get(arrival.caller) ?? { kind: 'RING' };
      },
      keyed: async () => ({ kind: 'REFUSE', sipStatus: 404, reason: 'no main number in this test' }),
    };
    harness = await startInboundHarness(lk, { name, did, carrier, inbound, progress, hookLines });
    media = harness.media;
  });

  after(async () => {
    await harness?.close();
  });

  const phone = (caller: string) => harness!.phone(caller, { toneHz: 440, dtmf: [{ atMs: 1500, keys: ['7'] }] });
  const arrivalOf = (caller: string) => eventually(async () => arrivals.find((a) => a.caller === caller) ?? null, 15_000, `the arrival of ${caller}`);
  const reportsOf = (callId: string) => progress.filter((p) => p[1] === callId);

  test('a refused arrival: reported once with did, caller and call id; the room is deleted and the phone hears 486', { timeout: 60_000 }, async (t) => {
    if (skipped) return skip(t);
    const caller = '+33612340001';
    decisions.set(caller, { kind: 'REFUSE', sipStatus: 486, reason: 'BUSY' });
    const { call, rtp } = await phone(caller);
    try {
      const arrival = await arrivalOf(caller);
      assert.match(arrival.callId, /^in_\+33100000401_[A-Za-z0-9]{12}$/, 'the room call-in_<DID>_<random> names the call');
      assert.equal(arrival.did, did);
      assert.match(arrival.sipCallId ?? '', /^SCL_/, "LiveKit SIP's call id");
      const final = await call.final;
      console.log(`# refused ${arrival.callId}: the phone saw ${call.statuses.join(' ')} (${final.reason})`);
      assert.deepEqual([final.status, final.reason], [486, 'Rejected'], `the refusal: ${call.statuses.join(' ')}`);
      assert.ok(call.statuses.includes(180), 'it rang before');
      const leave = await eventually(async () => hookLines.find((h) => h.room === `call-${arrival.callId}` && h.event === 'participant_left') ?? null, 15_000, "the SIP participant's leave");
      assert.equal(leave.outcome, 'ignored', 'the SIP leave that follows the deletion changes nothing');
      assert.equal(arrivals.filter((a) => a.caller === caller).length, 1, 'reported once');
      assert.equal(media.isTracking(arrival.callId), false, 'a refused call is not followed');
      assert.deepEqual(reportsOf(arrival.callId), [], "no progress report: the refusal is the application's own record");
    } finally {
      call.close();
      await rtp.close();
    }
  });

  test('an accepted arrival rings until an agent publishes audio; then 200 OK → answered, the caller keys 7 → dtmf, the caller hangs up → terminated HANGUP', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    const caller = '+33612340002';
    const { call, rtp } = await phone(caller);
    const rtc = require('@livekit/rtc-node') as typeof import('@livekit/rtc-node');
    const agent = new rtc.Room();
    try {
      const arrival = await arrivalOf(caller);
      assert.deepEqual({ ...arrival, callId: '', sipCallId: '' }, { callId: '', did, caller, sipCallId: '' });
      const { callId } = arrival;
      await eventually(async () => media.isTracking(callId) || null, 10_000, 'the adapter follows the call');

      // The agent's console joins and listens to the caller: that alone does not answer.
      const at = new AccessToken(lk.apiKey, lk.apiSecret, { identity: 'agent-kInbound', ttl: 120 });
      at.addGrant({ roomJoin: true, room: `call-${callId}`, canPublish: true, canSubscribe: true });
      await agent.connect(lk.wsUrl, await at.toJwt(), { autoSubscribe: true, dynacast: false });
      await eventually(async () => [...agent.remoteParticipants.values()].some((p) => p.identity === `sip_${caller}` && [...p.trackPublications.values()].some((tp) => tp.subscribed)) || null, 10_000, "the agent subscribed to the caller's audio");
      await new Promise((r) => setTimeout(r, 2000));
      assert.ok(!call.statuses.some((s) => s >= 200), `still ringing while the agent only listens: ${call.statuses.join(' ')}`);
      assert.deepEqual(reportsOf(callId), []);

      // The agent's microphone: LiveKit SIP subscribes to it and answers the phone.
      const source = new rtc.AudioSource(48_000, 1);
      const track = rtc.LocalAudioTrack.createAudioTrack('microphone', source);
      await agent.localParticipant!.publishTrack(track, new rtc.TrackPublishOptions({ source: rtc.TrackSource.SOURCE_MICROPHONE }));
      const final = await call.final;
      assert.equal(final.status, 200, `answered: ${call.statuses.join(' ')}`);
      await eventually(async () => reportsOf(callId).some((p) => p[0] === 'answered') || null, 10_000, 'answered reported');

      // The phone's RFC 4733 digit, 1.5 s into its media.
      await eventually(async () => reportsOf(callId).some((p) => p[0] === 'dtmf') || null, 15_000, `the caller's digit (rtp sent ${rtp.packetsSent}, received ${rtp.packetsReceived})`);
      await call.bye().then((status) => assert.equal(status, 200, 'BYE answered'));
      await eventually(async () => reportsOf(callId).some((p) => p[0] === 'terminated') || null, 15_000, 'terminated reported');
      console.log(`# accepted ${callId}: the phone saw ${call.statuses.join(' ')}; RTP sent ${rtp.packetsSent}, received ${rtp.packetsReceived}; reports ${JSON.stringify(reportsOf(callId))}`);
      // The adapter's report comes first, with the answered call's 200; the participant_left webhook
      // defers to it while the leg is followed, or, once the leg is released, repeats the termination
      // under the same gateway event id (a no-op for the domain).
      const reports = reportsOf(callId);
      assert.deepEqual(reports.slice(0, 3), [
        ['answered', callId, `lk:${callId}:answered`],
        ['dtmf', callId, '7', `lk:${callId}:dtmf:1`],
        ['terminated', callId, 'HANGUP', 200, `lk:${callId}:terminated`, null],
      ]);
      assert.ok(reports.slice(3).every((r) => r[0] === 'terminated' && r[2] === 'HANGUP' && r[4] === `lk:${callId}:terminated`), JSON.stringify(reports));
      assert.equal(media.isTracking(callId), false, 'the leg is released');
      assert.equal(arrivals.filter((a) => a.caller === caller).length, 1, 'reported once');
    } finally {
      await agent.disconnect().catch(() => undefined);
      call.close();
      await rtp.close();
    }
  });
});
