/**
 * Rating: what one call costs under a rate plan. Integer minor units throughout; no floats touch money.
 * Talk time is in MILLISECONDS from the answer (issue 22: whole seconds floored made an answered call
 * under 1 s free and billed 9.5 s as 9 s); `null` means the call was never answered.
 *
 *   billableSeconds = 0                                          when never answered (talkMs null)
 *                   = first                                      when answered and talkMs <= first × 1000
 *                   = first + ceil((talkMs - first × 1000) / (next × 1000)) × next   otherwise
 *   amount = connectionFee + ceil(billableSeconds × ratePerMinute / 60), then at least minimumCharge
 *
 * An answered call always bills at least its first increment, its connection fee and the minimum
 * charge, even when it lasted 0 ms (answer and hang-up in the same millisecond).
 *
 * Rounding (RATING_ROUNDING): increments already round the *time* up; the money is rounded up to the
 * next minor unit ONCE per call, on the product billableSeconds × rate, never per increment. With BigInt
 * for the product, so a large rate times a long call cannot lose precision.
 * The minimum charge applies to the whole amount (fee included) of answered calls only; an unanswered
 * call (talkMs null) costs nothing at all, connection fee included.
 */
import { badInput } from '../shared/errors';
import type { CallDirection } from '../call/events';
import type { RatePlan } from './rate-plan';

export const RATING_ROUNDING = 'CEIL_TO_MINOR_UNIT_ONCE_PER_CALL' as const;

export interface CallRating {
  amountMinor: number;
  billableSeconds: number;
  ratePerMinuteMinor: number;
  rounding: string;
}

/** Longest matching prefix wins; the plan's default rate when none matches. */
export const rateFor = (plan: Pick<RatePlan, 'ratePerMinuteMinor' | 'prefixRates'>, destination: string): number => {
  let best: { prefix: string; ratePerMinuteMinor: number } | null = null;
  for (const r of plan.prefixRates)
    if (destination.startsWith(r.prefix) && (best === null || r.prefix.length > best.prefix.length)) best = r;
  return best === null ? plan.ratePerMinuteMinor : best.ratePerMinuteMinor;
};

/** Billable whole seconds of a call that talked `talkMs` milliseconds (null: never answered, 0 s). Integer arithmetic only. */
export const billableSecondsFor = (talkMs: number | null, firstIncrementSeconds: number, nextIncrementSeconds: number): number => {
  if (talkMs === null) return 0;
  const firstMs = firstIncrementSeconds * 1000;
  if (talkMs <= firstMs) return firstIncrementSeconds;
  const nextMs = nextIncrementSeconds * 1000;
  return firstIncrementSeconds + Math.ceil((talkMs - firstMs) / nextMs) * nextIncrementSeconds;
};

/** ceil(a / b) for non-negative BigInts. */
const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;

const assertPlan = (plan: RatePlan): void => {
  const nonNegative = ['connectionFeeMinor', 'ratePerMinuteMinor', 'minimumChargeMinor'] as const;
  for (const f of nonNegative)
    if (!Number.isSafeInteger(plan[f]) || plan[f] < 0) throw badInput(`${f} must be a non-negative integer`, { field: f });
  for (const f of ['firstIncrementSeconds', 'nextIncrementSeconds'] as const)
    if (!Number.isSafeInteger(plan[f]) || plan[f] < 1) throw badInput(`${f} must be an integer >= 1`, { field: f });
  for (const r of plan.prefixRates)
    if (!Number.isSafeInteger(r.ratePerMinuteMinor) || r.ratePerMinuteMinor < 0)
      throw badInput(`rate for prefix ${r.prefix} must be a non-negative integer`, { field: 'prefixRates' });
  for (const field of ['inboundRatePerMinuteMinor', 'callbackRatePerMinuteMinor'] as const) {
    const rate = plan[field];
    if (rate !== undefined && rate !== null && (!Number.isSafeInteger(rate) || rate < 0)) throw badInput(`${field} must be a non-negative integer or null`, { field });
  }
};

/** The per-minute rate of a call: an inbound call's own rate, else the longest matching prefix's. */
export const rateOf = (plan: RatePlan, destination: string, direction: CallDirection): number =>
  direction === 'INBOUND'
    ? (plan.inboundRatePerMinuteMinor ?? plan.ratePerMinuteMinor)
    : direction === 'CALLBACK'
      ? (plan.callbackRatePerMinuteMinor ?? plan.ratePerMinuteMinor)
      : rateFor(plan, destination);

/**
 * Rates one call that talked `talkMs` milliseconds from its answer (`talkMsBetween` in the call
 * module), or `null` when it was never answered. Throws BAD_USER_INPUT for a negative or fractional
 * talkMs or an invalid plan (plans are validated when set, so that only happens with hand-made data).
 */
export const rateCall = (plan: RatePlan, destination: string, talkMs: number | null, direction: CallDirection = 'OUTBOUND'): CallRating => {
  assertPlan(plan);
  if (talkMs !== null && (!Number.isSafeInteger(talkMs) || talkMs < 0))
    throw badInput(`talkMs must be a non-negative integer or null, got ${talkMs}`, { field: 'talkMs' });
  const ratePerMinuteMinor = rateOf(plan, destination, direction);
  const billableSeconds = billableSecondsFor(talkMs, plan.firstIncrementSeconds, plan.nextIncrementSeconds);
  if (billableSeconds === 0) return { amountMinor: 0, billableSeconds: 0, ratePerMinuteMinor, rounding: RATING_ROUNDING };
  const usage = ceilDiv(BigInt(billableSeconds) * BigInt(ratePerMinuteMinor), 60n);
  const total = BigInt(plan.connectionFeeMinor) + usage;
  const charged = total < BigInt(plan.minimumChargeMinor) ? BigInt(plan.minimumChargeMinor) : total;
  if (charged > BigInt(Number.MAX_SAFE_INTEGER)) throw badInput('charge exceeds the largest representable amount', { field: 'amountMinor' });
  return { amountMinor: Number(charged), billableSeconds, ratePerMinuteMinor, rounding: RATING_ROUNDING };
};
