/**
 * The rate-limit port. Adapters: in-process (embedded mode, one instance) and Redis (REDIS_URL:
 * every instance counts in the same place, so N instances allow the limit once, not N times).
 * One contract suite runs against both (src/adapters/ratelimit/contract.ts).
 */

/**
 * What is counted: widget downloads per client address and per merchant; other widget operations per
 * client; operations started over WebSocket (subscriptions) per client.
 */
export type RateRule = 'download-per-client' | 'download-per-merchant' | 'widget-per-client' | 'subscribe-per-client';
export const RATE_RULES: readonly RateRule[] = ['download-per-client', 'download-per-merchant', 'widget-per-client', 'subscribe-per-client'];

/** A fixed window: at most `points` hits per key in `durationSeconds`. */
export type RateRules = Record<RateRule, { points: number; durationSeconds: number }>;

export interface RateLimiter {
  readonly name: 'memory' | 'redis';
  /**
   * Counts one hit of `rule` for `key`. Resolves when allowed; throws a DomainError RATE_LIMITED
   * (with the seconds to wait) when the key is past its limit. Never fails because a shared store is
   * unreachable: the Redis adapter then decides in memory (see its fallback policy).
   */
  hit(rule: RateRule, key: string): Promise<void>;
  close(): Promise<void>;
}
