import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rateLegs } from './legs';
import { rateCall } from './rating';
import type { RatePlan } from './rate-plan';

const PLAN: RatePlan = { version: 1, currency: 'EUR', connectionFeeMinor: 10, ratePerMinuteMinor: 60, firstIncrementSeconds: 1, nextIncrementSeconds: 1, minimumChargeMinor: 0, prefixRates: [] };
const T0 = Date.parse('2026-12-07T10:00:00.000Z');
const t = (s: number) => new Date(T0 + s * 1000).toISOString();

describe('rateLegs: a call split at its hand-overs (issue 25)', () => {
  it('given no transfer: one leg, rated exactly as the whole call', () => {
    const [leg, ...rest] = rateLegs(PLAN, '+331', 'OUTBOUND', [{ at: t(0), callCenterId: 'cc-1', agent: 'ag-1' }], t(90));
    assert.deepEqual(rest, []);
    const whole = rateCall(PLAN, '+331', 90_000);
    assert.deepEqual(leg, { callCenterId: 'cc-1', agent: 'ag-1', talkMs: 90_000, billableSeconds: whole.billableSeconds, amountMinor: whole.amountMinor });
  });
  it('given a transfer at 30 s of 90: two legs of 30 s and 60 s, each with its connection fee', () => {
    const legs = rateLegs(PLAN, '+331', 'OUTBOUND', [{ at: t(0), callCenterId: 'cc-1', agent: 'ag-1' }, { at: t(30), callCenterId: 'cc-2', agent: 'ag-3' }], t(90));
    assert.deepEqual(
      legs.map((l) => [l.callCenterId, l.agent, l.talkMs, l.billableSeconds, l.amountMinor]),
      [
        ['cc-1', 'ag-1', 30_000, 30, 10 + 30],
        ['cc-2', 'ag-3', 60_000, 60, 10 + 60],
      ],
    );
  });
  it('given a hand-over recorded after the end (a race): clamped, its leg is empty and the first has all the talk', () => {
    const legs = rateLegs(PLAN, '+331', 'OUTBOUND', [{ at: t(0), callCenterId: 'cc-1', agent: 'ag-1' }, { at: t(95), callCenterId: 'cc-2', agent: 'ag-3' }], t(90));
    assert.deepEqual(legs.map((l) => l.talkMs), [90_000, 0]);
    assert.equal(legs[1]!.amountMinor, 0, 'an empty leg costs nothing');
  });
  it('property: the legs add up to the whole talk time, whatever the hand-overs', () =>
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3600 }), fc.array(fc.integer({ min: -10, max: 4000 }), { maxLength: 10 }), (end, cuts) => {
        const hands = [{ at: t(0), callCenterId: 'a', agent: null }, ...[...cuts].sort((a, b) => a - b).map((c) => ({ at: t(c), callCenterId: 'b', agent: null }))];
        const legs = rateLegs(PLAN, '+331', 'OUTBOUND', hands, t(end));
        assert.equal(legs.length, hands.length);
        assert.equal(legs.reduce((s, l) => s + l.talkMs, 0), end * 1000);
      }),
    ));
});
