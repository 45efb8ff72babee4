import type { EventStore, StoredEvent, Subscription } from '../ports/event-store';

type Filter = (e: StoredEvent) => boolean;

interface Listener {
  filter: Filter;
  push: (e: StoredEvent) => void;
}

/**
 * One live subscription to the event store per process, fanned out to every GraphQL subscriber
 * (thousands of graphql-ws clients must not each poll the store). A subscriber that resumes `after` a
 * position is caught up from the store first and then joins the live fan-out without a gap or a
 * repeat: live events that arrive during the catch-up are buffered and deduplicated by position.
 */
export class EventHub {
  private readonly listeners = new Set<Listener>();
  private sub: Subscription | null = null;
  private position: string | null = null;

  constructor(private readonly store: EventStore) {}

  get subscriberCount(): number {
    return this.listeners.size;
  }

  async start(): Promise<void> {
    this.position = (await this.store.stats()).lastPosition;
    this.sub = this.store.subscribe({ after: this.position }, async (e) => {
      this.position = e.position;
      for (const l of this.listeners) if (l.filter(e)) l.push(e);
    });
  }

  async stop(): Promise<void> {
    await this.sub?.stop();
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
    let catchingUp = after !== null;
    const buffered: StoredEvent[] = [];

    const emit = (e: StoredEvent) => {
      if (last !== null && e.position <= last) return;
      last = e.position;
      const v = map(e);
      if (v !== undefined) queue.push(v);
      wake?.();
    };
    const listener: Listener = { filter, push: (e) => (catchingUp ? buffered.push(e) : emit(e)) };
    this.listeners.add(listener);

    if (catchingUp) {
      void (async () => {
        let cursor = after;
        for (;;) {
          const batch = await this.store.readAll({ after: cursor, limit: 500 });
          for (const e of batch) if (filter(e)) emit(e);
          if (batch.length < 500) break;
          cursor = batch[batch.length - 1]!.position;
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
