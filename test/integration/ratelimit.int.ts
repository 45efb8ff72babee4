import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { serviceMissing } from '../support/services';
import { privateRedis, probeRedis, SHARED_REDIS_URL, type PrivateRedis } from '../support/redis';
import { CONTRACT_RULES, rateLimiterContract, tally } from '../../src/adapters/ratelimit/contract';
import { MemoryRateLimiter } from '../../src/adapters/ratelimit/memory';
import { RedisRateLimiter } from '../../src/adapters/ratelimit/redis';
import { createRateLimiter } from '../../src/adapters/ratelimit/index';

const quiet = () => {
  const lines: Array<{ level: string; msg: string }> = [];
  return { lines, logger: { warn: (_f: object, msg: string) => void lines.push({ level: 'warn', msg }), info: (_f: object, msg: string) => void lines.push({ level: 'info', msg }) } };
};

describe('rate limiter contract: in memory', () => {
  rateLimiterContract(async () => new MemoryRateLimiter(CONTRACT_RULES), { shared: false });
});

describe('rate limiter contract: Redis (shared)', () => {
  const prefix = `webdial-test-${randomBytes(4).toString('hex')}:`;
  let missing: string | null = null;
  before(async () => {
    missing = await probeRedis(SHARED_REDIS_URL);
  });
  rateLimiterContract(
    async () => {
      const l = new RedisRateLimiter(CONTRACT_RULES, { url: SHARED_REDIS_URL, keyPrefix: prefix, logger: quiet().logger });
      assert.equal(await l.ready(), true);
      return l;
    },
    { shared: true, unavailable: (t) => (missing ? (serviceMissing(t, 'redis', missing), true) : false) },
  );
});

describe('rate limits when Redis goes away (a private redis-server)', () => {
  let redis: PrivateRedis | null = null;
  let missing: string | null = null;
  before(async () => {
    try {
      redis = await privateRedis();
    } catch (e) {
      missing = (e as Error).message;
    }
  });
  after(async () => redis?.stop());

  it('falls back to per-instance limits with a metric and one log line each way, then shares again', async (t: TestContext) => {
    if (!redis) return serviceMissing(t, 'redis-server', missing ?? 'not started');
    const metrics = new Registry();
    const log = quiet();
    const l = await createRateLimiter({ redisUrl: redis.url, keyPrefix: 'outage:', rules: CONTRACT_RULES, metrics, logger: log.logger });
    const gauge = async () => (await metrics.getSingleMetricAsString('webdial_rate_limit_degraded')).split('\n').find((x) => x.startsWith('webdial_rate_limit_degraded '));
    try {
      assert.deepEqual(await tally(l, 'download-per-client', 'k', 2), { allowed: 2, refused: 0 });
      assert.equal(await gauge(), 'webdial_rate_limit_degraded 0');

      await redis.stop();
      // Neither all refused nor all allowed: the same limit, counted in this process.
      const during = await tally(l, 'download-per-client', 'k2', 5);
      assert.deepEqual(during, { allowed: 3, refused: 2 });
      assert.equal(await gauge(), 'webdial_rate_limit_degraded 1');
      assert.match(await metrics.getSingleMetricAsString('webdial_rate_limit_fallback_total'), /webdial_rate_limit_fallback_total\{rule="download-per-client"\} 5/);
      assert.equal(log.lines.filter((x) => x.level === 'warn').length, 1, 'one warning for the outage, not one per request');
      assert.match(log.lines[0]!.msg, /Redis is unreachable; each instance now enforces the limits on its own/);

      await redis.start();
      const deadline = Date.now() + 10_000;
      while ((await gauge()) !== 'webdial_rate_limit_degraded 0' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(await gauge(), 'webdial_rate_limit_degraded 0');
      assert.match(log.lines.at(-1)!.msg, /Redis answers again/);
      assert.deepEqual(await tally(l, 'download-per-client', 'k3', 4), { allowed: 3, refused: 1 }, 'back on the shared counters');
    } finally {
      await l.close();
    }
  });
});
