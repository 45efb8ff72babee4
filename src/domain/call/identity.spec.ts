import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { centerIdentityOf, identityDtmfOf, isSessionNumber, sessionNumberOf, SESSION_NUMBER_MAX_DIGITS } from './identity';

describe('the session number played as DTMF (issue 23)', () => {
  it('a numeric session id is the number', () => assert.equal(sessionNumberOf({ sessionId: '4711', customerId: '99' }), '4711'));
  it('else a numeric customer id', () => assert.equal(sessionNumberOf({ sessionId: 'sess-9', customerId: '0042' }), '0042'));
  it('neither numeric: none', () => assert.equal(sessionNumberOf({ sessionId: 'sess-9', customerId: 'cust-7' }), null));
  it('nulls: none', () => assert.equal(sessionNumberOf({ sessionId: null, customerId: null }), null));
  it(`more than ${SESSION_NUMBER_MAX_DIGITS} digits is not a number to key`, () =>
    assert.equal(sessionNumberOf({ sessionId: '1'.repeat(SESSION_NUMBER_MAX_DIGITS + 1), customerId: null }), null));
  it('no sign, space, star or hash', () => {
    for (const s of ['-1', '+1', '1 2', '12*', '12#', '', '١٢']) assert.equal(isSessionNumber(s), false, s);
  });
  it('the digits end with #', () => {
    assert.equal(identityDtmfOf('4711'), '4711#');
    assert.equal(identityDtmfOf(null), null);
  });
  it('property: what is played is only DTMF keys 0-9 then one #, at most 17 of them', () =>
    fc.assert(
      fc.property(fc.option(fc.string(), { nil: null }), fc.option(fc.string(), { nil: null }), (sessionId, customerId) => {
        const digits = identityDtmfOf(sessionNumberOf({ sessionId, customerId }));
        if (digits === null) return true;
        return /^[0-9]{1,16}#$/.test(digits) && [sessionId, customerId].includes(digits.slice(0, -1));
      }),
    ));
  it("what a center is told: the click's ids, and the session digits only for a center that opted in", () => {
    const click = { linkId: 'l1', customerId: 'cust-7', sessionId: '4711' };
    assert.deepEqual(centerIdentityOf(click, { identityDtmf: true }), { linkId: 'l1', customerId: 'cust-7', sessionId: '4711', dtmfAfterAnswer: '4711#' });
    assert.deepEqual(centerIdentityOf(click, { identityDtmf: false }), { linkId: 'l1', customerId: 'cust-7', sessionId: '4711', dtmfAfterAnswer: null });
    assert.deepEqual(centerIdentityOf({ linkId: null, customerId: null, sessionId: null }, { identityDtmf: true }), { linkId: '', customerId: null, sessionId: null, dtmfAfterAnswer: null });
  });
});
