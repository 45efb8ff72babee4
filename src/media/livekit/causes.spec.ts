import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SipCallError, TwirpError } from 'livekit-server-sdk';
import { causeAfterAnswer, causeFromDisconnectReason, causeFromSipStatus, dialFailureOutcome } from './causes';

describe('LiveKit cause mapping', () => {
  it('maps SIP final responses to the contract causes', () => {
    const table: [number, string][] = [
      [486, 'BUSY'],
      [600, 'REJECTED'],
      [603, 'REJECTED'],
      [404, 'NO_ANSWER'],
      [408, 'NO_ANSWER'],
      [480, 'NO_ANSWER'],
      [487, 'NO_ANSWER'],
      [403, 'FAILED'],
      [500, 'FAILED'],
      [503, 'FAILED'],
      [504, 'FAILED'],
    ];
    for (const [status, cause] of table) assert.equal(causeFromSipStatus(status), cause, `SIP ${status}`);
  });

  it('maps disconnect reasons before answer, and knows which say nothing about the callee', () => {
    assert.equal(causeFromDisconnectReason('USER_REJECTED'), 'REJECTED');
    assert.equal(causeFromDisconnectReason('USER_UNAVAILABLE'), 'NO_ANSWER');
    assert.equal(causeFromDisconnectReason('SIP_TRUNK_FAILURE'), 'FAILED');
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

  it('reads the SDK errors of a waitUntilAnswered dial', () => {
    const sipError = (code: string, meta?: Record<string, string>) => SipCallError.fromServerError(new TwirpError('x', 'm', 400, code, meta));
    assert.deepEqual(dialFailureOutcome(sipError('resource_exhausted', { sip_status_code: '486', sip_status: 'Busy Here' })), { cause: 'BUSY', sipStatus: 486 });
    assert.deepEqual(dialFailureOutcome(sipError('permission_denied', { sip_status_code: '603' })), { cause: 'REJECTED', sipStatus: 603 });
    assert.deepEqual(dialFailureOutcome(sipError('failed_precondition', { sip_status_code: '503' })), { cause: 'FAILED', sipStatus: 503 });
    // No answer has no SIP code, and arrives under two different Twirp codes.
    assert.deepEqual(dialFailureOutcome(sipError('canceled')), { cause: 'NO_ANSWER', sipStatus: null });
    assert.deepEqual(dialFailureOutcome(sipError('failed_precondition')), { cause: 'NO_ANSWER', sipStatus: null });
    assert.deepEqual(dialFailureOutcome(sipError('internal')), { cause: 'FAILED', sipStatus: null });
    assert.deepEqual(dialFailureOutcome(new Error('fetch failed')), { cause: 'FAILED', sipStatus: null });
    assert.deepEqual(dialFailureOutcome(Object.assign(new Error('t'), { name: 'TimeoutError' })), { cause: 'NO_ANSWER', sipStatus: null });
  });
});
