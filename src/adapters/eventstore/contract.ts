import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import type { EventStore, NewEvent, StoredEvent } from '../../ports/event-store';
import { WrongExpectedVersionError } from '../../ports/event-store';
import { UpcasterRegistry } from './upcasting';

/**
 * The one contract every event store adapter passes (ports/event-store.ts). Each adapter has a thin
 * `<adapter>.int.ts` that calls {@link eventStoreContract} with a factory for its harness.
 */

/** An append whose transaction is still open: its events are written but not committed. */
export interface HeldAppend {
  commit(): Promise<void>;
  /** Rolls back; a no-op after commit or rollback. */
  rollback(): Promise<void>;
}

export interface ContractHarness {
  /** Opens a store on this harness's storage; may be called several times (restarts, two instances). */
  open(options?: { upcasters?: UpcasterRegistry }): Promise<EventStore>;
  /** Stores an event as an older webdial wrote it (its schemaVersion as given), bypassing the adapter. */
  writeRaw(streamId: string, streamVersion: number, event: NewEvent & { schemaVersion: number }): Promise<void>;
  /** The store rejects a second event with an eventId it already holds (SQL adapters do; KurrentDB dedupes). */
  uniqueEventIds: boolean;
  /**
   * Where the store has client-side transactions (PostgreSQL): starts an append and leaves its
   * transaction open, so that later appends commit before it. This is what makes the gap race real.
   */
  holdAppend?(store: EventStore, streamId: string, events: NewEvent[]): Promise<HeldAppend>;
  /** Drops the storage (schema, file). */
  dispose(): Promise<void>;
}

/** Resolves to the harness, or null after the factory has reported a skip on `t`. */
export type HarnessFactory = (t: TestContext) => Promise<ContractHarness | null>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let counter = 0;
export const newEvent = (type = 'TestHappened', data: unknown = { n: ++counter }, overrides: Partial<NewEvent> = {}): NewEvent => ({
  eventId: randomUUID(),
  type,
  data,
  occurredAt: new Date(Date.UTC(2026, 0, 1, 12, 0, 0, counter % 1000)).toISOString(),
  merchantId: 'm-1',
  correlationId: randomUUID(),
  causationId: null,
  ...overrides,
});

/**
 * readAll may legitimately hold back committed events for a moment (PostgreSQL waits until every
 * older transaction in the cluster has finished). Poll until `ready` holds, then return the read.
 */
const readAllUntil = async (store: EventStore, ready: (events: StoredEvent[]) => boolean, timeoutMs = 15_000): Promise<StoredEvent[]> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all: StoredEvent[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await store.readAll({ after, limit: 1000 });
      all.push(...page);
      if (page.length < 1000) break;
      after = page[page.length - 1]!.position;
    }
    if (ready(all) || Date.now() > deadline) return all;
    await sleep(50);
  }
};

const assertIncreasing = (positions: string[]) => {
  for (let i = 1; i < positions.length; i++) {
    assert.ok(positions[i - 1]! < positions[i]!, `positions not strictly increasing at ${i}: ${positions[i - 1]} !< ${positions[i]}`);
  }
};

/** Collects what a subscription delivers; `until` resolves once `n` events have arrived. */
const collector = () => {
  const seen: StoredEvent[] = [];
  let waiters: { n: number; resolve: () => void }[] = [];
  return {
    seen,
    handler: async (e: StoredEvent) => {
      seen.push(e);
      waiters = waiters.filter((w) => (seen.length >= w.n ? (w.resolve(), false) : true));
    },
    until: (n: number, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        if (seen.length >= n) return resolve();
        const timer = setTimeout(() => reject(new Error(`subscription delivered ${seen.length} of ${n} events in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      }),
  };
};

/** A test-only schema evolution: `PersonNamed` v1 had `name`; v2 splits it. */
const testUpcasters = () =>
  new UpcasterRegistry({ PersonNamed: 2 }).register('PersonNamed', 1, (data) => {
    const [first, ...rest] = String((data as { name: string }).name).split(' ');
    return { firstName: first, lastName: rest.join(' ') };
  });

/** What a store can do that decides which cases apply to it. */
export interface ContractCapabilities {
  /**
   * The store has client-held transactions (PostgreSQL), so an append can commit after a later one and
   * the "gap-free" case is real. Stores whose appends become visible in position order (SQLite's single
   * writer; KurrentDB, whose one storage writer assigns positions as it writes and commits in log order)
   * do not get that case: it cannot be set up on them, and a skipped case would be counted as one.
   */
  heldTransactions?: boolean;
}

export const eventStoreContract = (name: string, factory: HarnessFactory, capabilities: ContractCapabilities = {}): void => {
  /** Runs `body` with a fresh harness and one open store, and cleans up whatever happens. */
  const withStore = async (
    t: TestContext,
    body: (store: EventStore, harness: ContractHarness) => Promise<void>,
    options?: { upcasters?: UpcasterRegistry },
  ) => {
    const harness = await factory(t);
    if (!harness) return;
    const store = await harness.open(options);
    try {
      await body(store, harness);
    } finally {
      await store.close();
      await harness.dispose();
    }
  };

  describe(`event store contract: ${name}`, () => {
    test('append then read a stream: versions from 1, envelope kept, positions increasing', (t) =>
      withStore(t, async (store) => {
        const events = [newEvent('A', { x: 1 }), newEvent('B', { nested: { y: [1, 2] } }, { causationId: 'cause-1', merchantId: null }), newEvent('C', 'text')];
        const r = await store.append('call-s1', events, 0);
        assert.equal(r.nextVersion, 3);
        assert.deepEqual(r.events.map((e) => e.streamVersion), [1, 2, 3]);
        assertIncreasing(r.events.map((e) => e.position));
        const read = await store.readStream('call-s1');
        assert.deepEqual(read, r.events, 'readStream returns what append returned');
        for (const [i, e] of read.entries()) {
          const sent = events[i]!;
          assert.equal(e.eventId, sent.eventId);
          assert.equal(e.type, sent.type);
          assert.equal(e.streamId, 'call-s1');
          assert.deepEqual(e.data, sent.data);
          assert.equal(e.occurredAt, sent.occurredAt);
          assert.equal(e.merchantId, sent.merchantId);
          assert.equal(e.correlationId, sent.correlationId);
          assert.equal(e.causationId, sent.causationId);
          assert.equal(e.schemaVersion, 1);
          assert.ok(!Number.isNaN(Date.parse(e.recordedAt)));
        }
        assert.deepEqual((await store.readStream('call-s1', { fromVersion: 2 })).map((e) => e.streamVersion), [2, 3]);
        assert.deepEqual(await store.readStream('call-absent'), []);
        const more = await store.append('call-s1', [newEvent('D')], 3);
        assert.equal(more.nextVersion, 4);
        assert.ok(more.events[0]!.position > r.events[2]!.position);
        const any = await store.append('call-s1', [newEvent('E')], 'any');
        assert.equal(any.nextVersion, 5);
      }));

    test('conflict: WrongExpectedVersionError, nothing written', (t) =>
      withStore(t, async (store) => {
        await store.append('call-c1', [newEvent(), newEvent()], 0);
        for (const expected of [0, 1, 3]) {
          await assert.rejects(store.append('call-c1', [newEvent('Bad')], expected), (e: unknown) => {
            assert.ok(e instanceof WrongExpectedVersionError, `got ${String(e)}`);
            assert.equal(e.code, 'WRONG_EXPECTED_VERSION');
            assert.equal(e.streamId, 'call-c1');
            assert.equal(e.expected, expected);
            assert.equal(e.actual, 2);
            return true;
          });
        }
        await assert.rejects(store.append('call-new', [newEvent()], 1), WrongExpectedVersionError);
        // An empty append checks the version and writes nothing.
        await assert.rejects(store.append('call-c1', [], 1), WrongExpectedVersionError);
        assert.equal((await store.append('call-c1', [], 2)).nextVersion, 2);
        const read = await store.readStream('call-c1');
        assert.equal(read.length, 2);
        assert.ok(read.every((e) => e.type !== 'Bad'));
        assert.deepEqual(await store.readStream('call-new'), []);
        const all = await readAllUntil(store, (a) => a.length >= 2);
        assert.equal(all.length, 2);
      }));

    test('concurrent appends with the same expected version: exactly one wins', (t) =>
      withStore(t, async (store) => {
        const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.append('call-race', [newEvent('Try', { i }), newEvent('Try2', { i })], 0)));
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1, 'one append wins');
        for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof WrongExpectedVersionError, String(r.reason));
        const read = await store.readStream('call-race');
        assert.equal(read.length, 2);
        assert.equal((read[0]!.data as { i: number }).i, (read[1]!.data as { i: number }).i, 'both events come from the same batch');
      }));

    test('read-all: global order across streams, paging, stats', (t) =>
      withStore(t, async (store) => {
        const appended: StoredEvent[] = [];
        for (let i = 0; i < 30; i++) {
          const r = await store.append(`call-r${i % 4}`, [newEvent('R', { i })], 'any');
          appended.push(...r.events);
        }
        const all = await readAllUntil(store, (a) => a.length >= 30);
        assert.deepEqual(all.map((e) => e.eventId), appended.map((e) => e.eventId), 'append order');
        assert.deepEqual(all.map((e) => e.position), appended.map((e) => e.position), 'append returned the final positions');
        assertIncreasing(all.map((e) => e.position));
        const paged: StoredEvent[] = [];
        let after: string | null = null;
        for (;;) {
          const page = await store.readAll({ after, limit: 7 });
          if (page.length === 0) break;
          assert.ok(page.length <= 7);
          paged.push(...page);
          after = page[page.length - 1]!.position;
        }
        assert.deepEqual(paged.map((e) => e.eventId), appended.map((e) => e.eventId));
        assert.deepEqual(await store.readAll({ after: all[29]!.position }), []);
        assert.deepEqual((await store.readAll({ after: all[9]!.position, limit: 2 })).map((e) => e.eventId), [all[10]!.eventId, all[11]!.eventId]);
        const stats = await store.stats();
        assert.equal(stats.events, 30);
        assert.equal(stats.streams, 4);
        assert.equal(stats.lastPosition, all[29]!.position);
      }));

    test('subscribe: catch-up then live, from a position, types filter, resume after a restart', async (t) => {
      const harness = await factory(t);
      if (!harness) return;
      try {
        let store = await harness.open();
        for (let i = 0; i < 5; i++) await store.append('call-sub', [newEvent(i % 2 ? 'Odd' : 'Even', { i })], i);
        const first = collector();
        const sub = store.subscribe({}, first.handler);
        await first.until(5);
        await store.append('call-sub', [newEvent('Even', { i: 5 })], 5); // live
        await first.until(6);
        await sub.stop();
        await sub.done;
        assert.deepEqual(first.seen.map((e) => (e.data as { i: number }).i), [0, 1, 2, 3, 4, 5]);
        assertIncreasing(first.seen.map((e) => e.position));
        const checkpoint = first.seen[3]!.position;

        // Only some types, from a position.
        const odd = collector();
        const oddSub = store.subscribe({ after: first.seen[0]!.position, types: new Set(['Odd']) }, odd.handler);
        await odd.until(2);
        await sleep(100);
        await oddSub.stop();
        assert.deepEqual(odd.seen.map((e) => (e.data as { i: number }).i), [1, 3]);

        // Restart: close, write more with a new instance, then resume from the stored checkpoint.
        await store.close();
        store = await harness.open();
        await store.append('call-sub2', [newEvent('Even', { i: 6 }), newEvent('Odd', { i: 7 })], 0);
        const resumed = collector();
        const sub2 = store.subscribe({ after: checkpoint }, resumed.handler);
        await resumed.until(4);
        await store.append('call-sub2', [newEvent('Even', { i: 8 })], 2);
        await resumed.until(5);
        await sleep(100);
        await sub2.stop();
        assert.deepEqual(resumed.seen.map((e) => (e.data as { i: number }).i), [4, 5, 6, 7, 8], 'exactly the events after the checkpoint');

        // A failing handler ends the subscription with its error.
        const failing = store.subscribe({}, async () => {
          throw new Error('handler broke');
        });
        await assert.rejects(failing.done, /handler broke/);
        await store.close();
      } finally {
        await harness.dispose();
      }
    });

    test('head position and ping: cheap, and the head is the last event readAll returns', (t) =>
      withStore(t, async (store) => {
        await store.ping();
        assert.equal(await store.headPosition(), null, 'an empty store has no head');
        await store.append('call-h1', [newEvent('A'), newEvent('B')], 0);
        const r = await store.append('call-h2', [newEvent('C')], 0);
        const all = await readAllUntil(store, (es) => es.length === 3);
        const head = await store.headPosition();
        assert.equal(head, all.at(-1)!.position);
        assert.equal(head, r.events[0]!.position);
        assert.deepEqual(await store.readAll({ after: head }), [], 'nothing after the head');
      }));

    test('trace context: a traceparent on the envelope is kept by append, readStream and readAll; absent stays absent', (t) =>
      withStore(t, async (store) => {
        const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
        const r = await store.append('call-tp1', [newEvent('A', { n: 1 }, { traceparent: tp }), newEvent('B')], 0);
        assert.equal(r.events[0]!.traceparent, tp);
        assert.equal('traceparent' in r.events[1]!, false);
        const [a, b] = await store.readStream('call-tp1');
        assert.equal(a!.traceparent, tp);
        assert.equal('traceparent' in b!, false);
        const all = await readAllUntil(store, (es) => es.some((e) => e.streamId === 'call-tp1' && e.type === 'B'));
        assert.equal(all.find((e) => e.streamId === 'call-tp1' && e.type === 'A')!.traceparent, tp);
      }));

    test('snapshots: newest per stream and kind, never replaced by an older one, absent is null', (t) =>
      withStore(t, async (store, harness) => {
        assert.equal(await store.readSnapshot('port-g_1', 'port@1'), null);
        await store.writeSnapshot('port-g_1', 'port@1', { version: 10, state: { status: 'Free', n: [1, 2] } });
        await store.writeSnapshot('port-g_1', 'port@2', { version: 3, state: 'other kind' });
        assert.deepEqual(await store.readSnapshot('port-g_1', 'port@1'), { version: 10, state: { status: 'Free', n: [1, 2] } });
        await store.writeSnapshot('port-g_1', 'port@1', { version: 7, state: 'older' });
        assert.equal((await store.readSnapshot('port-g_1', 'port@1'))!.version, 10, 'an older snapshot does not replace a newer one');
        await store.writeSnapshot('port-g_1', 'port@1', { version: 12, state: null });
        assert.deepEqual(await store.readSnapshot('port-g_1', 'port@1'), { version: 12, state: null });
        assert.deepEqual(await store.readSnapshot('port-g_1', 'port@2'), { version: 3, state: 'other kind' });
        assert.equal(await store.readSnapshot('port-g_2', 'port@1'), null);
        // Snapshots are not events: they never show in the global order or a stream.
        assert.deepEqual(await store.readAll(), []);
        assert.deepEqual(await store.readStream('port-g_1'), []);
        // And they survive a restart.
        const again = await harness.open();
        try {
          assert.equal((await again.readSnapshot('port-g_1', 'port@1'))!.version, 12);
        } finally {
          await again.close();
        }
      }));

    test('snapshots under concurrency: writers racing from two instances leave the newest', async (t) => {
      const harness = await factory(t);
      if (!harness) return;
      const stores = [await harness.open(), await harness.open()];
      try {
        // Versions 1..24 written at once, half through each instance, in an order that is not ascending.
        const versions = Array.from({ length: 24 }, (_, i) => ((i * 7) % 24) + 1);
        await Promise.all(versions.map((v, i) => stores[i % 2]!.writeSnapshot('port-race', 'port@1', { version: v, state: { v } })));
        assert.deepEqual(await stores[0]!.readSnapshot('port-race', 'port@1'), { version: 24, state: { v: 24 } });
        assert.deepEqual(await stores[1]!.readSnapshot('port-race', 'port@1'), { version: 24, state: { v: 24 } });
      } finally {
        for (const s of stores) await s.close();
        await harness.dispose();
      }
    });

    test('batch atomicity: a batch that fails part-way leaves nothing', async (t) => {
      await withStore(t, async (store, harness) => {
        const existing = newEvent('Existing');
        await store.append('call-a0', [existing], 0);
        if (harness.uniqueEventIds) {
          // The third event collides with a stored one: the first two must not survive.
          const batch = [newEvent('Doomed', { k: 1 }), newEvent('Doomed', { k: 2 }), { ...newEvent('Doomed', { k: 3 }), eventId: existing.eventId }];
          await assert.rejects(store.append('call-a1', batch, 0));
          assert.deepEqual(await store.readStream('call-a1'), []);
        }
        if (harness.holdAppend) {
          const held = await harness.holdAppend(store, 'call-a2', [newEvent('RolledBack'), newEvent('RolledBack')]);
          await held.rollback();
          assert.deepEqual(await store.readStream('call-a2'), []);
        }
        // A conflicting batch writes none of its events.
        await assert.rejects(store.append('call-a0', [newEvent('Doomed'), newEvent('Doomed')], 0), WrongExpectedVersionError);
        const all = await readAllUntil(store, (a) => a.length >= 1);
        assert.deepEqual(all.map((e) => e.type), ['Existing']);
        assert.equal((await store.append('call-a1', [newEvent('Fine')], 0)).nextVersion, 1, 'the stream is still empty');
      });
    });

    test('schema evolution: a stored v1 event is read as v2 everywhere', (t) =>
      withStore(
        t,
        async (store, harness) => {
          const v1 = { ...newEvent('PersonNamed', { name: 'Ada King Lovelace' }), schemaVersion: 1 };
          await harness.writeRaw('merchant-up', 1, v1);
          const expected = { firstName: 'Ada', lastName: 'King Lovelace' };
          const [read] = await store.readStream('merchant-up');
          assert.equal(read!.schemaVersion, 2);
          assert.deepEqual(read!.data, expected);
          const [fromAll] = await readAllUntil(store, (a) => a.length >= 1);
          assert.deepEqual(fromAll!.data, expected);
          const c = collector();
          const sub = store.subscribe({}, c.handler);
          await c.until(1);
          await sub.stop();
          assert.deepEqual(c.seen[0]!.data, expected);
          // New events are written at the current version and are left alone.
          const r = await store.append('merchant-up', [newEvent('PersonNamed', { firstName: 'Grace', lastName: 'Hopper' })], 1);
          assert.equal(r.events[0]!.schemaVersion, 2);
          assert.deepEqual((await store.readStream('merchant-up', { fromVersion: 2 }))[0]!.data, { firstName: 'Grace', lastName: 'Hopper' });
          // Without the upcaster the raw v1 shape is what is stored.
          const plain = await harness.open();
          try {
            const [raw] = await plain.readStream('merchant-up');
            assert.equal(raw!.schemaVersion, 1);
            assert.deepEqual(raw!.data, { name: 'Ada King Lovelace' });
          } finally {
            await plain.close();
          }
        },
        { upcasters: testUpcasters() },
      ));

    if (capabilities.heldTransactions) test('gap-free: an event committed late is not skipped by a reader that is ahead of it', async (t) => {
      const harness = await factory(t);
      if (!harness) return;
      if (!harness.holdAppend) {
        await harness.dispose();
        assert.fail(`${name} declares heldTransactions but its harness has no holdAppend`);
      }
      const store = await harness.open();
      let held: HeldAppend | null = null;
      try {
        held = await harness.holdAppend(store, 'call-late', [newEvent('Late')]);
        await store.append('call-early', [newEvent('Early')], 0);
        await sleep(200);
        // The early commit may not be handed out yet: the late one could still land before it.
        assert.deepEqual((await store.readAll()).map((e) => e.type), [], 'nothing is readable while an older transaction is open');
        const c = collector();
        const sub = store.subscribe({}, c.handler);
        await sleep(300);
        assert.equal(c.seen.length, 0);
        await held.commit();
        await c.until(2);
        await sub.stop();
        assert.deepEqual(c.seen.map((e) => e.type), ['Late', 'Early'], 'delivered in (xid, seq) order, none skipped');
      } finally {
        await held?.rollback(); // a no-op once committed; otherwise it would block dropping the storage
        await store.close();
        await harness.dispose();
      }
    });

    test('stress: 8 writers x 200 streams while a reader follows the global order', { timeout: 120_000 }, async (t) => {
      const harness = await factory(t);
      if (!harness) return;
      const writerStores = [await harness.open(), await harness.open()];
      const readerStore = writerStores[0]!;
      const WRITERS = 8;
      const STREAMS = 200;
      try {
        const reader = collector();
        const sub = readerStore.subscribe({}, reader.handler);
        const written = new Set<string>();
        let held = 0;
        const writer = async (w: number) => {
          const store = writerStores[w % writerStores.length]!;
          for (let s = 0; s < STREAMS; s++) {
            const streamId = `call-w${w}s${s}`;
            const first = [newEvent('One', { w, s })];
            // Every 25th append of a PostgreSQL writer keeps its transaction open while the other
            // writers commit: those later commits get higher positions but are visible first.
            if (harness.holdAppend && s % 25 === 7) {
              const h = await harness.holdAppend(store, streamId, first);
              held++;
              await sleep(20 + ((w * 37 + s) % 60));
              await h.commit();
            } else {
              await store.append(streamId, first, 0);
            }
            first.forEach((e) => written.add(e.eventId));
            const batch = [newEvent('Two', { w, s }), newEvent('Three', { w, s })];
            await store.append(streamId, batch, 1);
            batch.forEach((e) => written.add(e.eventId));
          }
        };
        const started = Date.now();
        await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
        const total = WRITERS * STREAMS * 3;
        assert.equal(written.size, total);
        // A subscription that dies must fail the test with its own error, not a timeout.
        await Promise.race([reader.until(total, 30_000), sub.done.then(() => assert.fail('the subscription ended early'))]);
        await sleep(300); // anything extra (a duplicate) would arrive now
        await sub.stop();
        t.diagnostic(`${total} events by ${WRITERS} writers in ${Date.now() - started} ms, ${held} held transactions`);

        const ids = reader.seen.map((e) => e.eventId);
        assert.equal(ids.length, total, 'every event delivered');
        assert.equal(new Set(ids).size, total, 'no event delivered twice');
        assert.ok(ids.every((id) => written.has(id)));
        assertIncreasing(reader.seen.map((e) => e.position));
        // Nothing turned up behind the reader: the final global order is exactly what it followed.
        const final = await readAllUntil(readerStore, (a) => a.length >= total);
        assert.equal(final.length, total);
        assert.deepEqual(final.map((e) => e.position), reader.seen.map((e) => e.position));
        // Per stream, versions 1..3 in order.
        const perStream = new Map<string, number[]>();
        for (const e of reader.seen) perStream.set(e.streamId, [...(perStream.get(e.streamId) ?? []), e.streamVersion]);
        assert.equal(perStream.size, WRITERS * STREAMS);
        for (const [id, versions] of perStream) assert.deepEqual(versions, [1, 2, 3], id);
      } finally {
        for (const s of writerStores) await s.close();
        await harness.dispose();
      }
    });
  });
};
