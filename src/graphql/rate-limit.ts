import { DomainError } from '../domain/shared/errors';

/**
 * Fixed-window counters per key (client address, merchant). In-process: each server instance limits
 * on its own, which bounds abuse per instance; a shared limiter (e.g. Redis) is the multi-instance step.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly windowMs = 60_000) {}

  /** Counts one hit; throws RATE_LIMITED when `key` passed `limit` in the current window. */
  hit(key: string, limit: number, now: number): void {
    const w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      this.windows.set(key, { start: now, count: 1 });
      if (this.windows.size > 100_000) this.sweep(now);
      return;
    }
    w.count++;
    if (w.count > limit) throw new DomainError('RATE_LIMITED', `too many requests; try again in ${Math.ceil((w.start + this.windowMs - now) / 1000)} s`);
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
  }
}
