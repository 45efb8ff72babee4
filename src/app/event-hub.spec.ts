import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { SqliteEventStore } from '../adapters/eventstore/sqlite';
import { MemoryBus } from '../adapters/bus/memory';
import type { EventStore } from '../ports/event-store';
import { EventHub } from './event-hub';

const note = async (store: EventStore, stream: string) =>
  (await store.append(stream, [{ eventId: randomUUID(), type: 'Noted', data: {}, occurredAt: new Date().toISOString(), merchantId: null, correlationId: 'c', causationId: null }], 'any')).events[0]!;

/** The next `n` values of the iterator, or a timeout. */
const take = async <T>(it: AsyncIterableIterator<T>, n: number, ms = 5000): Promise<T[]> => {
  const out: T[] = [];
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`only ${out.length}/${n} in time`)), ms).unref());
  while (out.length < n) {
    const r = await Promise.race([it.next(), timer]);
    if (r.done) break;
    out.push(r.value);
  }
  return out;
};

describe('EventHub: a subscriber resumes after a position without a gap or a repeat', () => {
  for (const withBus of [false, true])
    it(withBus ? 'woken by the bus, reading the store' : 'following the store', async () => {
      const store = new SqliteEventStore(':memory:');
      const first = await note(store, 'call-a');
      await note(store, 'call-b');
      await note(store, 'merchant-m');
      const bus = new MemoryBus(store, { lingerMs: 0 });
      const hub = new EventHub(store);
      await hub.start(withBus ? { bus, group: 'hub' } : undefined);
      // Resumes after the first event, only calls: the second from the store, then live ones in order.
      const it = hub.iterate((e) => e.streamId.startsWith('call-'), (e) => e.streamId, first.position);
      assert.deepEqual(await take(it, 1), ['call-b']);
      const live = [await note(store, 'call-c'), await note(store, 'merchant-m'), await note(store, 'call-d')];
      if (withBus) await bus.publish(live);
      assert.deepEqual(await take(it, 2), ['call-c', 'call-d']);
      // Nothing repeated: the next one is the next new event.
      const later = await note(store, 'call-e');
      if (withBus) await bus.publish([later]);
      assert.deepEqual(await take(it, 1), ['call-e']);
      await it.return?.();
      await hub.stop();
      await bus.close();
      await store.close();
    });
});
