import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { DomainError } from '../../domain/shared/errors';
import { RATE_RULES, type RateRule, type RateRules } from '../../ports/rate-limit';

/** The refusal the contract promises: RATE_LIMITED and when to try again. */
export const refusal = (res: RateLimiterRes): DomainError => {
  const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  return new DomainError('RATE_LIMITED', `too many requests; try again in ${seconds} s`, { retryAfterSeconds: seconds });
};

/** One in-memory limiter per rule (the embedded adapter, and the Redis adapter's fallback). */
export const memoryLimiters = (rules: RateRules): Record<RateRule, RateLimiterMemory> =>
  Object.fromEntries(RATE_RULES.map((r) => [r, new RateLimiterMemory({ keyPrefix: r, points: rules[r].points, duration: rules[r].durationSeconds })])) as Record<RateRule, RateLimiterMemory>;

/** Consumes one point; a RateLimiterRes rejection is the refusal, anything else propagates. */
export const consume = async (limiter: { consume(key: string): Promise<RateLimiterRes> }, key: string): Promise<void> => {
  try {
    await limiter.consume(key);
  } catch (e) {
    if (e instanceof RateLimiterRes) throw refusal(e);
    throw e;
  }
};
