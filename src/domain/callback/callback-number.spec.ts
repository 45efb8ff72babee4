import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DomainError } from '../shared/errors';
import { assertCallbackPrefixes, callingCodeOf, effectiveCallbackPrefixes } from './callback-number';

describe('callback numbers: calling codes and the default prefixes (issue 25)', () => {
  it('the calling code of a number: one digit (+1, +7), two or three', () => {
    assert.deepEqual(['+14155550100', '+74951234567', '+33123456789', '+442071234567', '+353123456', '+97212345678', '+8613812345678', '+2348012345678'].map(callingCodeOf), ['+1', '+7', '+33', '+44', '+353', '+972', '+86', '+234']);
    assert.equal(callingCodeOf('0612345678'), null);
  });
  it('every E.164 number starts with its calling code', () =>
    fc.assert(fc.property(fc.stringMatching(/^\+[1-9]\d{1,14}$/), (n) => n.startsWith(callingCodeOf(n)!))));
  it("unset: the calling codes of the merchant's centers, sorted, once each; set: the merchant's own", () => {
    assert.deepEqual(effectiveCallbackPrefixes(null, ['+33100000001', '+3225550100', '+33100000002']), ['+32', '+33']);
    assert.deepEqual(effectiveCallbackPrefixes(['+1416'], ['+33100000001']), ['+1416']);
    assert.deepEqual(effectiveCallbackPrefixes([], ['+33100000001']), [], 'an empty list calls back nobody');
  });
  it('a prefix list is bounded: at most 50, each + and 1 to 6 digits', () => {
    assert.deepEqual(assertCallbackPrefixes(['+1', '+999999', '+1']), ['+1', '+999999']);
    for (const bad of [['+1234567'], ['+'], ['1'], [3], Array.from({ length: 51 }, () => '+1'), null])
      assert.throws(() => assertCallbackPrefixes(bad), (e: unknown) => e instanceof DomainError && e.details?.reason === 'CALLBACK_PREFIXES_INVALID', JSON.stringify(bad));
  });
});
