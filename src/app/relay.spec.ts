import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { SqliteEventStore } from '../adapters/eventstore/sqlite';
import type { EventBus } from '../ports/bus';
import type { CheckpointStore } from '../ports/checkpoint';
import type { EventStore, StoredEvent } from '../ports/event-store';
import { Relay } from './relay';
import { MemoryBus } from '../adapters/bus/memory';

const note = (store: EventStore, stream: string) =>
  store.append(stream, [{ eventId: randomUUID(), type: 'Noted', data: {}, occurredAt: new Date().toISOString(), merchantId: null, correlationId: 'c', causationId: null }], 'any');

const memoryCheckpoints = (): CheckpointStore & { saved: Map<string, string> } => {
  const saved = new Map<string, string>();
  return { saved, load: async (n) => saved.get(n) ?? null, save: async (n, p) => void saved.set(n, p), flush: async () => undefined };
};

/** A bus that records what it accepted and refuses the first `failures` publishes (a broker away). */
const recordingBus = (failures = 0) => {
  const accepted: StoredEvent[] = [];
  let refuse = failures;
  const bus = {
    name: 'recording',
    publish: async (events: StoredEvent[]) => {
      if (refuse-- > 0) throw new Error('broker away');
      accepted.push(...events);
    },
    markWatermark: () => undefined,
  } as unknown as EventBus;
  return { bus, accepted };
};

const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('not in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('Relay: the store’s order onto the bus, from a checkpoint saved after the bus accepted', () => {
  it('publishes every event in the store’s order and saves the last accepted position', async () => {
    const store = new SqliteEventStore(':memory:');
    for (const s of ['call-a', 'call-b', 'merchant-m', 'call-a']) await note(store, s);
    const { bus, accepted } = recordingBus();
    const checkpoints = memoryCheckpoints();
    const relay = new Relay(store, bus, checkpoints);
    await relay.start();
    await until(() => accepted.length === 4);
    const all = await store.readAll();
    assert.deepEqual(accepted.map((e) => e.position), all.map((e) => e.position));
    await until(() => checkpoints.saved.get('relay') === all.at(-1)!.position);
    assert.equal(relay.position, all.at(-1)!.position);
    await relay.stop();
    await store.close();
  });

  it('a bus that refuses is tried again: nothing is dropped, and the checkpoint waits for it', async () => {
    const store = new SqliteEventStore(':memory:');
    await note(store, 'call-a');
    const { bus, accepted } = recordingBus(2);
    const errors: string[] = [];
    const checkpoints = memoryCheckpoints();
    const relay = new Relay(store, bus, checkpoints, 'relay', (_e, where) => void errors.push(where));
    await relay.start();
    await until(() => errors.length >= 1);
    assert.equal(checkpoints.saved.get('relay'), undefined, 'no checkpoint before the bus accepted');
    await until(() => accepted.length === 1, 5000);
    assert.deepEqual(errors, ['bus', 'bus']);
    await relay.stop();
    await store.close();
  });

  it('a restart resumes after the checkpoint: what was published is not published again', async () => {
    const store = new SqliteEventStore(':memory:');
    const checkpoints = memoryCheckpoints();
    await note(store, 'call-a');
    await note(store, 'call-b');
    const first = recordingBus();
    const one = new Relay(store, first.bus, checkpoints);
    await one.start();
    await until(() => first.accepted.length === 2 && checkpoints.saved.has('relay'));
    await one.stop();
    await note(store, 'call-c');
    const second = recordingBus();
    const two = new Relay(store, second.bus, checkpoints);
    await two.start();
    await until(() => second.accepted.length === 1);
    assert.equal(second.accepted[0]!.streamId, 'call-c');
    await two.stop();
    await store.close();
  });

  it('with a once-only publisher: a new relay resumes where the publisher committed, not the stale checkpoint, and fences the old one', async () => {
    const store = new SqliteEventStore(':memory:');
    for (const s of ['call-a', 'call-b', 'call-c']) await note(store, s);
    const bus = new MemoryBus(store);
    // Every publication, as the broker would receive it (the bus's own groups drop repeats).
    const published: string[] = [];
    const publish = bus.publish.bind(bus);
    bus.publish = async (events) => {
      published.push(...events.map((e) => e.position));
      await publish(events);
    };
    const all = await store.readAll();
    // The checkpoint store lags behind (a kill between the publish and its save): position 1 only.
    const checkpoints = memoryCheckpoints();
    const first = new Relay(store, bus, { ...checkpoints, save: async () => undefined }, 'relay', () => undefined, bus.publisher('relay'));
    await first.start();
    await until(() => published.length === 3);
    checkpoints.saved.set('relay', all[0]!.position);
    // A new leader's relay: the publisher's committed position wins over the stale checkpoint.
    const errors: unknown[] = [];
    const second = new Relay(store, bus, checkpoints, 'relay', (e) => void errors.push(e), bus.publisher('relay'));
    await second.start();
    await note(store, 'call-d');
    await until(() => published.length === 4);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(published, [...all.map((e) => e.position), (await store.readAll()).at(-1)!.position], 'each event published once');
    // The old relay is fenced: what it still had in hand is refused, not published twice.
    await note(store, 'call-e');
    await until(() => published.length === 5);
    assert.equal(new Set(published).size, published.length, 'nothing published twice');
    await first.stop();
    await second.stop();
    await store.close();
  });
});
