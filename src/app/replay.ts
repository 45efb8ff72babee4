import type { EventStore, StoredEvent } from '../ports/event-store';
import { feedCallIdOf } from '../domain/call-feed';
import type { ReadQueries } from '../projections';
import type { EventHub } from './event-hub';

/**
 * How much earlier than `from` the store is read. Domain time is the clock of the process that
 * handled the command, so an event is stored within moments of when it occurred; this margin covers
 * slow appends and clocks that disagree between hosts by less than it.
 */
export const REPLAY_MARGIN_MS = 5 * 60_000;

export interface ReplayRequest {
  /** Null: every merchant (ADMIN). */
  merchantId: string | null;
  from: string;
  /** Null: after the history, follow live. */
  to: string | null;
  /** Times real time; null or 0: as fast as possible. */
  speed: number | null;
}

/**
 * The analysts' replay (`replayCallEvents`): the call events that occurred in [from, to], in the
 * store's order, paced by `speed`, then live when `to` is null. The store is read from a position the
 * read side names (the first call downloaded a margin before `from`, call-history's timeline),
 * not from its beginning: a replay of the last hour reads about an hour of events.
 */
export class CallEventReplay {
  constructor(private readonly deps: { store: Pick<EventStore, 'readAll'>; hub: Pick<EventHub, 'iterate'>; reads: Pick<ReadQueries, 'replayStart'> }) {}

  replay(r: ReplayRequest): AsyncIterable<StoredEvent> {
    const { store, hub, reads } = this.deps;
    const matches = (e: StoredEvent) =>
      feedCallIdOf(e.type, e.data) !== null && (r.merchantId === null || e.merchantId === r.merchantId) && e.occurredAt >= r.from && (r.to === null || e.occurredAt <= r.to);
    return {
      async *[Symbol.asyncIterator]() {
        let after: string | null = await reads.replayStart(r.from, REPLAY_MARGIN_MS);
        let prev: number | null = null;
        for (;;) {
          const batch = await store.readAll({ after, limit: 500 });
          for (const e of batch) {
            after = e.position;
            if (!matches(e)) continue;
            const t = Date.parse(e.occurredAt);
            if (r.speed && r.speed > 0 && prev !== null && t > prev) await new Promise((done) => setTimeout(done, Math.min((t - prev!) / r.speed!, 60_000)));
            prev = t;
            yield e;
          }
          if (batch.length < 500) break;
        }
        if (r.to !== null) return;
        yield* hub.iterate(matches, (e) => e, after);
      },
    };
  }
}
