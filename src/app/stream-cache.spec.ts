import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteEventStore } from '../adapters/eventstore/sqlite';
import type { Fold } from '../domain/shared/decider';
import { slotDecider, type SlotEvent } from '../domain/capacity/slot';
import { StreamCache } from './stream-cache';
import { randomIds } from './ids';

const at = '2026-12-01T10:00:00.000Z';
const stream = 'slot-center.cc_1';
const taken = (callId: string): SlotEvent => ({ type: 'SlotTaken', data: { scope: 'center', ownerId: 'cc', slot: 1, callId, at } }) as SlotEvent;
const freed = (callId: string): SlotEvent => ({ type: 'SlotFreed', data: { scope: 'center', ownerId: 'cc', slot: 1, callId, at } }) as SlotEvent;
const envelope = (e: SlotEvent) => ({ eventId: randomIds.eventId(), type: e.type, data: e.data, occurredAt: at, merchantId: null, correlationId: 'c', causationId: null, schemaVersion: 1 });
/** A second fold of the same streams: how many events it has seen. */
const counter: Fold<number, SlotEvent> = { name: 'count@1', initialState: 0, evolve: (n) => n + 1 };

describe('StreamCache: the LRU of folded states and the snapshots behind load', () => {
  it('load reads only what the cached version lacks; a terminal or cached state is caught up, not re-read', async () => {
    const store = new SqliteEventStore(':memory:');
    const cache = new StreamCache(store);
    await store.append(stream, [envelope(taken('a'))], 0);
    assert.deepEqual((await cache.load(slotDecider, stream)).state, { status: 'Held', callId: 'a' });
    await store.append(stream, [envelope(freed('a'))], 1);
    assert.equal(cache.cached(slotDecider, stream)?.version, 1, 'cached: the store is not asked');
    const loaded = await cache.load(slotDecider, stream);
    assert.equal(loaded.version, 2);
    assert.ok(loaded.position, 'the newest event position is known after a read');
    await store.close();
  });

  it('keeps at most cacheEntries states, dropping the least recently used', async () => {
    const store = new SqliteEventStore(':memory:');
    const cache = new StreamCache(store, { cacheEntries: 2 });
    await cache.load(slotDecider, 'slot-a');
    await cache.load(slotDecider, 'slot-b');
    await cache.load(slotDecider, 'slot-a'); // a is used again: b is the oldest
    await cache.load(slotDecider, 'slot-c');
    assert.ok(cache.cached(slotDecider, 'slot-a'));
    assert.equal(cache.cached(slotDecider, 'slot-b'), undefined);
    assert.ok(cache.cached(slotDecider, 'slot-c'));
    await store.close();
  });

  it('remember never puts back an older state than the one cached (a slow reader)', async () => {
    const store = new SqliteEventStore(':memory:');
    const cache = new StreamCache(store);
    const newer = { state: { status: 'Free' as const }, version: 5, position: null, snapshotVersion: 0, terminal: false };
    cache.remember(slotDecider, stream, newer);
    assert.equal(cache.remember(slotDecider, stream, { ...newer, version: 3 }).version, 5);
    await store.close();
  });

  it('writes a snapshot every snapshotEvery events and starts a stream it has not seen from it', async () => {
    const store = new SqliteEventStore(':memory:');
    for (let i = 0; i < 6; i++) await store.append(stream, [envelope(i % 2 === 0 ? taken(`c${i}`) : freed(`c${i - 1}`))], i);
    await new StreamCache(store, { snapshotEvery: 4 }).load(slotDecider, stream);
    await new Promise((r) => setImmediate(r));
    assert.equal((await store.readSnapshot(stream, slotDecider.name))?.version, 6);
    const fresh = new StreamCache(store);
    const loaded = await fresh.load(slotDecider, stream);
    assert.deepEqual([loaded.version, loaded.snapshotVersion, loaded.position], [6, 6, null], 'from the snapshot, nothing after it');
    await store.close();
  });

  it('an append advances the other folds that were at its from-version; a new stream starts cached in its category`s folds', async () => {
    const store = new SqliteEventStore(':memory:');
    const cache = new StreamCache(store);
    await cache.load(counter, 'slot-other'); // counter is used on the slot category
    const from = await cache.load(slotDecider, stream);
    cache.appended(slotDecider, stream, from, [taken('a')], { status: 'Held', callId: 'a' }, 1, 'p1');
    assert.deepEqual(cache.cached(slotDecider, stream)?.state, { status: 'Held', callId: 'a' });
    assert.deepEqual([cache.cached(counter, stream)?.state, cache.cached(counter, stream)?.version], [1, 1], 'created here: no read later');
    cache.appended(slotDecider, stream, cache.cached(slotDecider, stream)!, [freed('a')], { status: 'Free' }, 2, 'p2');
    assert.deepEqual([cache.cached(counter, stream)?.state, cache.cached(counter, stream)?.position], [2, 'p2']);
    await store.close();
  });
});

describe('StreamCache: folds loaded alongside', () => {
  it('one read catches up the fold and those alongside, each from its own version', async () => {
    const store = new SqliteEventStore(':memory:');
    await store.append(stream, [envelope(taken('a')), envelope(freed('a'))], 0);
    const reads: number[] = [];
    const counting = { ...store, readSnapshot: store.readSnapshot.bind(store), writeSnapshot: store.writeSnapshot.bind(store), readStream: async (...a: Parameters<typeof store.readStream>) => (reads.push(1), store.readStream(...a)) };
    const cache = new StreamCache(counting);
    const loaded = await cache.load(slotDecider, stream, [counter]);
    assert.deepEqual([loaded.state, loaded.version], [{ status: 'Free' }, 2]);
    assert.deepEqual([cache.cached(counter, stream)?.state, cache.cached(counter, stream)?.version], [2, 2]);
    assert.equal(reads.length, 1);
    await store.close();
  });
});
