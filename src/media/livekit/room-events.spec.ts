import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyRoomEvent,
  callIdFromRoom,
  dialSettled,
  dtmfCode,
  dtmfDigitOf,
  inboundLegState,
  initialLegState,
  isInboundCallId,
  terminate,
  type LegRoomEvent,
  type LegState,
  type ProgressReport,
} from './room-events';

const sip = 'pstn-c1';
const status = (s: string, identity = sip): LegRoomEvent => ({ type: 'attributes', identity, attributes: { callId: 'c1', 'sip.callStatus': s } });
const left = (disconnectReason: string | null): LegRoomEvent => ({ type: 'participantLeft', identity: sip, disconnectReason, attributes: {} });
const dtmf = (digit: string): LegRoomEvent => ({ type: 'dtmf', identity: sip, code: dtmfCode(digit)!, digit });

/** Folds events (or explicit steps) from a fresh leg and returns every report, in order. */
const run = (...steps: ((s: LegState) => { state: LegState; reports: ProgressReport[] })[]) => {
  let state = initialLegState('c1');
  const reports: ProgressReport[] = [];
  for (const step of steps) {
    const r = step(state);
    state = r.state;
    reports.push(...r.reports);
  }
  return { state, reports };
};
const ev = (e: LegRoomEvent) => (s: LegState) => applyRoomEvent(s, e);

describe('room events → progress reports', () => {
  it('sip.callStatus ringing → ringing once, active → answered once', () => {
    const { reports } = run(ev(status('dialing')), ev(status('ringing')), ev(status('ringing')), ev(status('active')), ev(status('active')));
    assert.deepEqual(reports, [
      { kind: 'ringing', gatewayEventId: 'lk:c1:ringing' },
      { kind: 'answered', gatewayEventId: 'lk:c1:answered' },
    ]);
  });

  it('answer without a ringing phase is still an answer; ringing after answer is ignored', () => {
    const { reports } = run(ev(status('active')), ev(status('ringing')));
    assert.deepEqual(reports.map((r) => r.kind), ['answered']);
  });

  it('ignores other participants (the caller, our own agent)', () => {
    const { reports } = run(ev(status('ringing', 'caller-c1')), ev({ type: 'participantLeft', identity: 'caller-c1', disconnectReason: 'CLIENT_INITIATED', attributes: {} }));
    assert.deepEqual(reports, []);
  });

  it('answer from the RPC and from the attribute dedupe to one report with one id', () => {
    const { reports } = run(ev(status('ringing')), (s) => dialSettled(s, { ok: true }), ev(status('active')));
    assert.deepEqual(reports.map((r) => r.gatewayEventId), ['lk:c1:ringing', 'lk:c1:answered']);
  });

  it('an unanswered leg that leaves while the RPC is pending waits for the RPC, which has the SIP status', () => {
    const { reports } = run(ev(status('ringing')), ev(left('USER_REJECTED')), (s) => dialSettled(s, { ok: false, cause: 'BUSY', sipStatus: 486, reason: null }));
    assert.deepEqual(reports[1], { kind: 'terminated', cause: 'BUSY', sipStatus: 486, reason: null, gatewayEventId: 'lk:c1:terminated' });
    assert.equal(reports.length, 2);
  });

  it('after the RPC settled, an unanswered leave maps its disconnect reason', () => {
    const failed = run((s) => ({ state: { ...s, dialPending: false }, reports: [] }), ev(left('USER_UNAVAILABLE')));
    assert.deepEqual(failed.reports, [{ kind: 'terminated', cause: 'NO_ANSWER', sipStatus: null, reason: null, gatewayEventId: 'lk:c1:terminated' }]);
  });

  it('a talking leg that leaves is a HANGUP, or FAILED on a trunk failure', () => {
    assert.equal((run(ev(status('active')), ev(left('CLIENT_INITIATED'))).reports[1] as { cause: string }).cause, 'HANGUP');
    assert.equal((run(ev(status('active')), ev(left('SIP_TRUNK_FAILURE'))).reports[1] as { cause: string }).cause, 'FAILED');
  });

  it('a failed dial carries its reason to the report; a leave with an unknown reason is FAILED UNKNOWN', () => {
    const noResponse = run((s) => dialSettled(s, { ok: false, cause: 'FAILED', sipStatus: null, reason: 'TRUNK_NO_RESPONSE' }));
    assert.deepEqual(noResponse.reports, [{ kind: 'terminated', cause: 'FAILED', sipStatus: null, reason: 'TRUNK_NO_RESPONSE', gatewayEventId: 'lk:c1:terminated' }]);
    const trunk = run((s) => ({ state: { ...s, dialPending: false }, reports: [] }), ev(left('SIP_TRUNK_FAILURE')));
    assert.deepEqual(trunk.reports, [{ kind: 'terminated', cause: 'FAILED', sipStatus: null, reason: 'TRUNK_ERROR', gatewayEventId: 'lk:c1:terminated' }]);
    const unknown = run((s) => ({ state: { ...s, dialPending: false }, reports: [] }), ev(left('SOMETHING_NEW')));
    assert.deepEqual(unknown.reports, [{ kind: 'terminated', cause: 'FAILED', sipStatus: null, reason: 'UNKNOWN', gatewayEventId: 'lk:c1:terminated' }]);
  });

  it('a failed RPC after answer is not a termination', () => {
    const { reports, state } = run(ev(status('active')), (s) => dialSettled(s, { ok: false, cause: 'NO_ANSWER', sipStatus: null, reason: null }));
    assert.deepEqual(reports.map((r) => r.kind), ['answered']);
    assert.equal(state.terminated, false);
  });

  it('DTMF digits become one report each, numbered for dedupe', () => {
    const { reports } = run(ev(status('active')), ev(dtmf('*')), ev(dtmf('7')), ev(dtmf('6')));
    assert.deepEqual(reports.slice(1), [
      { kind: 'dtmf', digits: '*', gatewayEventId: 'lk:c1:dtmf:1' },
      { kind: 'dtmf', digits: '7', gatewayEventId: 'lk:c1:dtmf:2' },
      { kind: 'dtmf', digits: '6', gatewayEventId: 'lk:c1:dtmf:3' },
    ]);
  });

  it('DTMF is read from the RFC 4733 code, as livekit/sip sends it: A-D arrive as "a"-"d", other events as "\\u0000"', () => {
    const raw = (code: number, digit: string): LegRoomEvent => ({ type: 'dtmf', identity: sip, code, digit });
    const { reports } = run(ev(status('active')), ev(raw(12, 'a')), ev(raw(16, '\u0000')), ev(raw(17, '\u0000')), ev(raw(15, 'd')));
    assert.deepEqual(reports.slice(1), [
      { kind: 'dtmf', digits: 'A', gatewayEventId: 'lk:c1:dtmf:1' },
      { kind: 'dtmf', digits: 'D', gatewayEventId: 'lk:c1:dtmf:2' },
    ]);
    assert.deepEqual([0, 9, 10, 11, 12, 15, 16, 255, -1].map(dtmfDigitOf), ['0', '9', '*', '#', 'A', 'D', null, null, null]);
  });

  it("a callee's BYE after answer is a HANGUP with the call's SIP status 200", () => {
    const { reports } = run(ev(status('active')), ev(left('CLIENT_INITIATED')));
    assert.deepEqual(reports[1], { kind: 'terminated', cause: 'HANGUP', sipStatus: 200, reason: null, gatewayEventId: 'lk:c1:terminated' });
  });

  it('terminates once: everything after the end is a no-op', () => {
    const { reports } = run(
      ev(status('active')),
      (s) => terminate(s, 'MAX_DURATION', null),
      ev(left('CLIENT_INITIATED')),
      ev(dtmf('1')),
      (s) => terminate(s, 'HANGUP', null),
    );
    assert.deepEqual(reports.map((r) => r.kind), ['answered', 'terminated']);
    assert.equal((reports[1] as { cause: string }).cause, 'MAX_DURATION');
  });

  it('RFC 4733 codes and room names', () => {
    assert.deepEqual(['0', '9', '*', '#', 'A', 'd'].map(dtmfCode), [0, 9, 10, 11, 12, 15]);
    assert.equal(dtmfCode('x'), null);
    assert.equal(dtmfCode('12'), null);
    assert.equal(callIdFromRoom('call-abc'), 'abc');
    assert.equal(callIdFromRoom('other'), null);
    assert.equal(callIdFromRoom('call-'), null);
  });
});

describe('room events of an inbound call (a phone called one of our numbers) → progress reports', () => {
  const callId = 'in_+33100000301_AbCdEfGhJkLm';
  const caller = 'sip_+33612345678';
  const fold = (...events: LegRoomEvent[]) => {
    let state = inboundLegState(callId, caller);
    const reports: ProgressReport[] = [];
    for (const e of events) {
      const r = applyRoomEvent(state, e);
      state = r.state;
      reports.push(...r.reports);
    }
    return { state, reports };
  };
  const st = (s: string, identity = caller): LegRoomEvent => ({ type: 'attributes', identity, attributes: { 'sip.callStatus': s, 'sip.phoneNumber': '+33612345678' } });
  const gone = (disconnectReason: string | null, identity = caller): LegRoomEvent => ({ type: 'participantLeft', identity, disconnectReason, attributes: {} });
  const key = (digit: string, identity = caller): LegRoomEvent => ({ type: 'dtmf', identity, code: dtmfCode(digit)!, digit });

  it("follows LiveKit's participant sip_<caller>: ringing is not reported again, active → answered, the caller's keys → dtmf, its BYE → HANGUP 200", () => {
    const { reports, state } = fold(st('ringing'), st('active'), key('5'), key('#'), gone('CLIENT_INITIATED'));
    assert.deepEqual(reports, [
      { kind: 'answered', gatewayEventId: `lk:${callId}:answered` },
      { kind: 'dtmf', digits: '5', gatewayEventId: `lk:${callId}:dtmf:1` },
      { kind: 'dtmf', digits: '#', gatewayEventId: `lk:${callId}:dtmf:2` },
      { kind: 'terminated', cause: 'HANGUP', sipStatus: 200, reason: null, gatewayEventId: `lk:${callId}:terminated` },
    ]);
    assert.equal(state.terminated, true);
  });

  it('ignores everyone else: an outbound-style pstn-<callId>, our server participant, an agent publishing its microphone', () => {
    const { reports } = fold(st('active', `pstn-${callId}`), key('1', `webdial-${callId}`), gone('CLIENT_INITIATED', 'agent-k1'), st('ringing'));
    assert.deepEqual(reports, []);
  });

  it('the caller hanging up while it rings is a HANGUP without SIP status (there is no dial RPC to wait for)', () => {
    assert.deepEqual(fold(st('ringing'), gone('CLIENT_INITIATED')).reports, [
      { kind: 'terminated', cause: 'HANGUP', sipStatus: null, reason: null, gatewayEventId: `lk:${callId}:terminated` },
    ]);
    assert.deepEqual(fold(gone('MEDIA_FAILURE')).reports.map((r) => r.kind === 'terminated' && [r.cause, r.reason]), [['FAILED', 'MEDIA']]);
  });

  it('the room of an inbound call names its call id; other rooms are not inbound', () => {
    assert.equal(callIdFromRoom('call-in_+33100000301_AbCdEfGhJkLm'), callId);
    assert.equal(isInboundCallId(callId), true);
    assert.equal(isInboundCallId('c1'), false);
    assert.equal(isInboundCallId('in_'), false);
    assert.equal(initialLegState('c1').inbound, false);
  });
});
