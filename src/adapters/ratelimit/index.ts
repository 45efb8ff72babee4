import { Counter, Gauge, type Registry } from 'prom-client';
import { DomainError } from '../../domain/shared/errors';
import type { RateLimiter, RateRule, RateRules } from '../../ports/rate-limit';
import { MemoryRateLimiter } from './memory';
import { RedisRateLimiter } from './redis';

export { MemoryRateLimiter } from './memory';
export { RedisRateLimiter } from './redis';

export interface RateLimiterConfig {
  /** Redis for limits shared by every instance; null: in this process (embedded mode). */
  redisUrl: string | null;
  keyPrefix: string;
  rules: RateRules;
  metrics?: Registry;
  logger: { warn(fields: object, msg: string): void; info(fields: object, msg: string): void };
  /** Told of each hit decided in memory because Redis was unreachable (the dependency metric). */
  onFallback?: (rule: RateRule) => void;
  /** Told when Redis answers again (the fallback ends). */
  onRecovered?: () => void;
}

/** The limiter for the configuration, counting refusals per rule in `webdial_rate_limited_total`. */
export const createRateLimiter = async (config: RateLimiterConfig): Promise<RateLimiter> => {
  const registers = config.metrics ? [config.metrics] : [];
  // The same series in both modes, so dashboards and alerts need no case for the embedded mode.
  const refused = new Counter({ name: 'webdial_rate_limited_total', help: 'Requests refused with RATE_LIMITED, by rule', labelNames: ['rule'], registers });
  const degraded = new Gauge({ name: 'webdial_rate_limit_degraded', help: '1 while Redis is unreachable and rate limits are enforced per instance, in memory', registers });
  const fallbacks = new Counter({ name: 'webdial_rate_limit_fallback_total', help: 'Rate-limit hits decided in memory because Redis was unreachable', labelNames: ['rule'], registers });
  degraded.set(0);
  let limiter: RateLimiter;
  if (config.redisUrl) {
    const redis = new RedisRateLimiter(config.rules, {
      url: config.redisUrl,
      keyPrefix: config.keyPrefix,
      logger: config.logger,
      observer: {
        degraded: (on) => {
          degraded.set(on ? 1 : 0);
          if (!on) config.onRecovered?.();
        },
        fallback: (rule) => {
          fallbacks.inc({ rule });
          config.onFallback?.(rule);
        },
      },
    });
    // Start-up waits a moment for Redis, but never fails on it: without it the limits hold per instance.
    await redis.ready(3000);
    limiter = redis;
  } else {
    limiter = new MemoryRateLimiter(config.rules);
  }
  return {
    name: limiter.name,
    hit: async (rule: RateRule, key: string) => {
      try {
        await limiter.hit(rule, key);
      } catch (e) {
        if (e instanceof DomainError && e.code === 'RATE_LIMITED') refused.inc({ rule });
        throw e;
      }
    },
    close: () => limiter.close(),
  };
};
