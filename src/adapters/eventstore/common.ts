import type { NewEvent, StoredEvent, SubscribeOptions, Subscription } from '../../ports/event-store';
import { reconnectDelayMs } from '../../ports/dependency';

/** Pieces every event store adapter shares: validation, the subscription loop, wake-ups. */

export const DEFAULT_READ_LIMIT = 1000;
/** How often a live subscription looks for new events when nothing woke it (other processes). */
export const DEFAULT_POLL_MS = 250;

/** Zero-pads a non-negative integer (number, bigint or decimal string) to `width` digits. */
export const pad = (n: number | bigint | string, width = 20): string => String(n).padStart(width, '0');

export const checkLimit = (limit: number | undefined): number => {
  const l = limit ?? DEFAULT_READ_LIMIT;
  if (!Number.isInteger(l) || l < 1) throw new RangeError(`readAll limit must be a positive integer, got ${limit}`);
  return l;
};

export const checkExpected = (expected: number | 'any'): void => {
  if (expected !== 'any' && (!Number.isInteger(expected) || expected < 0)) {
    throw new RangeError(`expected version must be 'any' or an integer >= 0, got ${expected}`);
  }
};

export const checkNewEvents = (streamId: string, events: readonly NewEvent[]): void => {
  if (typeof streamId !== 'string' || streamId.length === 0) throw new RangeError('streamId must be a non-empty string');
  for (const e of events) {
    if (!e.eventId || !e.type) throw new RangeError(`event without eventId or type in append to ${streamId}`);
  }
};

/**
 * A set of sleepers that an append (in this process) or a database notification can wake at once.
 * Each subscription sleeps here between polls.
 */
export class Wakeups {
  private readonly sleepers = new Set<() => void>();

  /** Resolves after `ms`, or earlier when {@link wakeAll} is called. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  wakeAll(): void {
    for (const wake of [...this.sleepers]) wake();
  }
}

/**
 * Waits `ms` after a failed read; `bind` receives the function that ends the wait early (stop()),
 * and null once the wait is over.
 */
export const backoff = (ms: number, bind: (wake: (() => void) | null) => void): Promise<void> =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      bind(null);
      resolve();
    };
    const timer = setTimeout(done, ms);
    bind(done);
  });

/**
 * Catch-up then live, for stores whose readAll returns only events that can no longer be preceded
 * by a later commit (every adapter here guarantees that). Reads batches after the checkpoint,
 * delivers them one at a time (the handler is awaited), and sleeps on `wakeups` when caught up.
 * A position that does not increase is a store bug: the subscription fails loudly rather than
 * deliver out of order. A failed read never ends it: it is reported (`options.onError`) and tried
 * again with backoff, so a database restart pauses delivery instead of stopping it.
 */
export const pollingSubscription = (
  options: SubscribeOptions,
  handler: (event: StoredEvent) => Promise<void>,
  deps: {
    readAll: (after: string | null, limit: number) => Promise<StoredEvent[]>;
    wakeups: Wakeups;
    pollMs?: number;
    batchSize?: number;
  },
): Subscription => {
  let stopped = false;
  let wakeSelf: (() => void) | null = null;
  const pollMs = deps.pollMs ?? DEFAULT_POLL_MS;
  const batchSize = deps.batchSize ?? 500;

  const run = async () => {
    let checkpoint = options.after ?? null;
    let failures = 0;
    while (!stopped) {
      let batch: StoredEvent[];
      try {
        batch = await deps.readAll(checkpoint, batchSize);
        failures = 0;
      } catch (e) {
        // The store is away (a restart, the network): read again later from the same checkpoint.
        failures++;
        options.onError?.(e, failures);
        await backoff(reconnectDelayMs(failures), (w) => (wakeSelf = w));
        continue;
      }
      for (const event of batch) {
        if (stopped) return;
        if (checkpoint !== null && !(event.position > checkpoint)) {
          throw new Error(`event store delivered position ${event.position} after ${checkpoint}`);
        }
        if (!options.types || options.types.has(event.type)) await handler(event);
        checkpoint = event.position;
      }
      if (batch.length < batchSize && !stopped) {
        const sleep = deps.wakeups.sleep(pollMs);
        // stop() must not wait for the poll interval.
        await Promise.race([sleep, new Promise<void>((r) => (wakeSelf = r))]);
        wakeSelf = null;
      }
    }
  };

  const done = run();
  // The caller may never look at `done`; do not let a failure become an unhandled rejection.
  done.catch(() => undefined);
  return {
    done,
    stop: async () => {
      stopped = true;
      wakeSelf?.();
      // Ends the poll timer too (it would hold the process up to pollMs); other sleepers just read once more.
      deps.wakeups.wakeAll();
      await done.catch(() => undefined);
    },
  };
};

/**
 * Shares readAll results between the in-process subscribers that ask for the same page at once.
 * One commit wakes every subscription of the process (relay, live index, supervisor, metrics, the
 * GraphQL hub), and each of them reads the page after the same checkpoint: this makes that one
 * query and one JSON decode instead of one per subscriber. A page is kept for `ttlMs` at most and
 * forgotten at once when this process appends; a page that misses another process's newest
 * commit only means the subscriber reads again after it (pages are always a prefix of the truth).
 * The events are shared objects: subscribers must not modify them (none does).
 */
export class ReadAllCache {
  private readonly pages = new Map<string, { at: number; events: Promise<StoredEvent[]> }>();

  constructor(private readonly ttlMs = 2) {}

  get(after: string | null, limit: number, read: () => Promise<StoredEvent[]>): Promise<StoredEvent[]> {
    const key = `${after ?? ''}|${limit}`;
    const now = performance.now();
    const hit = this.pages.get(key);
    if (hit && now - hit.at <= this.ttlMs) return hit.events;
    const events = read();
    if (this.pages.size > 64) this.pages.clear();
    this.pages.set(key, { at: now, events });
    events.catch(() => this.pages.delete(key));
    return events;
  }

  /** Something was appended here: every page may be short now. */
  clear(): void {
    this.pages.clear();
  }
}
