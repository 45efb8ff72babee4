import type { RateLimiter, RateRule, RateRules } from '../../ports/rate-limit';
import { consume, memoryLimiters } from './common';

/** Embedded mode: counters in this process (rate-limiter-flexible's RateLimiterMemory). */
export class MemoryRateLimiter implements RateLimiter {
  readonly name = 'memory';
  private readonly limiters;

  constructor(rules: RateRules) {
    this.limiters = memoryLimiters(rules);
  }

  hit(rule: RateRule, key: string): Promise<void> {
    return consume(this.limiters[rule], key);
  }

  async close(): Promise<void> {}
}
