import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RoomServiceClient, TokenVerifier } from 'livekit-server-sdk';
import { startLiveKitDouble, type LiveKitDouble } from '../support/livekit-double';
import { legIdOf, type CallProgressSink, type DialRequest, type MediaGateway } from '../../src/ports/media';
import { createLiveKitMedia, type LiveKitMediaConfig, type LiveKitMediaDeps, type MediaLogger } from '../../src/media/livekit/livekit-media';

/** The LiveKit adapter against the wire-level double, over real HTTP with the real SDK. */

type SinkCall = [string, ...unknown[]];
const recordingSink = () => {
  const calls: SinkCall[] = [];
  const sink: CallProgressSink = {
    ringing: async (callId, id) => void calls.push(['ringing', callId, id]),
    answered: async (callId, id) => void calls.push(['answered', callId, id]),
    dtmf: async (callId, digits, id) => void calls.push(['dtmf', callId, digits, id]),
    terminated: async (callId, cause, sipStatus, id) => void calls.push(['terminated', callId, cause, sipStatus, id]),
  };
  return { calls, sink };
};
const quietLogger = (): MediaLogger & { lines: string[] } => {
  const lines: string[] = [];
  const log = (_o: object, msg?: string) => void lines.push(msg ?? '');
  return { lines, info: log, warn: log, error: log };
};

let n = 0;
const request = (over: Partial<DialRequest> = {}): DialRequest => ({
  callId: `c${++n}`,
  merchantId: 'm1',
  destination: `+1555000${String(n).padStart(4, '0')}`,
  ani: '+15559990001',
  gatewayId: 'gw1',
  port: 3,
  ringingTimeoutSeconds: 25,
  maxDurationSeconds: 600,
  ...over,
});

// The double plays what the real LiveKit + SIP showed (test/e2e/voice.e2e.ts runs the same paths
// against livekit-server, livekit-sip and sipp): these tests cover the adapter's logic quickly.
describe('LiveKit media adapter (against the LiveKit double)', () => {
  let lk: LiveKitDouble;
  const opened: MediaGateway[] = [];
  before(async () => {
    lk = await startLiveKitDouble({ trunks: ['ST_configured'] });
  });
  after(async () => {
    for (const m of opened) await m.close();
    await lk.close();
  });

  const media = (over: Partial<LiveKitMediaConfig> = {}, deps: Partial<LiveKitMediaDeps> = {}) => {
    const { calls, sink } = recordingSink();
    const logger = quietLogger();
    const gw = createLiveKitMedia(
      {
        url: lk.url,
        apiKey: lk.apiKey,
        apiSecret: lk.apiSecret,
        sipTrunkId: 'ST_configured',
        ringingTimeoutSeconds: 30,
        maxDurationSeconds: 3600,
        callerTokenTtlSeconds: 120,
        dtmfGapMs: 1,
        ...over,
      },
      sink,
      { logger, roomParticipantFactory: lk.roomParticipantFactory, ...deps },
    );
    opened.push(gw);
    return { gw, calls, logger };
  };
  const terminatedOf = (calls: SinkCall[], callId: string) => calls.find((c) => c[0] === 'terminated' && c[1] === callId);
  const requestsFor = (method: string, room?: string) =>
    lk.requests.filter((r) => r.method === method && (room === undefined || r.body.roomName === room || r.body.room === room));

  it('dials with the ANI as caller ID, a per-call identity and attributes, and both timeouts', async () => {
    const { gw, calls } = media();
    const r = request();
    lk.script(r.destination, { outcome: 'answer', ringAfterMs: 5, afterMs: 30 });
    await gw.dial(r);
    await lk.waitFor(() => calls.some((c) => c[0] === 'answered'));
    const [sent] = requestsFor('CreateSIPParticipant', `call-${r.callId}`);
    assert.ok(sent, 'CreateSIPParticipant was sent');
    assert.equal(sent.service, 'SIP');
    assert.deepEqual(
      {
        sipTrunkId: sent.body.sipTrunkId,
        sipCallTo: sent.body.sipCallTo,
        sipNumber: sent.body.sipNumber,
        roomName: sent.body.roomName,
        participantIdentity: sent.body.participantIdentity,
        callId: (sent.body.participantAttributes as Record<string, string>).callId,
        ringingTimeout: sent.body.ringingTimeout,
        maxCallDuration: sent.body.maxCallDuration,
        waitUntilAnswered: sent.body.waitUntilAnswered,
      },
      {
        sipTrunkId: 'ST_configured',
        sipCallTo: r.destination,
        sipNumber: '+15559990001',
        roomName: `call-${r.callId}`,
        participantIdentity: `pstn-${r.callId}`,
        callId: r.callId,
        ringingTimeout: '25s',
        maxCallDuration: '655s', // 600 + ringing 25 + 30 s backstop margin
        waitUntilAnswered: true,
      },
    );
    assert.deepEqual(sent.claims.sip, { call: true });
    assert.match(sent.userAgent ?? '', /^livekit-server-sdk-node\//);
    // Ringing came from the room participant's view of sip.callStatus; answer from both signals, once.
    assert.deepEqual(
      calls.filter((c) => c[1] === r.callId),
      [
        ['ringing', r.callId, `lk:${r.callId}:ringing`],
        ['answered', r.callId, `lk:${r.callId}:answered`],
      ],
    );
  });

  it('carries the identity in-band: X-Webdial-* headers on the INVITE, and the opted-in session number as DTMF after answer (issue 23)', async () => {
    const { gw, calls } = media();
    const r = request({ identity: { linkId: 'l-9', customerId: 'cust 7', sessionId: '4711', dtmfAfterAnswer: '4711#' } });
    const plain = request({ identity: { linkId: 'l-9', customerId: null, sessionId: null, dtmfAfterAnswer: null } });
    for (const x of [r, plain]) {
      lk.script(x.destination, { outcome: 'answer', ringAfterMs: 5, afterMs: 30 });
      await gw.dial(x);
    }
    await lk.waitFor(() => calls.filter((c) => c[0] === 'answered').some((c) => c[1] === plain.callId) && calls.some((c) => c[0] === 'answered' && c[1] === r.callId));
    const [sent] = requestsFor('CreateSIPParticipant', `call-${r.callId}`);
    assert.deepEqual(sent!.body.headers, {
      'X-Webdial-Call-Id': r.callId,
      'X-Webdial-Merchant': 'm1',
      'X-Webdial-Link': 'l-9',
      'X-Webdial-Customer': 'cust%207',
      'X-Webdial-Session': '4711',
    });
    assert.equal(sent!.body.dtmf, '4711#');
    const [other] = requestsFor('CreateSIPParticipant', `call-${plain.callId}`);
    assert.deepEqual(other!.body.headers, { 'X-Webdial-Call-Id': plain.callId, 'X-Webdial-Merchant': 'm1', 'X-Webdial-Link': 'l-9' });
    assert.equal(other!.body.dtmf, undefined, 'no DTMF when the center did not opt in');
  });

  it('joins its own room participant first, as a dependent agent that may send data only', async () => {
    const { gw, calls } = media();
    const r = request();
    await gw.dial(r);
    await lk.waitFor(() => calls.some((c) => c[0] === 'answered' && c[1] === r.callId));
    const join = lk.joins.find((j) => j.room === `call-${r.callId}`);
    assert.ok(join, 'server participant joined');
    const dialAt = requestsFor('CreateSIPParticipant', `call-${r.callId}`)[0]!.at;
    assert.ok(join.at <= dialAt, 'joined before dialling, so that it sees ringing');
    assert.equal(join.claims.kind, 'agent');
    assert.equal(join.claims.sub, `webdial-${r.callId}`);
    const video = join.claims.video as Record<string, unknown>;
    assert.equal(video.room, `call-${r.callId}`);
    assert.equal(video.roomJoin, true);
    assert.equal(video.canPublish, false);
    assert.equal(video.canPublishData, true);
    assert.equal(video.roomAdmin, undefined);
  });

  for (const [label, script, cause, sipStatus] of [
    ['busy (486, resource_exhausted)', { outcome: 'busy' }, 'BUSY', 486],
    ['declined (603, permission_denied)', { outcome: 'decline' }, 'REJECTED', 603],
    ['no answer as Twirp canceled', { outcome: 'noAnswer', code: 'canceled' }, 'NO_ANSWER', null],
    ['no answer as failed_precondition without SIP code', { outcome: 'noAnswer', code: 'failed_precondition' }, 'NO_ANSWER', null],
    ['a 503 from the carrier', { outcome: 'sipError', sipStatus: 503 }, 'FAILED', 503],
  ] as const) {
    it(`maps ${label} to ${cause}, once, and deletes the room`, async () => {
      const { gw, calls } = media();
      const r = request();
      lk.script(r.destination, script);
      await gw.dial(r);
      await lk.waitFor(() => terminatedOf(calls, r.callId) !== undefined);
      await lk.waitFor(() => !lk.rooms.has(`call-${r.callId}`));
      await new Promise((res) => setTimeout(res, 30)); // room deletion makes the leg leave again: still one report
      const reports = calls.filter((c) => c[1] === r.callId && c[0] === 'terminated');
      assert.deepEqual(reports, [['terminated', r.callId, cause, sipStatus, `lk:${r.callId}:terminated`]]);
      assert.equal(calls.some((c) => c[0] === 'answered' && c[1] === r.callId), false);
      const del = requestsFor('DeleteRoom', `call-${r.callId}`)[0];
      assert.ok(del, 'DeleteRoom sent');
      assert.equal((del.claims.video as Record<string, unknown>).roomCreate, true);
    });
  }

  it('an unknown trunk, or a wrong API secret, ends the call FAILED instead of throwing', async () => {
    const a = media({ sipTrunkId: 'ST_missing' });
    const r1 = request();
    await a.gw.dial(r1);
    await lk.waitFor(() => terminatedOf(a.calls, r1.callId) !== undefined);
    assert.deepEqual(terminatedOf(a.calls, r1.callId)!.slice(2, 4), ['FAILED', null]);

    const before = lk.requests.length;
    const b = media({ apiSecret: 'not-the-secret' }, { roomParticipantFactory: lk.roomParticipantFactory });
    const r2 = request();
    await b.gw.dial(r2);
    await lk.waitFor(() => terminatedOf(b.calls, r2.callId) !== undefined);
    assert.deepEqual(terminatedOf(b.calls, r2.callId)!.slice(2, 4), ['FAILED', null]);
    assert.equal(lk.requests.slice(before).some((q) => q.method === 'CreateSIPParticipant'), false, 'double refused the bad token');
    assert.ok(b.logger.lines.some((l) => /could not join/.test(l)), 'the room participant refused the bad token too');
  });

  it('creates the outbound trunk once when none is configured', async () => {
    const { gw, calls } = media({ sipTrunkId: undefined, outboundTrunk: { address: 'sip.carrier.example:5060', numbers: ['+15559990001'], authUsername: 'u', authPassword: 'p' } });
    const [r1, r2] = [request(), request()];
    await Promise.all([gw.dial(r1), gw.dial(r2)]);
    await lk.waitFor(() => calls.filter((c) => c[0] === 'answered').length === 2);
    const created = lk.requests.filter((q) => q.method === 'CreateSIPOutboundTrunk');
    assert.equal(created.length, 1);
    assert.deepEqual(created[0]!.claims.sip, { admin: true });
    const trunk = created[0]!.body.trunk as Record<string, unknown>;
    assert.deepEqual([trunk.address, trunk.numbers, trunk.authUsername], ['sip.carrier.example:5060', ['+15559990001'], 'u']);
    const ids = new Set(requestsFor('CreateSIPParticipant').filter((q) => [`call-${r1.callId}`, `call-${r2.callId}`].includes(String(q.body.roomName))).map((q) => q.body.sipTrunkId));
    assert.equal(ids.size, 1);
    assert.match(String([...ids][0]), /^ST_/);
  });

  it('one trunk per deployment: found by name at start-up by every process, updated when its address changed (issue 22)', async () => {
    const trunk = { name: 'deploy-22', address: 'sip.carrier.example:5060', numbers: ['+15559990001'] };
    const before = lk.requests.filter((q) => q.method === 'CreateSIPOutboundTrunk').length;
    const first = media({ sipTrunkId: undefined, outboundTrunk: trunk });
    const r1 = request();
    await first.gw.dial(r1); // the trunk was looked up at start-up; the dial uses it
    const second = media({ sipTrunkId: undefined, outboundTrunk: trunk });
    const r2 = request();
    await second.gw.dial(r2);
    await lk.waitFor(() => requestsFor('CreateSIPParticipant', `call-${r2.callId}`).length === 1);
    assert.equal(lk.requests.filter((q) => q.method === 'CreateSIPOutboundTrunk').length, before + 1, 'created once, by the first process');
    const used = [r1, r2].map((r) => requestsFor('CreateSIPParticipant', `call-${r.callId}`)[0]!.body.sipTrunkId);
    assert.equal(used[0], used[1]);
    assert.ok(second.logger.lines.includes('LiveKit outbound trunk found by name: reused'));
    // A restart with another carrier address keeps the trunk and updates it.
    const moved = media({ sipTrunkId: undefined, outboundTrunk: { ...trunk, address: 'sip2.carrier.example:5060' } });
    const r3 = request();
    await moved.gw.dial(r3);
    await lk.waitFor(() => requestsFor('CreateSIPParticipant', `call-${r3.callId}`).length === 1);
    assert.equal(requestsFor('CreateSIPParticipant', `call-${r3.callId}`)[0]!.body.sipTrunkId, used[0]);
    const update = lk.requests.filter((q) => q.method === 'UpdateSIPOutboundTrunk').at(-1);
    assert.equal((update?.body.replace as { address?: string } | undefined)?.address, 'sip2.carrier.example:5060');
    assert.equal(lk.requests.filter((q) => q.method === 'CreateSIPOutboundTrunk').length, before + 1, 'still one trunk');
  });

  it('a deleteRoom racing the room closing by itself is not a warning; a failing delete of a live room is (issue 22)', async () => {
    const { gw, logger } = media();
    const r = request();
    await gw.dial(r);
    await lk.waitFor(() => lk.rooms.has(`call-${r.callId}`));
    lk.closeWhileDeleting(`call-${r.callId}`);
    await gw.hangUp(r.callId);
    assert.equal(lk.rooms.has(`call-${r.callId}`), false);
    assert.ok(!logger.lines.includes('LiveKit deleteRoom failed'), logger.lines.join('\n'));
    assert.ok(logger.lines.includes('LiveKit deleteRoom raced the room closing by itself: gone'));
    const denied = media({ apiSecret: 'not-the-secret' });
    await denied.gw.hangUp('c-unknown');
    assert.ok(denied.logger.lines.includes('LiveKit deleteRoom failed; trying again'));
  });

  it('a deleteRoom that fails while the room is still there is tried again in the background, and the phone gets its BYE', async () => {
    const { gw, logger } = media();
    const r = request();
    await gw.dial(r);
    const room = `call-${r.callId}`;
    await lk.waitFor(() => lk.rooms.has(room));
    lk.failDeletes(room, 2);
    const t0 = Date.now();
    await gw.hangUp(r.callId);
    assert.ok(Date.now() - t0 < 400, `the hang-up is not held by the retries (${Date.now() - t0} ms)`);
    assert.equal(lk.rooms.has(room), true, 'the first delete failed');
    await lk.waitFor(() => !lk.rooms.has(room), 5_000);
    assert.equal(requestsFor('DeleteRoom', room).length, 3, 'two failures, then the delete');
    assert.equal(logger.lines.filter((l) => l === 'LiveKit deleteRoom failed; trying again').length, 2, logger.lines.join('\n'));
    // The double drops the room as it handles the request; the adapter logs once its answer is back.
    await lk.waitFor(() => logger.lines.includes('LiveKit deleteRoom succeeded on a retry'), 5_000);
  });

  it('rejects dial() when no trunk can be created, and tracks nothing', async () => {
    const { gw, calls } = media({ sipTrunkId: undefined, outboundTrunk: { name: 'never-created', address: 'sip.carrier.example', numbers: [] } });
    const r = request();
    await assert.rejects(gw.dial(r), (e: Error & { code?: string }) => e.code === 'invalid_argument');
    assert.equal(gw.isTracking(r.callId), false);
    assert.equal(requestsFor('CreateSIPParticipant', `call-${r.callId}`).length, 0);
    assert.deepEqual(calls, []);
  });

  it('refuses to start without any trunk', () => {
    assert.throws(() => media({ sipTrunkId: undefined }), /LIVEKIT_SIP_TRUNK_ID/);
  });

  it('joinDetails: a caller token for that room only, microphone only, short TTL', async () => {
    const { gw } = media({ publicUrl: 'wss://media.example.com' });
    const join = await gw.joinDetails('c-join');
    assert.equal(join.provider, 'livekit');
    assert.equal(join.url, 'wss://media.example.com');
    assert.equal(join.room, 'call-c-join');
    const claims = await new TokenVerifier(lk.apiKey, lk.apiSecret).verify(join.token!);
    assert.equal(claims.sub, 'caller-c-join');
    assert.equal(claims.exp! - claims.nbf!, 120);
    assert.equal(claims.kind, undefined);
    assert.deepEqual(claims.video, {
      roomJoin: true,
      room: 'call-c-join',
      canPublish: true,
      canPublishSources: ['microphone'],
      canSubscribe: true,
      canPublishData: false,
    });
    await assert.rejects(new TokenVerifier(lk.apiKey, 'other-secret').verify(join.token!));
  });

  it('hangUp deletes the room (which ends the SIP leg) and reports nothing itself; twice is harmless', async () => {
    const { gw, calls } = media();
    const r = request();
    await gw.dial(r);
    await lk.waitFor(() => calls.some((c) => c[0] === 'answered' && c[1] === r.callId));
    await gw.hangUp(r.callId);
    assert.equal(lk.rooms.has(`call-${r.callId}`), false);
    const del = requestsFor('DeleteRoom', `call-${r.callId}`);
    assert.equal(del.length, 1);
    await gw.hangUp(r.callId); // room gone: not_found is tolerated
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(terminatedOf(calls, r.callId), undefined);
  });

  it('a hang-up while the server participant is still joining dials nothing', async () => {
    let releaseJoin!: () => void;
    const slowJoin = (url: string) => {
      const p = lk.roomParticipantFactory(url);
      const connect = p.connect.bind(p);
      p.connect = async (room, token) => {
        await new Promise<void>((r) => (releaseJoin = r));
        await connect(room, token);
      };
      return p;
    };
    const { gw, calls } = media({}, { roomParticipantFactory: slowJoin });
    const r = request();
    assert.equal(gw.isTracking(r.callId), false);
    const dialling = gw.dial(r);
    await lk.waitFor(() => releaseJoin !== undefined && gw.isTracking(r.callId));
    await gw.hangUp(r.callId);
    assert.equal(gw.isTracking(r.callId), false);
    releaseJoin();
    await dialling;
    await new Promise((res) => setTimeout(res, 30));
    assert.equal(requestsFor('CreateSIPParticipant', `call-${r.callId}`).length, 0);
    assert.deepEqual(calls.filter((c) => c[1] === r.callId), []);
    assert.equal(lk.rooms.has(`call-${r.callId}`), false, 'the room our late join re-created is gone');
  });

  it('the callee hanging up after answer is a HANGUP with SIP status 200', async () => {
    const { gw, calls } = media();
    const r = request();
    await gw.dial(r);
    await lk.waitFor(() => calls.some((c) => c[0] === 'answered' && c[1] === r.callId));
    lk.calleeHangsUp(`call-${r.callId}`);
    await lk.waitFor(() => terminatedOf(calls, r.callId) !== undefined);
    assert.deepEqual(terminatedOf(calls, r.callId), ['terminated', r.callId, 'HANGUP', 200, `lk:${r.callId}:terminated`]);
  });

  it('our own max-duration timer ends an answered call', async () => {
    const scheduled: { fn: () => void; ms: number }[] = [];
    const { gw, calls } = media({}, {
      // Call-length timers are ours to fire; short ones (join timeout, DTMF gap) run for real.
      setTimeout: (fn, ms) => (ms >= 60_000 ? scheduled.push({ fn, ms }) : setTimeout(fn, ms)),
      clearTimeout: (h) => (typeof h === 'object' ? clearTimeout(h as NodeJS.Timeout) : undefined),
    });
    const r = request({ maxDurationSeconds: 90 });
    await gw.dial(r);
    await lk.waitFor(() => calls.some((c) => c[0] === 'answered' && c[1] === r.callId));
    assert.deepEqual(scheduled.map((s) => s.ms), [90_000], 'timer armed at answer with the call limit');
    assert.equal(terminatedOf(calls, r.callId), undefined);
    scheduled[0]!.fn();
    await lk.waitFor(() => terminatedOf(calls, r.callId) !== undefined && !lk.rooms.has(`call-${r.callId}`));
    assert.deepEqual(terminatedOf(calls, r.callId), ['terminated', r.callId, 'MAX_DURATION', null, `lk:${r.callId}:terminated`]);
    assert.equal(requestsFor('DeleteRoom', `call-${r.callId}`).length, 1);
  });

  it("a second leg joins the call's room with its own identity; its end and its hang-up remove only its phone; the call's hang-up ends both", async () => {
    const { gw, calls } = media();
    const r = request();
    const room = `call-${r.callId}`;
    await gw.dial(r);
    await lk.waitFor(() => calls.some((c) => c[0] === 'answered' && c[1] === r.callId));
    const leg = request({ callId: legIdOf(r.callId, 'shopper'), intoCallId: r.callId });
    await gw.dial(leg);
    await lk.waitFor(() => calls.some((c) => c[0] === 'answered' && c[1] === leg.callId));
    const dialled = requestsFor('CreateSIPParticipant', room).map((x) => x.body);
    assert.deepEqual(dialled.map((b) => b.participantIdentity), [`pstn-${r.callId}`, `pstn-${leg.callId}`], "both legs dialled into the call's room");
    assert.equal((dialled[1]!.participantAttributes as Record<string, string>).intoCallId, r.callId);
    // The phone of the second leg hangs up: reported under the leg's id; the call's own leg lives on.
    lk.calleeHangsUp(room, `pstn-${leg.callId}`);
    await lk.waitFor(() => terminatedOf(calls, leg.callId) !== undefined);
    assert.deepEqual(terminatedOf(calls, leg.callId), ['terminated', leg.callId, 'HANGUP', 200, `lk:${leg.callId}:terminated`]);
    assert.equal(requestsFor('DeleteRoom', room).length, 0, "the second leg's end does not delete the call's room");
    // Another second leg, hung up by us: removed from the room (a BYE to it), nothing reported.
    const t1 = request({ callId: legIdOf(r.callId, 't1'), intoCallId: r.callId });
    await gw.dial(t1);
    await lk.waitFor(() => calls.some((c) => c[0] === 'answered' && c[1] === t1.callId));
    await gw.hangUp(t1.callId);
    // (The first RemoveParticipant is the ended shopper leg's release: a phone already gone, not_found, harmless.)
    assert.deepEqual(requestsFor('RemoveParticipant', room).map((x) => x.body.identity), [`pstn-${leg.callId}`, `pstn-${t1.callId}`]);
    assert.equal(terminatedOf(calls, t1.callId), undefined);
    assert.equal(terminatedOf(calls, r.callId), undefined, 'the call is not ended by its legs');
    // The call's own callee is still followed: its hang-up ends the call.
    lk.calleeHangsUp(room, `pstn-${r.callId}`);
    await lk.waitFor(() => terminatedOf(calls, r.callId) !== undefined && !lk.rooms.has(room));
    assert.deepEqual(terminatedOf(calls, r.callId), ['terminated', r.callId, 'HANGUP', 200, `lk:${r.callId}:terminated`]);
    // A second leg whose call is hung up goes with the room, unreported.
    const r2 = request();
    await gw.dial(r2);
    const t2 = request({ callId: legIdOf(r2.callId, 't2'), intoCallId: r2.callId });
    await gw.dial(t2);
    await lk.waitFor(() => calls.some((c) => c[0] === 'answered' && c[1] === t2.callId));
    await gw.hangUp(r2.callId);
    assert.equal(gw.isTracking(t2.callId), false);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(terminatedOf(calls, t2.callId), undefined);
    await assert.rejects(gw.dial(request({ callId: 'c-other.t3', intoCallId: r2.callId })), (e: Error & { code?: string }) => e.code === 'BAD_USER_INPUT');
  });

  it('DTMF both ways: keyed digits reach the sink, sendDtmf publishes each digit', async () => {
    const { gw, calls, logger } = media();
    const r = request();
    await gw.dial(r);
    await lk.waitFor(() => calls.some((c) => c[0] === 'answered' && c[1] === r.callId));
    // 16 ("flash") is an RFC 4733 event but no DTMF key: refused with a log line; D arrives as "d".
    for (const d of ['*', '7', 16, '6', 'D']) lk.keyDtmf(`call-${r.callId}`, d);
    await lk.waitFor(() => calls.filter((c) => c[0] === 'dtmf' && c[1] === r.callId).length === 4);
    assert.deepEqual(
      calls.filter((c) => c[0] === 'dtmf' && c[1] === r.callId).map((c) => [c[2], c[3]]),
      [['*', `lk:${r.callId}:dtmf:1`], ['7', `lk:${r.callId}:dtmf:2`], ['6', `lk:${r.callId}:dtmf:3`], ['D', `lk:${r.callId}:dtmf:4`]],
    );
    assert.ok(logger.lines.some((l) => /DTMF refused: RFC 4733 event 16/.test(l)));
    await gw.sendDtmf(r.callId, '#12');
    assert.deepEqual(lk.dtmfSent.get(`call-${r.callId}`), ['#', '1', '2']);
    await assert.rejects(gw.sendDtmf(r.callId, '1x'), (e: Error & { code?: string }) => e.code === 'BAD_USER_INPUT');
  });
});

describe('LiveKit double: grants and Twirp errors, as the SDK sees them', () => {
  let lk: LiveKitDouble;
  before(async () => {
    lk = await startLiveKitDouble();
  });
  after(async () => lk.close());

  it('RemoveParticipant needs roomAdmin for that room; DeleteRoom answers not_found like Twirp', async () => {
    const rooms = new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret);
    await assert.rejects(rooms.deleteRoom('nope'), (e: Error & { code?: string; status?: number }) => e.code === 'not_found' && e.status === 404);
    await assert.rejects(rooms.removeParticipant('nope', 'x'), (e: Error & { code?: string }) => e.code === 'not_found');
    const remove = lk.requests.find((q) => q.method === 'RemoveParticipant')!;
    assert.deepEqual(remove.claims.video, { roomAdmin: true, room: 'nope' });
    const res = await fetch(`${lk.url}/twirp/livekit.RoomService/DeleteRoom`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${lk.signWebhook('{}')}` }, // valid JWT, no grants
      body: JSON.stringify({ room: 'x' }),
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(((await res.json()) as { code: string }).code, 'permission_denied');
  });
});
