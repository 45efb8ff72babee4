import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { headerValue, identityHeaders, IDENTITY_HEADER_MAX } from './identity-headers';

describe('the X-Webdial-* headers of an outbound INVITE (issue 23)', () => {
  const base = { callId: 'c-1', merchantId: 'm-1' };
  it('all five names, with their values', () =>
    assert.deepEqual(identityHeaders({ ...base, identity: { linkId: 'l-1', customerId: 'cust-7', sessionId: '4711', dtmfAfterAnswer: null } }), {
      'X-Webdial-Call-Id': 'c-1',
      'X-Webdial-Merchant': 'm-1',
      'X-Webdial-Link': 'l-1',
      'X-Webdial-Customer': 'cust-7',
      'X-Webdial-Session': '4711',
    }));
  it('absent ids send no header', () =>
    assert.deepEqual(Object.keys(identityHeaders({ ...base, identity: { linkId: 'l-1', customerId: null, sessionId: '', dtmfAfterAnswer: null } })), [
      'X-Webdial-Call-Id',
      'X-Webdial-Merchant',
      'X-Webdial-Link',
    ]));
  it('without identity (older callers): the call and the merchant', () => assert.deepEqual(Object.keys(identityHeaders(base)), ['X-Webdial-Call-Id', 'X-Webdial-Merchant']));
  it('what could break the SIP message is percent-encoded', () => {
    assert.equal(headerValue('a\r\nVia: evil'), 'a%0D%0AVia%3A%20evil');
    assert.equal(headerValue('é"<>;'), '%C3%A9%22%3C%3E%3B');
  });
  it(`a value longer than ${IDENTITY_HEADER_MAX} characters encoded is left out`, () => {
    assert.equal(headerValue('x'.repeat(IDENTITY_HEADER_MAX)), 'x'.repeat(IDENTITY_HEADER_MAX));
    assert.equal(headerValue('x'.repeat(IDENTITY_HEADER_MAX + 1)), null);
    assert.equal(headerValue('é'.repeat(30)), null); // 180 encoded characters
  });
  it('a lone surrogate is not text: left out', () => assert.equal(headerValue('a\ud800'), null));
  it('property: every value sent is bounded, printable token characters, and decodes back to the id', () =>
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (id) => {
        const v = headerValue(id);
        if (v === null) return true;
        return v.length <= IDENTITY_HEADER_MAX && /^[A-Za-z0-9\-._~%]+$/.test(v) && decodeURIComponent(v) === id;
      }),
    ));
});
