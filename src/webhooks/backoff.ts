export interface RetryPolicy {
  /** Delay after the first failed attempt, before jitter. */
  baseMs: number;
  /** Longest delay between two attempts, before jitter. */
  maxMs: number;
}

/**
 * Exponential backoff with "equal jitter": after failed attempt n (1-based) the next attempt waits
 * d = min(max, base·2^(n-1)), drawn uniformly from [d/2, d]. The floor keeps a dead receiver from
 * being hammered; the spread keeps the retries of many deliveries (one receiver back after an
 * outage) from arriving all at once. `random` is injected so tests can pin it.
 */
export const retryDelayMs = (attempt: number, policy: RetryPolicy, random: () => number = Math.random): number => {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40));
  return Math.round(exp / 2 + random() * (exp / 2));
};
