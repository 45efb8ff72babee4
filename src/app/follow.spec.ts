import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { SqliteEventStore } from '../adapters/eventstore/sqlite';
import { MemoryBus } from '../adapters/bus/memory';
import type { CheckpointStore } from '../ports/checkpoint';
import type { EventBatch } from '../ports/bus';
import type { EventStore, StoredEvent } from '../ports/event-store';
import { follow, FollowerStopped, type FollowerState } from './follow';

const note = async (store: EventStore, stream: string) => {
  await store.append(stream, [{ eventId: randomUUID(), type: 'Noted', data: {}, occurredAt: new Date().toISOString(), merchantId: null, correlationId: 'c', causationId: null }], 'any');
};

/** A checkpoint store that keeps every save, in order. */
const recorded = (initial: string | null = null): CheckpointStore & { saves: string[] } => {
  const saves: string[] = [];
  return { saves, load: async () => initial, save: async (_n, p) => void saves.push(p), flush: async () => undefined };
};

const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('not in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** A promise with its resolver: a handler held until the test lets it go. */
const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
};

describe('follow(store, spec): one way to follow the event store', () => {
  it('an instance follower starts once it has handled everything stored, in order; a handler that throws skips that event and says so', async () => {
    const store = new SqliteEventStore(':memory:');
    for (const s of ['a', 'b', 'c']) await note(store, s);
    const seen: string[] = [];
    const errors: unknown[] = [];
    const f = await follow(store, {
      name: 't',
      scope: 'instance',
      checkpoint: { from: 'beginning' },
      handle: (e) => {
        if (e.streamId === 'b') throw new Error('unreadable');
        seen.push(e.streamId);
      },
      onError: (e) => void errors.push(e),
    });
    // Resolved only once caught up: nothing to wait for.
    assert.deepEqual(seen, ['a', 'c']);
    assert.equal(errors.length, 1);
    assert.match((errors[0] as Error).message, /t cannot follow Noted@.* \(b\).*skipped/);
    const all = await store.readAll();
    assert.equal(f.position, all.at(-1)!.position);
    await note(store, 'd');
    await f.waitFor((await store.readAll()).at(-1)!.position);
    assert.deepEqual(seen, ['a', 'c', 'd']);
    await f.stop();
    await store.close();
  });

  it('concurrently: the saved checkpoint never passes an event still in hand, then jumps past everything done', async () => {
    const store = new SqliteEventStore(':memory:');
    for (const s of ['slow', 'quick-1', 'quick-2']) await note(store, s);
    const all = await store.readAll();
    const checkpoints = recorded();
    const held = gate();
    const done: string[] = [];
    const f = await follow(store, {
      name: 'effects',
      scope: 'cluster',
      checkpoint: { from: 'saved', checkpoints },
      concurrency: 8,
      handle: async (e) => {
        if (e.streamId === 'slow') await held.opened;
        done.push(e.streamId);
      },
    });
    await until(() => done.length === 2);
    assert.deepEqual(done, ['quick-1', 'quick-2'], 'the others ran while the first was held');
    assert.deepEqual(checkpoints.saves, [], 'nothing saved while the first event is in hand');
    assert.equal(f.position, null);
    held.open();
    await until(() => checkpoints.saves.length > 0);
    assert.equal(checkpoints.saves.at(-1), all.at(-1)!.position, 'past all three at once');
    await f.stop();
    await store.close();
  });

  it('concurrently: a handler stopped before it was done (FollowerStopped) leaves the checkpoint before its event, and the next start handles it again', async () => {
    const store = new SqliteEventStore(':memory:');
    for (const s of ['first', 'stuck', 'after']) await note(store, s);
    const all = await store.readAll();
    const saved: { position: string | null } = { position: null };
    const checkpoints: CheckpointStore = { load: async () => saved.position, save: async (_n, p) => void (saved.position = p), flush: async () => undefined };
    let stopping = false;
    const f = await follow(store, {
      name: 'effects',
      scope: 'cluster',
      checkpoint: { from: 'saved', checkpoints },
      concurrency: 4,
      handle: async (e) => {
        if (e.streamId !== 'stuck') return;
        await until(() => stopping, 5000);
        throw new FollowerStopped('effects');
      },
    });
    await until(() => saved.position === all[0]!.position);
    stopping = true;
    await f.stop();
    assert.equal(saved.position, all[0]!.position, 'not past the event that was not done');
    const again: string[] = [];
    const g = await follow(store, { name: 'effects', scope: 'cluster', checkpoint: { from: 'saved', checkpoints }, concurrency: 4, handle: (e) => void again.push(e.streamId) });
    await until(() => again.length === 2);
    assert.deepEqual(again, ['stuck', 'after']);
    await g.stop();
    await store.close();
  });

  it('in batches: what piled up while a batch ran is the next batch; a throw stops the follower where it got to', async () => {
    const store = new SqliteEventStore(':memory:');
    await note(store, 'a');
    const checkpoints = recorded();
    const batches: string[][] = [];
    const held = gate();
    const errors: unknown[] = [];
    const f = await follow(store, {
      name: 'relay',
      scope: 'cluster',
      checkpoint: { from: 'saved', checkpoints },
      catchUp: false,
      handleBatch: async (events: StoredEvent[]) => {
        if (events.some((e) => e.streamId === 'poison')) throw new Error('fenced');
        batches.push(events.map((e) => e.streamId));
        if (batches.length === 1) await held.opened;
      },
      onError: (e) => void errors.push(e),
    });
    await until(() => batches.length === 1);
    for (const s of ['b', 'c', 'd']) await note(store, s);
    await new Promise((r) => setTimeout(r, 100)); // the store hands them over while the first batch is held
    held.open();
    await until(() => batches.length === 2);
    assert.deepEqual(batches, [['a'], ['b', 'c', 'd']], 'one batch for what piled up');
    const afterTwo = (await store.readAll()).at(-1)!.position;
    await until(() => checkpoints.saves.at(-1) === afterTwo);
    await note(store, 'poison');
    await note(store, 'e');
    await until(() => errors.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(checkpoints.saves.at(-1), afterTwo, 'nothing saved past the batch that threw');
    assert.equal(batches.length, 2, 'nothing handed over after the throw');
    assert.match((errors[0] as Error).message, /relay: stopped following \(fenced\)/);
    await f.stop();
    await store.close();
  });

  it('from a snapshot: a restart restores the state and folds only the tail', async () => {
    const store = new SqliteEventStore(':memory:');
    for (let i = 0; i < 5; i++) await note(store, `s${i}`);
    let folded = 0;
    const counter = (): FollowerState<number> & { n: number } => {
      const c = { kind: 'counter@1', n: 0, save: () => c.n, restore: (n: number) => void (c.n = n) };
      return c;
    };
    const one = counter();
    const f = await follow(store, { name: 'count', scope: 'instance', checkpoint: { from: 'snapshot', state: one }, handle: () => void (one.n++, folded++) });
    assert.equal(one.n, 5);
    await f.stop(); // writes the snapshot
    await note(store, 'tail');
    folded = 0;
    const two = counter();
    const g = await follow(store, { name: 'count', scope: 'instance', checkpoint: { from: 'snapshot', state: two }, handle: () => void (two.n++, folded++) });
    assert.equal(two.n, 6, 'the snapshot and the tail');
    assert.equal(folded, 1, 'only the tail folded');
    await g.stop();
    await store.close();
  });

  it('refuses a snapshot of a state folded concurrently or in batches', async () => {
    const store = new SqliteEventStore(':memory:');
    const state: FollowerState<number> = { kind: 'x@1', save: () => 0, restore: () => undefined };
    await assert.rejects(follow(store, { name: 'x', scope: 'instance', checkpoint: { from: 'snapshot', state }, concurrency: 2, handle: () => undefined }), /folded one event at a time/);
    await store.close();
  });
});

describe('follow(bus, spec): a consumer group of the bus', () => {
  it('an instance follower is a group of its own (every instance hears every event); a cluster follower uses the group as named', async () => {
    const store = new SqliteEventStore(':memory:');
    const bus = new MemoryBus(store);
    const groups: string[] = [];
    const spy = { subscribe: ((group: string, ...rest: Parameters<MemoryBus['subscribe']> extends [string, ...infer R] ? R : never) => (groups.push(group), bus.subscribe(group, ...rest))) as MemoryBus['subscribe'] };
    const heard = new Map<string, string[]>();
    const listen = (who: string) => async (b: EventBatch) => void heard.set(who, [...(heard.get(who) ?? []), ...b.events.map((e) => e.streamId)]);
    const a = await follow({ bus: spy, topics: ['webdial.calls'], group: 'hub' }, { name: 'hub', scope: 'instance', checkpoint: { from: 'group', fromBeginning: false }, handleBatch: listen('a') });
    const b = await follow({ bus: spy, topics: ['webdial.calls'], group: 'hub' }, { name: 'hub', scope: 'instance', checkpoint: { from: 'group', fromBeginning: false }, handleBatch: listen('b') });
    const c = await follow({ bus: spy, topics: ['webdial.calls'], group: 'projections' }, { name: 'projections', scope: 'cluster', checkpoint: { from: 'group', fromBeginning: true }, handleBatch: listen('c') });
    assert.equal(groups.length, 3);
    assert.match(groups[0]!, /^hub\.[0-9a-f-]{36}$/);
    assert.notEqual(groups[0], groups[1]);
    assert.equal(groups[2], 'projections');
    await note(store, 'call-1');
    await bus.publish(await store.readAll());
    await until(() => ['a', 'b', 'c'].every((w) => heard.get(w)?.length === 1));
    for (const f of [a, b, c]) await f.stop();
    await bus.close();
    await store.close();
  });
});
