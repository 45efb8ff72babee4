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
    assert.deepEqual(rateCall(plan(), '+33123456789', 61_000), { amountMinor: 10 + 24, billableSeconds: 120, ratePerMinuteMinor: 12, rounding: RATING_ROUNDING });
  });
  it('60/60: 1 s bills a whole first minute', () => {
    assert.equal(rateCall(plan(), '+33123456789', 1_000).billableSeconds, 60);
    assert.equal(rateCall(plan(), '+33123456789', 60_000).billableSeconds, 60);
  });
  it('30/6: 31 s bill 36 s, money rounded up once per call', () => {
    const r = rateCall(plan({ firstIncrementSeconds: 30, nextIncrementSeconds: 6, ratePerMinuteMinor: 7, connectionFeeMinor: 0 }), '+1', 31_000);
    assert.equal(r.billableSeconds, 36);
    assert.equal(r.amountMinor, Math.ceil((36 * 7) / 60)); // 4.2 → 5
    assert.equal(r.amountMinor, 5);
  });
  it('1/1: per second, 61 s at 100/min = 101.67 → 102', () => {
    const r = rateCall(plan({ firstIncrementSeconds: 1, nextIncrementSeconds: 1, ratePerMinuteMinor: 100, connectionFeeMinor: 0 }), '+1', 61_000);
    assert.deepEqual([r.billableSeconds, r.amountMinor], [61, 102]);
  });
  it('the rounding is once per call, not per increment (per-increment rounding would give more)', () => {
    // 1/1 at 1 minor/min for 59 s: once per call ceil(59/60) = 1; per second it would be 59.
    const r = rateCall(plan({ firstIncrementSeconds: 1, nextIncrementSeconds: 1, ratePerMinuteMinor: 1, connectionFeeMinor: 0 }), '+1', 59_000);
    assert.equal(r.amountMinor, 1);
  });
  it('an unanswered call (null) costs nothing, connection fee and minimum included', () => {
    assert.deepEqual(rateCall(plan({ minimumChargeMinor: 50 }), '+1', null), { amountMinor: 0, billableSeconds: 0, ratePerMinuteMinor: 12, rounding: RATING_ROUNDING });
  });
  it('the minimum charge applies to answered calls, on the whole amount', () => {
    assert.equal(rateCall(plan({ minimumChargeMinor: 50 }), '+1', 1_000).amountMinor, 50);
    assert.equal(rateCall(plan({ minimumChargeMinor: 50 }), '+1', 600_000).amountMinor, 10 + 120);
  });
  it('issue 22: an answered call under one second bills the first increment, the fee and the minimum', () => {
    // 0.6 s at 60/60, 12/min, fee 10: one minute (12) + fee; with a minimum of 50, 50. It was 0.
    assert.deepEqual(rateCall(plan(), '+1', 600), { amountMinor: 10 + 12, billableSeconds: 60, ratePerMinuteMinor: 12, rounding: RATING_ROUNDING });
    assert.equal(rateCall(plan({ minimumChargeMinor: 50 }), '+1', 600).amountMinor, 50);
    // Answer and hang-up in the same millisecond is still an answered call.
    assert.equal(rateCall(plan({ firstIncrementSeconds: 1, nextIncrementSeconds: 1 }), '+1', 0).billableSeconds, 1);
  });
  it('issue 22: 9.5 s under 1/1 bills 10 s (rounded up, not floored); 60.001 s under 60/60 bills two minutes', () => {
    assert.equal(rateCall(plan({ firstIncrementSeconds: 1, nextIncrementSeconds: 1 }), '+1', 9_500).billableSeconds, 10);
    assert.equal(rateCall(plan({ firstIncrementSeconds: 1, nextIncrementSeconds: 1 }), '+1', 9_000).billableSeconds, 9);
    assert.equal(rateCall(plan(), '+1', 60_000).billableSeconds, 60);
    assert.equal(rateCall(plan(), '+1', 60_001).billableSeconds, 120);
    assert.equal(rateCall(plan({ firstIncrementSeconds: 30, nextIncrementSeconds: 6 }), '+1', 30_001).billableSeconds, 36);
  });
  it('the longest matching prefix wins', () => {
    const p = plan({ prefixRates: [{ prefix: '+44', ratePerMinuteMinor: 20 }, { prefix: '+4420', ratePerMinuteMinor: 5 }, { prefix: '+1', ratePerMinuteMinor: 3 }] });
    assert.equal(rateFor(p, '+442071234567'), 5);
    assert.equal(rateFor(p, '+441611234567'), 20);
    assert.equal(rateFor(p, '+33123456789'), 12);
    assert.equal(rateCall(p, '+442071234567', 60_000).amountMinor, 10 + 5);
  });
  it('a free prefix still bills the connection fee', () => {
    assert.equal(rateCall(plan({ prefixRates: [{ prefix: '+800', ratePerMinuteMinor: 0 }] }), '+80012345', 300_000).amountMinor, 10);
  });
  it('refuses a negative or fractional duration', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      assert.throws(() => rateCall(plan(), '+1', bad), (e: unknown) => e instanceof DomainError && e.code === 'BAD_USER_INPUT');
  });
  it('refuses a plan with a zero increment', () => {
    assert.throws(() => rateCall(plan({ nextIncrementSeconds: 0 }), '+1', 100_000), /nextIncrementSeconds/);
  });
  it('large values stay exact: the product exceeds 2^53 but the amount does not (BigInt product)', () => {
    const week = 7 * 24 * 3600;
    assert.ok(2 ** 36 * week > Number.MAX_SAFE_INTEGER);
    const r = rateCall(plan({ firstIncrementSeconds: 1, nextIncrementSeconds: 1, ratePerMinuteMinor: 2 ** 36 + 1, connectionFeeMinor: 0 }), '+1', (week + 1) * 1000);
    assert.equal(r.amountMinor, Number((BigInt(2 ** 36 + 1) * BigInt(week + 1) + 59n) / 60n));
  });
  it('an amount beyond 2^53 is refused rather than rounded', () => {
    assert.throws(() => rateCall(plan({ ratePerMinuteMinor: 2 ** 50 }), '+1', 7 * 24 * 3600 * 1000), /largest representable/);
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
/** Talk in ms: 0.001 s to 10 hours, half of the runs under 2 s where the rounding matters most; null = never answered. */
const arbTalkMs = fc.oneof(fc.integer({ min: 1, max: 2_000 }), fc.integer({ min: 1, max: 10 * 3600 * 1000 }));
const arbTalk: fc.Arbitrary<number | null> = fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 9, arbitrary: arbTalkMs });

/**
 * The reference rating, written differently on purpose: walk the increments one by one until they
 * cover the talk time (in ms, integers only), then price in BigInt. Slow, obviously right.
 */
const referenceRating = (p: RatePlan, destination: string, talkMs: number | null): { amountMinor: number; billableSeconds: number } => {
  if (talkMs === null) return { amountMinor: 0, billableSeconds: 0 };
  let billable = p.firstIncrementSeconds;
  while (billable * 1000 < talkMs) billable += p.nextIncrementSeconds;
  let rate = p.ratePerMinuteMinor;
  let longest = -1;
  for (const r of p.prefixRates)
    if (destination.startsWith(r.prefix) && r.prefix.length > longest) [rate, longest] = [r.ratePerMinuteMinor, r.prefix.length];
  const usage = (BigInt(billable) * BigInt(rate) + 59n) / 60n;
  const total = BigInt(p.connectionFeeMinor) + usage;
  return { amountMinor: Number(total > BigInt(p.minimumChargeMinor) ? total : BigInt(p.minimumChargeMinor)), billableSeconds: billable };
};

describe('rating properties', () => {
  it('agrees with the reference rating for every duration from 0.001 s to hours, and never answered', () => {
    fc.assert(
      fc.property(arbPlan, arbDestination, arbTalk, (p, d, ms) => {
        const r = rateCall(p, d, ms);
        assert.deepEqual({ amountMinor: r.amountMinor, billableSeconds: r.billableSeconds }, referenceRating(p, d, ms));
      }),
      { numRuns: 500 },
    );
  });
  it('never negative, integer results', () => {
    fc.assert(
      fc.property(arbPlan, arbDestination, arbTalk, (p, d, ms) => {
        const r = rateCall(p, d, ms);
        for (const v of [r.amountMinor, r.billableSeconds, r.ratePerMinuteMinor]) assert.ok(Number.isSafeInteger(v) && v >= 0, String(v));
      }),
    );
  });
  it('monotone in duration: a longer call never costs less nor bills fewer seconds', () => {
    fc.assert(
      fc.property(arbPlan, arbDestination, arbTalkMs, fc.nat(3_600_000), (p, d, ms, extra) => {
        const a = rateCall(p, d, ms);
        const b = rateCall(p, d, ms + extra);
        assert.ok(b.amountMinor >= a.amountMinor);
        assert.ok(b.billableSeconds >= a.billableSeconds);
      }),
    );
  });
  it('billable seconds respect the increments: cover the talk, at least the first increment, then whole next increments, less than one increment over', () => {
    fc.assert(
      fc.property(arbPlan, fc.integer({ min: 1, max: 10 * 3600 * 1000 }), (p, ms) => {
        const b = billableSecondsFor(ms, p.firstIncrementSeconds, p.nextIncrementSeconds);
        assert.ok(b * 1000 >= ms, 'never bills less than was talked (rounded up, never floored)');
        assert.ok(b >= p.firstIncrementSeconds);
        assert.equal((b - p.firstIncrementSeconds) % p.nextIncrementSeconds, 0);
        assert.ok(b * 1000 - ms < Math.max(p.firstIncrementSeconds, p.nextIncrementSeconds) * 1000);
      }),
    );
    // 0 ms (answered and ended in the same millisecond) is a whole first increment over: still billed it.
    fc.assert(fc.property(arbPlan, (p) => assert.equal(billableSecondsFor(0, p.firstIncrementSeconds, p.nextIncrementSeconds), p.firstIncrementSeconds)));
  });
  it('every answered call, however short, costs at least the minimum charge and the connection fee; unanswered ones nothing', () => {
    fc.assert(
      fc.property(arbPlan, arbDestination, arbTalk, (p, d, ms) => {
        const r = rateCall(p, d, ms);
        if (ms === null) assert.equal(r.amountMinor, 0);
        else assert.ok(r.amountMinor >= Math.max(p.minimumChargeMinor, p.connectionFeeMinor) && r.billableSeconds >= p.firstIncrementSeconds);
      }),
    );
  });
  it('a call exactly on an increment boundary bills that boundary; one millisecond more bills the next increment', () => {
    fc.assert(
      fc.property(arbPlan, fc.nat(500), (p, n) => {
        const boundary = (p.firstIncrementSeconds + n * p.nextIncrementSeconds) * 1000;
        assert.equal(billableSecondsFor(boundary, p.firstIncrementSeconds, p.nextIncrementSeconds), boundary / 1000);
        assert.equal(billableSecondsFor(boundary + 1, p.firstIncrementSeconds, p.nextIncrementSeconds), boundary / 1000 + p.nextIncrementSeconds);
      }),
    );
  });
  it('the amount is the fee plus the usage rounded up once, to within one minor unit of the exact value', () => {
    fc.assert(
      fc.property(arbPlan, arbDestination, arbTalkMs, (p, d, ms) => {
        const r = rateCall(p, d, ms);
        const exact = (r.billableSeconds * r.ratePerMinuteMinor) / 60; // fits exactly in a double here
        const expected = Math.max(p.minimumChargeMinor, p.connectionFeeMinor + Math.ceil(exact));
        assert.equal(r.amountMinor, expected);
      }),
    );
  });
});

describe('rateCall: inbound calls (issue 23) are their own direction', () => {
  const withPrefix = plan({ ratePerMinuteMinor: 10, prefixRates: [{ prefix: '+33', ratePerMinuteMinor: 99 }] });
  it("an inbound call is rated at the plan's inbound rate; prefix rates (for numbers dialled out) never apply", () => {
    const p = { ...withPrefix, inboundRatePerMinuteMinor: 4 };
    assert.equal(rateCall(p, '+33100000301', 60_000, 'INBOUND').ratePerMinuteMinor, 4);
    assert.equal(rateCall(p, '+33100000301', 60_000, 'OUTBOUND').ratePerMinuteMinor, 99);
  });
  it('without an inbound rate (null or a plan from before), the default rate', () => {
    assert.equal(rateCall({ ...withPrefix, inboundRatePerMinuteMinor: null }, '+33100000301', 60_000, 'INBOUND').ratePerMinuteMinor, 10);
    assert.equal(rateCall(withPrefix, '+33100000301', 60_000, 'INBOUND').ratePerMinuteMinor, 10);
  });
  it('an unanswered inbound call costs nothing; a negative inbound rate is refused', () => {
    assert.equal(rateCall({ ...withPrefix, inboundRatePerMinuteMinor: 4 }, '+33100000301', null, 'INBOUND').amountMinor, 0);
    assert.throws(() => rateCall({ ...withPrefix, inboundRatePerMinuteMinor: -1 }, '+33100000301', 1000, 'INBOUND'), (e: unknown) => e instanceof DomainError && e.code === 'BAD_USER_INPUT');
  });
});

describe('rateCall: callbacks (issue 25) are their own direction', () => {
  const withPrefix = plan({ ratePerMinuteMinor: 10, prefixRates: [{ prefix: '+33', ratePerMinuteMinor: 99 }], inboundRatePerMinuteMinor: 4 });
  it("a callback is rated at the plan's callback rate, else the default rate; prefix and inbound rates never apply", () => {
    assert.equal(rateCall({ ...withPrefix, callbackRatePerMinuteMinor: 12 }, '+33612345678', 60_000, 'CALLBACK').ratePerMinuteMinor, 12);
    assert.equal(rateCall({ ...withPrefix, callbackRatePerMinuteMinor: null }, '+33612345678', 60_000, 'CALLBACK').ratePerMinuteMinor, 10);
    assert.equal(rateCall(withPrefix, '+33612345678', 60_000, 'CALLBACK').ratePerMinuteMinor, 10);
  });
  it('a negative callback rate is refused', () =>
    assert.throws(() => rateCall({ ...withPrefix, callbackRatePerMinuteMinor: -1 }, '+33612345678', 1000, 'CALLBACK'), (e: unknown) => e instanceof DomainError && e.code === 'BAD_USER_INPUT'));
});
