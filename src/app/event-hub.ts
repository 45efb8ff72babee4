import type { EventStore, StoredEvent } from '../ports/event-store';
import { ALL_TOPICS, type EventBatch, type EventBus } from '../ports/bus';
import { follow, type Follower } from './follow';
import { reconnectDelayMs } from '../ports/dependency';
import { inSpan, tracingEnabled } from '../observability/tracing';

type Filter = (e: StoredEvent) => boolean;

interface Listener {
  filter: Filter;
  push: (e: StoredEvent) => void;
}

/**
 * One live feed per process, fanned out to every GraphQL subscriber
 * (thousands of graphql-ws clients must not each poll the store). A subscriber that resumes `after` a
 * position is caught up from the store first and then joins the live fan-out without a gap or a
 * repeat: live events that arrive during the catch-up are buffered and deduplicated by position.
 */
export class EventHub {
  private readonly listeners = new Set<Listener>();
  /** The store (embedded) or a consumer group of this instance's (a bus), as ./follow.ts runs it. */
  private follower: Follower | null = null;
  private position: string | null = null;

  /** Tracing on: eventId → the bus consumer's trace context, until the event is fanned out. */
  private readonly traceOf = new Map<string, string>();
  private draining: Promise<void> | null = null;
  private wakeAgain = false;
  private stopped = false;

  /** `onError`: told about each failed store read; the hub reads again (with backoff) and loses nothing. */
  constructor(
    private readonly store: EventStore,
    private readonly onError: (e: unknown, where: string) => void = () => undefined,
  ) {}

  /** Runs `read` until it succeeds (or `gone()`), reporting each failure and backing off between tries. */
  private async persist<T>(where: string, read: () => Promise<T>, gone: () => boolean): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read();
      } catch (e) {
        this.onError(e, where);
        if (gone()) return undefined;
        await new Promise((r) => setTimeout(r, reconnectDelayMs(attempt)).unref());
        if (gone()) return undefined;
      }
    }
  }

  /**
   * Without a bus the hub follows the store's own subscription. With a bus (how the server runs it),
   * each instance consumes every topic in a consumer group of its own, so any instance serves any
   * subscriber whichever instance stored the event. A bus message only wakes the hub: it then reads
   * the store from its position and fans out in the store's global order. Kafka orders per partition
   * only, and `callEvents(after:)` resumption needs one total order to be gap-free and repeat-free.
   */
  async start(bus?: { bus: Pick<EventBus, 'subscribe'>; group: string }): Promise<void> {
    this.position = await this.store.headPosition();
    this.follower = bus
      ? await follow(
          { bus: bus.bus, topics: ALL_TOPICS, group: bus.group },
          {
            name: 'subscriptions hub',
            // A group of this instance's own (follow adds its suffix): every instance hears every event.
            scope: 'instance',
            checkpoint: { from: 'group', fromBeginning: false, after: this.position },
            handleBatch: async (batch) => this.woken(batch),
          },
        )
      : await follow(this.store, {
          name: 'subscriptions hub',
          scope: 'instance',
          checkpoint: { from: 'position', after: this.position },
          handle: (e) => this.fanOut(e),
          onError: (e) => this.onError(e, 'subscriptions hub'),
        });
  }

  /** A bus batch: the hub reads the store from its position (the events themselves only carry their trace contexts). */
  private woken(batch: EventBatch): void {
    if (batch.events.length === 0) return;
    // Tracing on: the consumed events' contexts, so each fan-out continues its trace from the bus.
    if (tracingEnabled()) {
      // Bounded: an event the hub fanned out before its bus message came is never looked up.
      if (this.traceOf.size > 10_000) this.traceOf.clear();
      for (const e of batch.events) if (e.traceparent) this.traceOf.set(e.eventId, e.traceparent);
    }
    this.wake();
  }

  private fanOut(e: StoredEvent): void {
    this.position = e.position;
    if (!tracingEnabled()) {
      for (const l of this.listeners) if (l.filter(e)) l.push(e);
      return;
    }
    const matching = [...this.listeners].filter((l) => l.filter(e));
    const parent = this.traceOf.get(e.eventId) ?? e.traceparent ?? null;
    this.traceOf.delete(e.eventId);
    if (matching.length === 0) return;
    void inSpan(`subscription.deliver ${e.type}`, { parent, attributes: { 'webdial.subscribers': matching.length, 'webdial.event_type': e.type } }, async () => {
      for (const l of matching) l.push(e);
    });
  }

  /** Coalesces wake-ups: one drain at a time, and one more if woken while draining. */
  private wake(): void {
    if (this.draining) {
      this.wakeAgain = true;
      return;
    }
    this.draining = (async () => {
      do {
        this.wakeAgain = false;
        for (;;) {
          // The store may be away: the hub keeps its position and reads again until it answers.
          const batch = await this.persist('subscriptions hub', () => this.store.readAll({ after: this.position, limit: 500 }), () => this.stopped);
          if (!batch) break;
          for (const e of batch) this.fanOut(e);
          if (batch.length < 500 || this.stopped) break;
        }
      } while (this.wakeAgain && !this.stopped);
    })().finally(() => (this.draining = null));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.follower?.stop();
    await this.draining;
    this.listeners.clear();
  }

  /**
   * An async iterator of the events that pass `filter`, strictly after `after` (null: from now on),
   * mapped by `map` (which may drop an event by returning undefined).
   */
  iterate<T>(filter: Filter, map: (e: StoredEvent) => T | undefined, after: string | null, onClose?: () => void): AsyncIterableIterator<T> {
    const queue: T[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    let last: string | null = after;
    // Both ways start by buffering: `after` catches up from the store; "from now on" (null) first
    // learns the store's head, so an event stored before the subscription that the hub has not fanned
    // out yet is not delivered as if it were new.
    let catchingUp = true;
    const buffered: StoredEvent[] = [];

    // An event this subscription cannot read (malformed data: its filter or map throws) is not
    // delivered to it, and said in the log; the subscription and every other one go on.
    const skip = (e: StoredEvent, err: unknown) =>
      this.onError(new Error(`a subscription cannot read ${e.type}@${e.position} (${e.streamId}): ${(err as Error).message}; not delivered`, { cause: err }), 'subscriptions hub');
    const passes = (e: StoredEvent) => {
      try {
        return filter(e);
      } catch (err) {
        skip(e, err);
        return false;
      }
    };
    const emit = (e: StoredEvent) => {
      if (last !== null && e.position <= last) return;
      last = e.position;
      let v: T | undefined;
      try {
        v = map(e);
      } catch (err) {
        return skip(e, err);
      }
      if (v !== undefined) queue.push(v);
      wake?.();
    };
    const listener: Listener = { filter: passes, push: (e) => (catchingUp ? buffered.push(e) : emit(e)) };
    this.listeners.add(listener);

    // A store that is away delays the catch-up (retried with backoff); the subscription stays open.
    if (after === null) {
      void this.persist('subscription start', () => this.store.headPosition(), () => done)
        .then((head) => {
          if (done) return;
          last = head ?? null;
          catchingUp = false;
          for (const e of buffered.splice(0)) emit(e);
        })
        .catch(() => finish());
    } else {
      void (async () => {
        let cursor = after;
        for (;;) {
          const batch = await this.persist('subscription catch-up', () => this.store.readAll({ after: cursor, limit: 500 }), () => done);
          if (!batch) return;
          for (const e of batch) if (passes(e)) emit(e);
          if (batch.length < 500) break;
          cursor = batch[batch.length - 1].position;
        }
        catchingUp = false;
        for (const e of buffered.splice(0)) emit(e);
      })().catch(() => finish());
    }

    const finish = () => {
      if (done) return;
      done = true;
      this.listeners.delete(listener);
      onClose?.();
      wake?.();
    };

    const iterator: AsyncIterableIterator<T> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        while (queue.length === 0 && !done) await new Promise<void>((r) => (wake = r));
        wake = null;
        if (queue.length > 0) return { value: queue.shift()!, done: false };
        return { value: undefined, done: true };
      },
      return: async () => {
        finish();
        return { value: undefined, done: true };
      },
    };
    return iterator;
  }
}
