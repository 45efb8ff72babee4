import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it, type TestContext } from 'node:test';
import { DomainError } from '../../domain/shared/errors';
import type { RateLimiter, RateRules } from '../../ports/rate-limit';

export const CONTRACT_RULES: RateRules = {
  'download-per-client': { points: 3, durationSeconds: 60 },
  'download-per-merchant': { points: 5, durationSeconds: 60 },
  'widget-per-client': { points: 2, durationSeconds: 1 },
  'subscribe-per-client': { points: 2, durationSeconds: 1 },
};

/** Counts the allowed and refused hits of `n` tries, checking every refusal is RATE_LIMITED with a wait. */
export const tally = async (limiter: RateLimiter, rule: Parameters<RateLimiter['hit']>[0], key: string, n: number) => {
  let allowed = 0;
  let refused = 0;
  for (let i = 0; i < n; i++) {
    try {
      await limiter.hit(rule, key);
      allowed++;
    } catch (e) {
      assert.ok(e instanceof DomainError && e.code === 'RATE_LIMITED', `expected RATE_LIMITED, got ${String(e)}`);
      assert.match(e.message, /try again in \d+ s/);
      assert.ok(Number(e.details.retryAfterSeconds) >= 1);
      refused++;
    }
  }
  return { allowed, refused };
};

/**
 * What every rate limiter promises (the port's JSDoc): per rule and per key, at most `points` hits
 * per window, RATE_LIMITED past it, a new window after `durationSeconds`. `open` builds one limiter
 * on the CONTRACT_RULES; two limiters opened on one store share their counts when `shared`.
 */
export const rateLimiterContract = (open: () => Promise<RateLimiter>, options: { shared: boolean; unavailable?: (t: TestContext) => boolean }) => {
  const key = () => `k-${randomBytes(6).toString('hex')}`;
  const skip = (t: TestContext) => options.unavailable?.(t) ?? false;

  it('allows the limit per key, then refuses with RATE_LIMITED', async (t) => {
    if (skip(t)) return;
    const l = await open();
    try {
      const k = key();
      assert.deepEqual(await tally(l, 'download-per-client', k, 5), { allowed: 3, refused: 2 });
      assert.deepEqual(await tally(l, 'download-per-client', key(), 3), { allowed: 3, refused: 0 }, 'another key has its own count');
      assert.deepEqual(await tally(l, 'download-per-merchant', k, 6), { allowed: 5, refused: 1 }, 'another rule has its own count and limit');
    } finally {
      await l.close();
    }
  });

  it('a new window after the duration', async (t) => {
    if (skip(t)) return;
    const l = await open();
    try {
      const k = key();
      assert.deepEqual(await tally(l, 'widget-per-client', k, 3), { allowed: 2, refused: 1 });
      await new Promise((r) => setTimeout(r, 1100));
      assert.deepEqual(await tally(l, 'widget-per-client', k, 2), { allowed: 2, refused: 0 });
    } finally {
      await l.close();
    }
  });

  it(options.shared ? 'two limiters on one store share the count' : 'two limiters count on their own', async (t) => {
    if (skip(t)) return;
    const [a, b] = [await open(), await open()];
    try {
      const k = key();
      const first = await tally(a, 'download-per-client', k, 2);
      const second = await tally(b, 'download-per-client', k, 3);
      assert.equal(first.allowed, 2);
      assert.equal(second.allowed, options.shared ? 1 : 3);
    } finally {
      await a.close();
      await b.close();
    }
  });
};
