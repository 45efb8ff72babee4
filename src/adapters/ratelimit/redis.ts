import Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RATE_RULES, type RateLimiter, type RateRule, type RateRules } from '../../ports/rate-limit';
import { consume, memoryLimiters, refusal } from './common';

export interface RedisRateLimiterOptions {
  url: string;
  /** Prefix of every key (several deployments, or tests, on one Redis). */
  keyPrefix: string;
  /** How long one Redis call may take before the hit is decided in memory. Default 250 ms. */
  commandTimeoutMs?: number;
  /** Told when the fallback starts and ends, and of each hit decided in memory (metrics). */
  observer?: { degraded(on: boolean): void; fallback(rule: RateRule): void };
  logger: { warn(fields: object, msg: string): void; info(fields: object, msg: string): void };
}

/**
 * Limits shared by every instance: rate-limiter-flexible's RateLimiterRedis on ioredis (one
 * atomic Lua INCR+EXPIRE per hit, fixed windows).
 *
 * Policy when Redis is unreachable (down, a network cut, a call slower than commandTimeoutMs): the
 * hit is decided by this instance's in-memory limiter with the same limits. So requests are neither
 * all refused nor all let through: each instance still enforces the limit, and across N instances
 * a key can get up to N× its limit for as long as the outage lasts. A warning is logged when the
 * fallback starts and an info line when Redis answers again; `webdial_rate_limit_degraded` is 1
 * meanwhile and `webdial_rate_limit_fallback_total{rule}` counts the hits decided in memory.
 * The client never queues commands while disconnected (enableOfflineQueue: false), so an outage
 * costs no latency: calls fail at once and fall back.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly name = 'redis';
  private readonly client: Redis;
  private readonly shared: Record<RateRule, RateLimiterRedis>;
  private readonly local;
  private degraded = false;

  constructor(rules: RateRules, private readonly options: RedisRateLimiterOptions) {
    this.client = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 250,
      connectTimeout: 2000,
      // Keep reconnecting (every 0.2 s growing to 2 s): the limiter goes back to Redis as soon as it answers.
      retryStrategy: (times) => Math.min(200 * times, 2000),
      lazyConnect: false,
    });
    this.client.on('error', (err) => this.markDegraded(err));
    this.client.on('close', () => this.markDegraded(new Error('connection closed')));
    this.client.on('ready', () => this.markHealthy());
    this.shared = Object.fromEntries(
      RATE_RULES.map((r) => [
        r,
        new RateLimiterRedis({ storeClient: this.client, keyPrefix: `${options.keyPrefix}rl:${r}`, points: rules[r].points, duration: rules[r].durationSeconds, rejectIfRedisNotReady: true }),
      ]),
    ) as Record<RateRule, RateLimiterRedis>;
    this.local = memoryLimiters(rules);
  }

  /** Resolves once Redis answered (or after `timeoutMs`: the limiter works degraded meanwhile). */
  async ready(timeoutMs = 3000): Promise<boolean> {
    if (this.client.status === 'ready') return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.client.once('ready', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  async hit(rule: RateRule, key: string): Promise<void> {
    try {
      await this.shared[rule].consume(key);
      return;
    } catch (e) {
      if (e instanceof RateLimiterRes) throw refusal(e);
      this.markDegraded(e);
    }
    this.options.observer?.fallback(rule);
    await consume(this.local[rule], key);
  }

  private markDegraded(err: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    this.options.observer?.degraded(true);
    this.options.logger.warn(
      { err: err instanceof Error ? { message: err.message } : String(err), store: 'redis' },
      'rate limits: Redis is unreachable; each instance now enforces the limits on its own, in memory, until it is back',
    );
  }

  private markHealthy(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.options.observer?.degraded(false);
    this.options.logger.info({ store: 'redis' }, 'rate limits: Redis answers again; limits are shared by every instance');
  }

  async close(): Promise<void> {
    this.client.removeAllListeners('close');
    this.client.removeAllListeners('error');
    this.client.on('error', () => undefined);
    this.client.disconnect();
  }
}
