import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SipCallError, TwirpError } from 'livekit-server-sdk';
import { causeAfterAnswer, causeFromDisconnectReason, dialFailureOutcome, outcomeOfDisconnectReason, outcomeOfSipStatus, type DialOutcome } from './causes';

const sipError = (code: string, msg = 'm', meta?: Record<string, string>) => SipCallError.fromServerError(new TwirpError('x', msg, 400, code, meta));
const o = (cause: DialOutcome['cause'], sipStatus: number | null = null, reason: DialOutcome['reason'] = null): DialOutcome => ({ cause, sipStatus, reason });

describe('LiveKit cause mapping (the one table, issue 22)', () => {
  it('given a SIP final response, then busy, rejected, no answer, or FAILED with the trunk as the reason', () => {
    const table: [number, DialOutcome][] = [
      [486, o('BUSY', 486)],
      [600, o('REJECTED', 600)],
      [603, o('REJECTED', 603)],
      [404, o('NO_ANSWER', 404)],
      [408, o('NO_ANSWER', 408)],
      [480, o('NO_ANSWER', 480)],
      [487, o('NO_ANSWER', 487)],
      [401, o('FAILED', 401, 'TRUNK_REFUSED')],
      [403, o('FAILED', 403, 'TRUNK_REFUSED')],
      [488, o('FAILED', 488, 'TRUNK_REFUSED')],
      [500, o('FAILED', 500, 'TRUNK_ERROR')],
      [503, o('FAILED', 503, 'TRUNK_ERROR')],
      [504, o('FAILED', 504, 'TRUNK_ERROR')],
    ];
    for (const [status, expected] of table) assert.deepEqual(outcomeOfSipStatus(status), expected, `SIP ${status}`);
  });

  it('given the SDK error of a waitUntilAnswered dial, then the SIP status wins over the Twirp code', () => {
    assert.deepEqual(dialFailureOutcome(sipError('resource_exhausted', 'Busy Here', { sip_status_code: '486', sip_status: 'Busy Here' })), o('BUSY', 486));
    assert.deepEqual(dialFailureOutcome(sipError('permission_denied', 'Decline', { sip_status_code: '603' })), o('REJECTED', 603));
    assert.deepEqual(dialFailureOutcome(sipError('failed_precondition', 'Service Unavailable', { sip_status_code: '503' })), o('FAILED', 503, 'TRUNK_ERROR'));
  });

  it('given a timeout without a SIP status, then NO_ANSWER only if the far end rang; otherwise the trunk never responded', () => {
    for (const e of [sipError('canceled', 'sip request timed out'), sipError('failed_precondition', 'context deadline exceeded'), sipError('deadline_exceeded', 'x'), Object.assign(new Error('t'), { name: 'TimeoutError' })]) {
      assert.deepEqual(dialFailureOutcome(e, { rang: true }), o('NO_ANSWER'), String(e));
      assert.deepEqual(dialFailureOutcome(e, { rang: false }), o('FAILED', null, 'TRUNK_NO_RESPONSE'), String(e));
    }
  });

  it('given an INVITE transaction that ended without a final response (Timer B), then FAILED TRUNK_NO_RESPONSE, rung or not', () => {
    const e = sipError('canceled', 'transaction failed to complete (0 intermediate responses)');
    assert.deepEqual(dialFailureOutcome(e, { rang: false }), o('FAILED', null, 'TRUNK_NO_RESPONSE'));
    assert.deepEqual(dialFailureOutcome(e, { rang: true }), o('FAILED', null, 'TRUNK_NO_RESPONSE'));
  });

  it('given other failures without a SIP status, then FAILED with what failed (failed_precondition is never "no answer" by itself)', () => {
    assert.deepEqual(dialFailureOutcome(sipError('failed_precondition', 'sdp: syntax error at line 3')), o('FAILED', null, 'MEDIA'));
    assert.deepEqual(dialFailureOutcome(sipError('failed_precondition', 'server requested authentication, but no credentials')), o('FAILED', null, 'TRUNK_REFUSED'));
    assert.deepEqual(dialFailureOutcome(sipError('unavailable', 'cpu exhausted')), o('FAILED', null, 'MEDIA_SERVER_UNAVAILABLE'));
    assert.deepEqual(dialFailureOutcome(sipError('internal', 'write udp 127.0.0.1:5060: connection refused')), o('FAILED', null, 'TRANSPORT'));
    assert.deepEqual(dialFailureOutcome(sipError('canceled', 'transport error: no route to host'), { rang: true }), o('FAILED', null, 'TRANSPORT'));
    assert.deepEqual(dialFailureOutcome(sipError('internal', 'something else')), o('FAILED', null, 'UNKNOWN'));
    assert.deepEqual(dialFailureOutcome(new Error('fetch failed')), o('FAILED', null, 'TRANSPORT'));
    assert.deepEqual(dialFailureOutcome('not an error'), o('FAILED', null, 'TRANSPORT'));
  });

  it('given a disconnect reason before answer, then its outcome, or null when it says nothing about the callee', () => {
    assert.deepEqual(outcomeOfDisconnectReason('USER_REJECTED'), o('REJECTED'));
    assert.deepEqual(outcomeOfDisconnectReason('USER_UNAVAILABLE'), o('NO_ANSWER'));
    assert.deepEqual(outcomeOfDisconnectReason('SIP_TRUNK_FAILURE'), o('FAILED', null, 'TRUNK_ERROR'));
    assert.deepEqual(outcomeOfDisconnectReason('MEDIA_FAILURE'), o('FAILED', null, 'MEDIA'));
    assert.equal(causeFromDisconnectReason('ROOM_DELETED'), null);
    assert.equal(causeFromDisconnectReason('CLIENT_INITIATED'), null);
    assert.equal(causeFromDisconnectReason(null), null);
  });

  it('after answer a BYE is a hang-up and a trunk failure stays FAILED', () => {
    assert.equal(causeAfterAnswer('CLIENT_INITIATED'), 'HANGUP');
    assert.equal(causeAfterAnswer('USER_REJECTED'), 'HANGUP');
    assert.equal(causeAfterAnswer('SIP_TRUNK_FAILURE'), 'FAILED');
    assert.equal(causeAfterAnswer(null), 'HANGUP');
  });

  it('every FAILED outcome has a reason and no other outcome has one', () => {
    const samples = [
      ...[400, 401, 403, 404, 408, 480, 486, 487, 488, 500, 503, 600, 603, 699].map(outcomeOfSipStatus),
      ...['USER_REJECTED', 'USER_UNAVAILABLE', 'SIP_TRUNK_FAILURE', 'MEDIA_FAILURE', 'CONNECTION_TIMEOUT', 'JOIN_FAILURE'].map((r) => outcomeOfDisconnectReason(r)!),
      ...['canceled', 'failed_precondition', 'unavailable', 'internal', 'deadline_exceeded'].flatMap((c) => [true, false].map((rang) => dialFailureOutcome(sipError(c), { rang }))),
    ];
    for (const s of samples) assert.equal(s.cause === 'FAILED', s.reason !== null, JSON.stringify(s));
  });
});
