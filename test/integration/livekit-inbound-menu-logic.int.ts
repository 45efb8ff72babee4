import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenVerifier } from 'livekit-server-sdk';
import { startLiveKitDouble, type LiveKitDouble } from '../support/livekit-double';
import { recordingProgressSink } from '../support/progress-sink';
import type { InboundArrival, InboundCallSink, InboundDecision } from '../../src/ports/media';
import { createLiveKitMedia, type LiveKitMedia, type MediaLogger } from '../../src/media/livekit/livekit-media';
import type { RoomParticipant, RoomParticipantEvents } from '../../src/media/livekit/room-participant';

/**
 * A main number's menu (runMenu) with a scripted room participant and the Twirp double: the paths
 * the real LiveKit test (inbound-menu.int.ts) cannot time well — timeouts, barge-in, the caller
 * leaving during the menu or while the application decides, our hang-up during the menu.
 */

/** A room participant driven by the test: it says what the room did, and records what we played. */
const scriptedParticipant = () => {
  const listeners: { [K in keyof RoomParticipantEvents]: RoomParticipantEvents[K][] } = { attributes: [], dtmf: [], participantLeft: [] };
  const state = { token: '', plays: 0, cut: 0, published: 0, unpublished: 0, connected: false };
  /** Each play lasts `playMs` unless cut. */
  let playMs = 50;
  const participant: RoomParticipant = {
    async connect(_room, token) {
      state.token = token;
      state.connected = true;
    },
    on(event, listener) {
      (listeners[event] as unknown[]).push(listener);
    },
    async publishDtmf() {},
    async publishAudio() {
      state.published++;
      return {
        play: (_samples, signal) =>
          new Promise<void>((resolve) => {
            state.plays++;
            const timer = setTimeout(resolve, playMs);
            signal.addEventListener('abort', () => {
              state.cut++;
              clearTimeout(timer);
              resolve();
            });
          }),
        close: async () => void state.unpublished++,
      };
    },
    async disconnect() {
      state.connected = false;
    },
  };
  const sipId = (caller: string) => `sip_${caller}`;
  return {
    participant,
    state,
    setPlayMs: (ms: number) => (playMs = ms),
    joinsRinging: (caller: string) => listeners.attributes.forEach((l) => l({ identity: sipId(caller), attributes: { 'sip.callStatus': 'ringing' } })),
    answers: (caller: string) => listeners.attributes.forEach((l) => l({ identity: sipId(caller), attributes: { 'sip.callStatus': 'active' } })),
    keys: (caller: string, keys: string) =>
      [...keys].forEach((k) => listeners.dtmf.forEach((l) => l({ identity: sipId(caller), code: '0123456789*#'.indexOf(k), digit: k }))),
    leaves: (caller: string) => listeners.participantLeft.forEach((l) => l({ identity: sipId(caller), disconnectReason: 'CLIENT_INITIATED', attributes: {} })),
  };
};

const until = async (cond: () => boolean, what: string, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('a main number menu (runMenu) with a scripted room', () => {
  let lk: LiveKitDouble;
  const opened: LiveKitMedia[] = [];
  before(async () => {
    lk = await startLiveKitDouble({ trunks: ['ST_configured'] });
  });
  after(async () => {
    for (const m of opened) await m.close();
    await lk.close();
  });

  let n = 0;
  const setup = (decide: (tries: readonly string[]) => InboundDecision | Promise<InboundDecision>, playMs = 50) => {
    const progress: unknown[][] = [];
    const room = scriptedParticipant();
    room.setPlayMs(playMs);
    const quiet = () => undefined;
    const logger: MediaLogger = { info: quiet, warn: quiet, error: quiet };
    const media = createLiveKitMedia(
      { url: lk.url, apiKey: lk.apiKey, apiSecret: lk.apiSecret, sipTrunkId: 'ST_configured', ringingTimeoutSeconds: 25, maxDurationSeconds: 600, callerTokenTtlSeconds: 60, menuTimeoutMs: 150 },
      recordingProgressSink(progress),
      { logger, roomParticipantFactory: () => room.participant },
    );
    opened.push(media);
    const keyed: string[][] = [];
    const inbound: InboundCallSink = {
      arrived: async () => ({ kind: 'MENU', triesLeft: 3 }),
      keyed: async (_a, tries) => {
        keyed.push([...tries]);
        return decide(tries);
      },
    };
    const caller = `+3361234${String(++n).padStart(4, '0')}`;
    const arrival: InboundArrival = { callId: `in_+33100000499_menu${n}`, did: '+33100000499', caller, sipCallId: null };
    /** Starts the menu as the webhook does (not awaited); the caller is in the room once we join. */
    const start = () => media.runMenu(arrival, `sip_${caller}`, inbound);
    const origConnect = room.participant.connect.bind(room.participant);
    room.participant.connect = async (r, t) => {
      await origConnect(r, t);
      room.joinsRinging(caller);
    };
    /** Starts the menu, lets the prompt answer the phone, and waits for its first play; the menu's run. */
    const playing = async () => {
      const run = start();
      await until(() => room.state.published === 1, 'the prompt published');
      room.answers(caller);
      await until(() => room.state.plays === 1, 'the first play');
      return { run }; // not the promise itself: an async function would wait for it
    };
    return { media, room, progress, keyed, caller, arrival, start, playing };
  };

  it('given the prompt answered, then the token may publish the microphone only, and the answer waits for active', async () => {
    const m = setup(() => ({ kind: 'REFUSE', sipStatus: 404, reason: 'x' }));
    const run = m.start();
    await until(() => m.room.state.published === 1, 'the prompt published');
    const grant = await new TokenVerifier(lk.apiKey, lk.apiSecret).verify(m.room.state.token);
    assert.equal(grant.video?.canPublish, true);
    assert.deepEqual(grant.video?.canPublishSources, ['microphone']);
    assert.equal(m.room.state.plays, 0, 'not played before the 200 OK');
    m.room.answers(m.caller);
    await until(() => m.room.state.plays === 1, 'the first play');
    m.room.keys(m.caller, '7#');
    await run;
    assert.deepEqual(m.keyed, [['7']]);
    assert.equal(m.media.isTracking(m.arrival.callId), true, 'ended in its menu: its late webhooks stay ours');
    assert.ok(lk.requests.some((r) => r.method === 'DeleteRoom' && (r.body as { room?: string }).room === `call-${m.arrival.callId}`), 'REFUSE deletes the room');
    assert.deepEqual(m.progress, []);
  });

  it('given no key, then an empty try after the timeout from the prompt end; a key during the prompt cuts it (barge-in); 33 digits end a try', async () => {
    const m = setup((tries) => (tries.length < 3 ? { kind: 'MENU', triesLeft: 3 - tries.length } : { kind: 'REFUSE', sipStatus: 404, reason: 'three wrong' }), 400);
    const run = m.start();
    await until(() => m.room.state.published === 1, 'published');
    const t0 = Date.now();
    m.room.answers(m.caller);
    await until(() => m.keyed.length === 1, 'the empty try');
    const took = Date.now() - t0;
    assert.deepEqual(m.keyed[0], ['']);
    assert.ok(took >= 400 + 150 - 20 && took < 400 + 150 + 400, `the prompt (400 ms) then the timeout (150 ms): ${took} ms`);
    await until(() => m.room.state.plays === 2, 'the second play');
    m.room.keys(m.caller, '4');
    await until(() => m.room.state.cut >= 1, 'the prompt cut');
    m.room.keys(m.caller, '2#');
    await until(() => m.keyed.length === 2, 'the second try');
    assert.deepEqual(m.keyed[1], ['', '42']);
    await until(() => m.room.state.plays === 3, 'the third play');
    m.room.keys(m.caller, '1234567890'.repeat(4));
    await run;
    assert.deepEqual(m.keyed[2], ['', '42', '1234567890'.repeat(4).slice(0, 32)]);
    assert.deepEqual(m.progress, []);
  });

  it('given the caller hangs up during the prompt, then nothing is keyed nor reported, and the room is deleted', async () => {
    const m = setup(() => ({ kind: 'RING' }), 5000);
    const { run } = await m.playing();
    m.room.leaves(m.caller);
    await run;
    assert.deepEqual(m.keyed, []);
    assert.deepEqual(m.progress, []);
    assert.equal(m.media.isTracking(m.arrival.callId), true, "the leave webhook defers to us: it must not report a call that doesn't exist");
    assert.equal(m.room.state.connected, false);
  });

  it('given RING, then the prompt is unpublished and the leg followed answered: active is not reported, DTMF and the BYE are', async () => {
    const m = setup(() => ({ kind: 'RING' }));
    const { run } = await m.playing();
    m.room.keys(m.caller, '42#');
    await run;
    assert.equal(m.room.state.unpublished, 1);
    m.room.answers(m.caller); // LiveKit re-sends the whole attribute map
    m.room.keys(m.caller, '5');
    m.room.leaves(m.caller);
    const { callId } = m.arrival;
    await until(() => m.progress.length === 2, 'two reports');
    assert.deepEqual(m.progress, [
      ['dtmf', callId, '5', `lk:${callId}:dtmf:1`],
      ['terminated', callId, 'HANGUP', 200, `lk:${callId}:terminated`, null],
    ]);
  });

  it('given the caller leaves while the application decides RING, then the call it recorded is terminated', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const m = setup(() => gate.then(() => ({ kind: 'RING' })));
    const { run } = await m.playing();
    m.room.keys(m.caller, '42#');
    await until(() => m.keyed.length === 1, 'keyed');
    m.room.leaves(m.caller);
    release();
    await run;
    const { callId } = m.arrival;
    await until(() => m.progress.length === 1, 'terminated');
    assert.deepEqual(m.progress, [['terminated', callId, 'HANGUP', 200, `lk:${callId}:terminated`, null]]);
  });

  it('given our hang-up during the menu, then the menu ends without asking the application', async () => {
    const m = setup(() => ({ kind: 'RING' }), 5000);
    const { run } = await m.playing();
    await m.media.hangUp(m.arrival.callId);
    await run;
    assert.deepEqual(m.keyed, []);
    assert.deepEqual(m.progress, []);
    assert.equal(m.media.isTracking(m.arrival.callId), false);
  });
});
