import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { billableSecondsFor, rateCall, rateFor, RATING_ROUNDING } from './rating';
import type { RatePlan } from './rate-plan';
import { DomainError } from '../shared/errors';

const plan = (over: Partial<RatePlan> = {}): RatePlan => ({
  version: 1,
  currency: 'EUR',
  connectionFeeMinor: 10,
  ratePerMinuteMinor: 12,
  firstIncrementSeconds: 60,
  nextIncrementSeconds: 60,
  minimumChargeMinor: 0,
  prefixRates: [],
  ...over,
});

describe('rateCall examples', () => {
  it('60/60: 61 s bill 120 s', () => {
    assert.deepEqual(rateCall(plan(), '+33123456789', 61), { amountMinor: 10 + 24, billableSeconds: 120, ratePerMinuteMinor: 12, rounding: RATING_ROUNDING });
  });
  it('60/60: 1 s bills a whole first minute', () => {
    assert.equal(rateCall(plan(), '+33123456789', 1).billableSeconds, 60);
    assert.equal(rateCall(plan(), '+33123456789', 60).billableSeconds, 60);
  });
  it('30/6: 31 s bill 36 s, money rounded up once per call', () => {
    const r = rateCall(plan({ firstIncrementSeconds: 30, nextIncrementSeconds: 6, ratePerMinuteMinor: 7, connectionFeeMinor: 0 }), '+1', 31);
    assert.equal(r.billableSeconds, 36);
    assert.equal(r.amountMinor, Math.ceil((36 * 7) / 60)); // 4.2 → 5
    assert.equal(r.amountMinor, 5);
  });
  it('1/1: per second, 61 s at 100/min = 101.67 → 102', () => {
    const r = rateCall(plan({ firstIncrementSeconds: 1, nextIncrementSeconds: 1, ratePerMinuteMinor: 100, connectionFeeMinor: 0 }), '+1', 61);
    assert.deepEqual([r.billableSeconds, r.amountMinor], [61, 102]);
  });
  it('the rounding is once per call, not per increment (per-increment rounding would give more)', () => {
    // 1/1 at 1 minor/min for 59 s: once per call ceil(59/60) = 1; per second it would be 59.
    const r = rateCall(plan({ firstIncrementSeconds: 1, nextIncrementSeconds: 1, ratePerMinuteMinor: 1, connectionFeeMinor: 0 }), '+1', 59);
    assert.equal(r.amountMinor, 1);
  });
  it('an unanswered call (0 s) costs nothing, connection fee and minimum included', () => {
    assert.deepEqual(rateCall(plan({ minimumChargeMinor: 50 }), '+1', 0), { amountMinor: 0, billableSeconds: 0, ratePerMinuteMinor: 12, rounding: RATING_ROUNDING });
  });
  it('the minimum charge applies to answered calls, on the whole amount', () => {
    assert.equal(rateCall(plan({ minimumChargeMinor: 50 }), '+1', 1).amountMinor, 50);
    assert.equal(rateCall(plan({ minimumChargeMinor: 50 }), '+1', 600).amountMinor, 10 + 120);
  });
  it('the longest matching prefix wins', () => {
    const p = plan({ prefixRates: [{ prefix: '+44', ratePerMinuteMinor: 20 }, { prefix: '+4420', ratePerMinuteMinor: 5 }, { prefix: '+1', ratePerMinuteMinor: 3 }] });
    assert.equal(rateFor(p, '+442071234567'), 5);
    assert.equal(rateFor(p, '+441611234567'), 20);
    assert.equal(rateFor(p, '+33123456789'), 12);
    assert.equal(rateCall(p, '+442071234567', 60).amountMinor, 10 + 5);
  });
  it('a free prefix still bills the connection fee', () => {
    assert.equal(rateCall(plan({ prefixRates: [{ prefix: '+800', ratePerMinuteMinor: 0 }] }), '+80012345', 300).amountMinor, 10);
  });
  it('refuses a negative or fractional duration', () => {
    for (const bad of [-1, 1.5, Number.NaN])
      assert.throws(() => rateCall(plan(), '+1', bad), (e: unknown) => e instanceof DomainError && e.code === 'BAD_USER_INPUT');
  });
  it('refuses a plan with a zero increment', () => {
    assert.throws(() => rateCall(plan({ nextIncrementSeconds: 0 }), '+1', 100), /nextIncrementSeconds/);
  });
  it('large values stay exact: the product exceeds 2^53 but the amount does not (BigInt product)', () => {
    const week = 7 * 24 * 3600;
    assert.ok(2 ** 36 * week > Number.MAX_SAFE_INTEGER);
    const r = rateCall(plan({ firstIncrementSeconds: 1, nextIncrementSeconds: 1, ratePerMinuteMinor: 2 ** 36 + 1, connectionFeeMinor: 0 }), '+1', week + 1);
    assert.equal(r.amountMinor, Number((BigInt(2 ** 36 + 1) * BigInt(week + 1) + 59n) / 60n));
  });
  it('an amount beyond 2^53 is refused rather than rounded', () => {
    assert.throws(() => rateCall(plan({ ratePerMinuteMinor: 2 ** 50 }), '+1', 7 * 24 * 3600), /largest representable/);
  });
});

// ---------------------------------------------------------------- properties

const arbPlan: fc.Arbitrary<RatePlan> = fc.record({
  version: fc.constant(1),
  currency: fc.constant('USD'),
  connectionFeeMinor: fc.nat(500),
  ratePerMinuteMinor: fc.nat(10_000),
  firstIncrementSeconds: fc.constantFrom(1, 6, 30, 60, 90),
  nextIncrementSeconds: fc.constantFrom(1, 6, 30, 60),
  minimumChargeMinor: fc.nat(1000),
  prefixRates: fc.array(fc.record({ prefix: fc.stringMatching(/^\+[1-9]\d{0,3}$/), ratePerMinuteMinor: fc.nat(10_000) }), { maxLength: 4 }),
});
const arbDestination = fc.stringMatching(/^\+[1-9]\d{6,12}$/);
const arbTalk = fc.nat(10 * 3600);

describe('rating properties', () => {
  it('never negative, integer results', () => {
    fc.assert(
      fc.property(arbPlan, arbDestination, arbTalk, (p, d, s) => {
        const r = rateCall(p, d, s);
        for (const v of [r.amountMinor, r.billableSeconds, r.ratePerMinuteMinor]) assert.ok(Number.isSafeInteger(v) && v >= 0, String(v));
      }),
    );
  });
  it('monotone in duration: a longer call never costs less nor bills fewer seconds', () => {
    fc.assert(
      fc.property(arbPlan, arbDestination, arbTalk, fc.nat(3600), (p, d, s, extra) => {
        const a = rateCall(p, d, s);
        const b = rateCall(p, d, s + extra);
        assert.ok(b.amountMinor >= a.amountMinor);
        assert.ok(b.billableSeconds >= a.billableSeconds);
      }),
    );
  });
  it('billable seconds respect the increments: >= talk, at least the first increment, then whole next increments, less than one increment over', () => {
    fc.assert(
      fc.property(arbPlan, fc.integer({ min: 1, max: 10 * 3600 }), (p, s) => {
        const b = billableSecondsFor(s, p.firstIncrementSeconds, p.nextIncrementSeconds);
        assert.ok(b >= s);
        assert.ok(b >= p.firstIncrementSeconds);
        assert.equal((b - p.firstIncrementSeconds) % p.nextIncrementSeconds, 0);
        assert.ok(b - s < Math.max(p.firstIncrementSeconds, p.nextIncrementSeconds));
      }),
    );
  });
  it('answered calls cost at least the minimum charge and the connection fee; unanswered ones nothing', () => {
    fc.assert(
      fc.property(arbPlan, arbDestination, arbTalk, (p, d, s) => {
        const r = rateCall(p, d, s);
        if (s === 0) assert.equal(r.amountMinor, 0);
        else assert.ok(r.amountMinor >= Math.max(p.minimumChargeMinor, p.connectionFeeMinor));
      }),
    );
  });
  it('the amount is the fee plus the usage rounded up once, to within one minor unit of the exact value', () => {
    fc.assert(
      fc.property(arbPlan, arbDestination, fc.integer({ min: 1, max: 36_000 }), (p, d, s) => {
        const r = rateCall(p, d, s);
        const exact = (r.billableSeconds * r.ratePerMinuteMinor) / 60; // fits exactly in a double here
        const expected = Math.max(p.minimumChargeMinor, p.connectionFeeMinor + Math.ceil(exact));
        assert.equal(r.amountMinor, expected);
      }),
    );
  });
});
