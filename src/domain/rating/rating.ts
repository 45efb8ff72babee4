/**
 * Rating: what one call costs under a rate plan. Integer minor units throughout; no floats touch money.
 *
 *   billableSeconds = 0                                        when talkSeconds = 0 (never answered)
 *                   = first                                    when 0 < talk <= first
 *                   = first + ceil((talk - first) / next) * next  otherwise
 *   amount = connectionFee + ceil(billableSeconds × ratePerMinute / 60), then at least minimumCharge
 *
 * Rounding (RATING_ROUNDING): increments already round the *time* up; the money is rounded up to the
 * next minor unit ONCE per call, on the product billableSeconds × rate, never per increment. With BigInt
 * for the product, so a large rate times a long call cannot lose precision.
 * The minimum charge applies to the whole amount (fee included) of answered calls only; an unanswered
 * call (talkSeconds 0) costs nothing at all, connection fee included.
 */
import { badInput } from '../shared/errors';
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

export const billableSecondsFor = (talkSeconds: number, firstIncrementSeconds: number, nextIncrementSeconds: number): number => {
  if (talkSeconds === 0) return 0;
  if (talkSeconds <= firstIncrementSeconds) return firstIncrementSeconds;
  const rest = talkSeconds - firstIncrementSeconds;
  return firstIncrementSeconds + Math.ceil(rest / nextIncrementSeconds) * nextIncrementSeconds;
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
};

/**
 * Rates one call. Throws BAD_USER_INPUT for a negative or fractional talkSeconds or an invalid plan
 * (plans are validated when set, so that only happens with hand-made data).
 */
export const rateCall = (plan: RatePlan, destination: string, talkSeconds: number): CallRating => {
  assertPlan(plan);
  if (!Number.isSafeInteger(talkSeconds) || talkSeconds < 0)
    throw badInput(`talkSeconds must be a non-negative integer, got ${talkSeconds}`, { field: 'talkSeconds' });
  const ratePerMinuteMinor = rateFor(plan, destination);
  const billableSeconds = billableSecondsFor(talkSeconds, plan.firstIncrementSeconds, plan.nextIncrementSeconds);
  if (billableSeconds === 0) return { amountMinor: 0, billableSeconds: 0, ratePerMinuteMinor, rounding: RATING_ROUNDING };
  const usage = ceilDiv(BigInt(billableSeconds) * BigInt(ratePerMinuteMinor), 60n);
  const total = BigInt(plan.connectionFeeMinor) + usage;
  const charged = total < BigInt(plan.minimumChargeMinor) ? BigInt(plan.minimumChargeMinor) : total;
  if (charged > BigInt(Number.MAX_SAFE_INTEGER)) throw badInput('charge exceeds the largest representable amount', { field: 'amountMinor' });
  return { amountMinor: Number(charged), billableSeconds, ratePerMinuteMinor, rounding: RATING_ROUNDING };
};
