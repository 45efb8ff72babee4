import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { RoomServiceClient } from 'livekit-server-sdk';
import { startInboundHarness, type HookLine, type InboundHarness } from '../support/livekit-inbound';
import { realLiveKit, type RealLiveKit } from '../support/livekit-real';
import { serviceMissing } from '../support/services';
import { eventually } from '../support/server';
import { loudRuns, rmsDbfs } from '../support/audio';
import type { InboundArrival, InboundCallSink, InboundDecision } from '../../src/ports/media';
import type { LiveKitMedia } from '../../src/media/livekit/livekit-media';
import { ENTER_ID_PROMPT, readPrompt } from '../../src/media/livekit/wav';

/**
 * Issue 23 must-have 3, a merchant's main number, against the real LiveKit server + SIP: the
 * application (a plain fake InboundCallSink) answers MENU; the adapter's server participant publishes
 * the spoken prompt (assets/prompts/enter-id.wav), which makes LiveKit SIP answer the phone with no
 * agent in the room; the phone (test/support/sip-uac.ts + rtp-endpoint.ts) hears the prompt and keys
 * IDs as RFC 4733 events. What the phone hears is measured: each play of the prompt is a stretch of
 * sound (loudRuns) in the PCMU it receives.
 */
describe('a main number on the real LiveKit SIP: the prompt answers, the caller keys an ID and #, a wrong ID is prompted again', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let harness: InboundHarness | undefined;
  let media: LiveKitMedia;
  const name = `webdial-menu-int-${process.pid}`;
  const did = '+33100000402';
  const carrier = '127.0.0.1';
  const progress: unknown[][] = [];
  const arrivals: InboundArrival[] = [];
  const keyedCalls: Array<{ caller: string; tries: string[] }> = [];
  /** What `keyed` answers, by caller number. */
  const onKeyed = new Map<string, (tries: readonly string[]) => InboundDecision>();
  const hookLines: HookLine[] = [];
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit SIP', skipped);
  const prompt = readPrompt(ENTER_ID_PROMPT);
  const promptSeconds = prompt.samples.length / prompt.sampleRate;

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
        return { kind: 'MENU', triesLeft: 3 };
      },
      keyed: async (arrival, tries) => {
        keyedCalls.push({ caller: arrival.caller, tries: [...tries] });
        return onKeyed.get(arrival.caller)?.(tries) ?? { kind: 'REFUSE', sipStatus: 404, reason: 'unknown caller in this test' };
      },
    };
    harness = await startInboundHarness(lk, { name, did, carrier, inbound, progress, hookLines });
    media = harness.media;
  });

  after(async () => {
    await harness?.close();
  });

  // The phone sends silence (PCMU) and its keys, timed from the first packet it receives (the answer).
  const phone = (caller: string, dtmf: Array<{ atMs: number; keys: string[] }>) => harness!.phone(caller, { toneHz: null, dtmf });
  const arrivalOf = (caller: string) => eventually(async () => arrivals.find((a) => a.caller === caller) ?? null, 15_000, `the arrival of ${caller}`);
  const reportsOf = (callId: string) => progress.filter((p) => p[1] === callId);
  /** The stretches of sound the phone heard: each play of the prompt is one. */
  const heard = (rtp: { samples(): Float32Array }) => {
    const samples = rtp.samples();
    return { runs: loudRuns(samples, 8000, { floorDbfs: -45, bridgeMs: 1000 }), samples };
  };
  const describeRuns = (runs: ReturnType<typeof loudRuns>) => runs.map((r) => `${r.fromS.toFixed(2)}-${r.toS.toFixed(2)} s ${r.rmsDbfs.toFixed(1)} dBFS`).join(', ');

  test('MENU: 200 OK with no agent, the prompt is heard; 9# → keyed [9] → prompted again; 42# → keyed [9, 42] → RING; then 5 → dtmf; BYE → terminated', { timeout: 90_000 }, async (t) => {
    if (skipped) return skip(t);
    const caller = '+33612340011';
    onKeyed.set(caller, (tries) => (tries[tries.length - 1] === '42' ? { kind: 'RING' } : { kind: 'MENU', triesLeft: 3 - tries.length }));
    // The prompt lasts 5 s from about the answer: 9# after it; the second play; 42# after that; 5 once ringing.
    const wrongAt = 7000;
    const rightAt = wrongAt + 1000 + Math.round(promptSeconds * 1000) + 1500;
    const afterAt = rightAt + 3000;
    const { call, rtp } = await phone(caller, [
      { atMs: wrongAt, keys: ['9', '#'] },
      { atMs: rightAt, keys: ['4', '2', '#'] },
      { atMs: afterAt, keys: ['5'] },
    ]);
    try {
      const { callId } = await arrivalOf(caller);
      const final = await call.final;
      assert.equal(final.status, 200, `the prompt answers the phone, no agent in the room: ${call.statuses.join(' ')}`);
      const hook = hookLines.find((h) => h.room === `call-${callId}` && h.event === 'participant_joined');
      assert.equal(hook?.outcome, 'inbound: main number: menu', 'the webhook answered at once, the menu runs on');

      await eventually(async () => (keyedCalls.filter((k) => k.caller === caller).length >= 2 ? true : null), 40_000, `two tries keyed: ${JSON.stringify(keyedCalls)}`);
      assert.deepEqual(
        keyedCalls.filter((k) => k.caller === caller).map((k) => k.tries),
        [['9'], ['9', '42']],
        'every try so far, oldest first, without #',
      );
      await eventually(async () => reportsOf(callId).some((p) => p[0] === 'dtmf') || null, 15_000, 'the digit keyed once ringing reaches the sink');
      assert.equal(media.isTracking(callId), true, 'the leg is followed after RING');
      await call.bye().then((status) => assert.equal(status, 200, 'BYE answered'));
      await eventually(async () => reportsOf(callId).some((p) => p[0] === 'terminated') || null, 15_000, 'terminated reported');

      const reports = reportsOf(callId);
      assert.deepEqual(reports.slice(0, 2), [
        ['dtmf', callId, '5', `lk:${callId}:dtmf:1`],
        ['terminated', callId, 'HANGUP', 200, `lk:${callId}:terminated`, null],
      ], 'no answered (the prompt answered; the agent answers in the console), the menu keys are not DTMF of the call');
      assert.ok(reports.slice(2).every((r) => r[0] === 'terminated' && r[4] === `lk:${callId}:terminated`), JSON.stringify(reports));

      // What the phone heard: the prompt twice, the second after the wrong ID's #, then quiet.
      const { runs, samples } = heard(rtp);
      const summary = describeRuns(runs);
      const between = (fromS: number, toS: number) => rmsDbfs(samples.subarray(Math.round(fromS * 8000), Math.round(toS * 8000)));
      const quietFromS = (rightAt + 750) / 1000; // the RING, after 42#
      const gap = runs.length === 2 ? between(runs[0]!.toS, runs[1]!.fromS) : NaN;
      const afterRing = between(quietFromS, samples.length / 8000);
      console.log(`# menu ${callId}: the phone saw ${call.statuses.join(' ')}; RTP received ${rtp.packetsReceived} (${(samples.length / 8000).toFixed(1)} s), sent ${rtp.packetsSent}; prompt ${promptSeconds.toFixed(2)} s; heard ${summary}; between the plays ${gap.toFixed(1)} dBFS, after RING ${afterRing.toFixed(1)} dBFS; reports ${JSON.stringify(reports)}`);
      assert.equal(runs.length, 2, `the prompt heard twice, with a quiet gap between: ${summary}`);
      const [first, second] = runs as [(typeof runs)[0], (typeof runs)[0]];
      assert.ok(gap < -45, `quiet between the plays: ${gap.toFixed(1)} dBFS`);
      assert.ok(first.fromS < 2, `the first play starts right after the answer: ${summary}`);
      for (const r of runs) {
        assert.ok(r.rmsDbfs > -35, `clearly above silence: ${summary}`);
        assert.ok(Math.abs(r.toS - r.fromS - promptSeconds) < 1, `a whole play of the ${promptSeconds.toFixed(2)} s prompt: ${summary}`);
      }
      assert.ok(second.fromS > (wrongAt + 250) / 1000, `the second play follows the wrong ID's #: ${summary}`);
      assert.ok(second.fromS - first.toS > 1, `a quiet gap between the plays: ${summary}`);
      assert.ok(afterRing < -45, `quiet after RING (the prompt unpublished): ${afterRing.toFixed(1)} dBFS`);
    } finally {
      call.close();
      await rtp.close();
    }
  });

  test('REFUSE after a keyed ID: the answered phone receives BYE (not 486); nothing reported', { timeout: 60_000 }, async (t) => {
    if (skipped) return skip(t);
    const caller = '+33612340012';
    onKeyed.set(caller, () => ({ kind: 'REFUSE', sipStatus: 404, reason: 'three wrong IDs' }));
    const { call, rtp } = await phone(caller, [{ atMs: 6500, keys: ['1', '#'] }]);
    try {
      const { callId } = await arrivalOf(caller);
      const final = await call.final;
      assert.equal(final.status, 200, `answered by the prompt: ${call.statuses.join(' ')}`);
      await eventually(async () => (call.requests.includes('BYE') ? true : null), 20_000, `the phone receives BYE (requests: ${call.requests.join(' ')})`);
      assert.deepEqual(keyedCalls.filter((k) => k.caller === caller).map((k) => k.tries), [['1']]);
      const { runs } = heard(rtp);
      console.log(`# refused ${callId}: the phone saw ${call.statuses.join(' ')}, then ${call.requests.join(' ')}; heard ${describeRuns(runs)}`);
      assert.equal(runs.length, 1, `the prompt once: ${describeRuns(runs)}`);
      await new Promise((r) => setTimeout(r, 1500)); // the SIP participant's leave webhook
      assert.deepEqual(reportsOf(callId), [], "no progress report: the refusal is the application's own record");
    } finally {
      call.close();
      await rtp.close();
    }
  });

  test('the caller hangs up during the prompt: cleaned up, nothing keyed, nothing reported', { timeout: 60_000 }, async (t) => {
    if (skipped) return skip(t);
    const caller = '+33612340013';
    const { call, rtp } = await phone(caller, []);
    try {
      const { callId } = await arrivalOf(caller);
      assert.equal((await call.final).status, 200);
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(await call.bye(), 200, 'BYE answered');
      await eventually(async () => hookLines.find((h) => h.room === `call-${callId}` && h.event === 'participant_left') ?? null, 15_000, "the SIP participant's leave webhook");
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(reportsOf(callId), [], 'no call was recorded: nothing to report');
      assert.deepEqual(keyedCalls.filter((k) => k.caller === caller), []);
      assert.equal(hookLines.find((h) => h.room === `call-${callId}` && h.event === 'participant_left')?.outcome, 'tracked', 'the leave webhook defers to the adapter');
      const rooms = await new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret).listRooms([`call-${callId}`]);
      assert.deepEqual(rooms.map((r) => r.name), [], 'the room is gone');
    } finally {
      call.close();
      await rtp.close();
    }
  });
});
