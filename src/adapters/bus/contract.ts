import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { PublisherFencedError, type EventBatch, type EventBus, type Topic } from '../../ports/bus';
import type { EventStore, StoredEvent } from '../../ports/event-store';
import { SqliteEventStore } from '../eventstore/sqlite';

/**
 * The one contract every EventBus adapter passes (ports/bus.ts): the in-process bus
 * (memory.spec.ts) and Kafka (test/integration/kafka-bus-contract.int.ts). The events are real: appended to an
 * in-memory SQLite store (the in-process bus catches groups up from it), then published, as the
 * relay does.
 */
export interface BusHarness {
  /** A bus on its own topics over `store`; closed by {@link dispose}. */
  open(store: EventStore): Promise<EventBus>;
  dispose(): Promise<void>;
  /**
   * Leaves `events` the way a publisher of `name` killed between its send and its commit leaves
   * them (Kafka: sent in a transaction of the name's transactional id that is never ended). Absent
   * where a publish cannot be half done (in-process).
   */
  abandonMidPublish?(bus: EventBus, name: string, events: StoredEvent[]): Promise<void>;
}

/** Resolves to the harness, or null after the factory has reported a skip on `t`. */
export type BusHarnessFactory = (t: TestContext) => Promise<BusHarness | null>;

const until = async (check: () => boolean, what: () => string, ms = 30_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not in time: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** Everything a group was handed, and a handler that records it (throwing `failFirst` times first). */
const recorder = (failFirst = 0) => {
  const got: StoredEvent[] = [];
  const batches: EventBatch[] = [];
  let failures = failFirst;
  return {
    got,
    batches,
    handler: async (batch: EventBatch) => {
      if (batch.events.length > 0 && failures > 0) {
        failures--;
        throw new Error('the consumer’s database is away');
      }
      batches.push(batch);
      got.push(...batch.events);
    },
  };
};

/** Per stream, versions 1, 2, … in order (repeats of an already seen event allowed: at least once). */
const assertPerStreamOrder = (events: readonly StoredEvent[]) => {
  const last = new Map<string, number>();
  const seen = new Set<string>();
  for (const e of events) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    assert.equal(e.streamVersion, (last.get(e.streamId) ?? 0) + 1, `${e.streamId}: version ${e.streamVersion} after ${last.get(e.streamId) ?? 0}`);
    last.set(e.streamId, e.streamVersion);
  }
};

export const busContract = (name: string, factory: BusHarnessFactory): void => {
  /** A store with `perStream` events on each of these streams, interleaved; the bus over it; the stored events. */
  const setUp = async (t: TestContext, streams: string[], perStream: number) => {
    const harness = await factory(t);
    if (!harness) return null;
    const store = new SqliteEventStore(':memory:');
    const bus = await harness.open(store);
    for (let v = 1; v <= perStream; v++)
      for (const s of streams)
        await store.append(s, [{ eventId: randomUUID(), type: 'Noted', data: { s, v }, occurredAt: new Date().toISOString(), merchantId: null, correlationId: 'c', causationId: null }], 'any');
    const stored = await store.readAll({ limit: 10_000 });
    return {
      bus,
      stored,
      harness,
      close: async () => {
        await harness.dispose();
        await store.close();
      },
    };
  };
  const group = () => `contract-${randomUUID().slice(0, 8)}`;
  const calls = ['call-a', 'call-b', 'call-c'];

  describe(`EventBus contract: ${name}`, () => {
    test('a group gets every event of its topics, in order per stream, and none of another topic', async (t) => {
      const s = await setUp(t, [...calls, 'merchant-m'], 5);
      if (!s) return;
      const r = recorder();
      const sub = await s.bus.subscribe(group(), ['webdial.calls'] as Topic[], r.handler, { fromBeginning: true });
      await s.bus.publish(s.stored);
      const expected = s.stored.filter((e) => e.streamId.startsWith('call-'));
      await until(() => new Set(r.got.map((e) => e.eventId)).size >= expected.length, () => `${r.got.length}/${expected.length}`);
      assert.deepEqual(new Set(r.got.map((e) => e.eventId)), new Set(expected.map((e) => e.eventId)));
      assertPerStreamOrder(r.got);
      for (const b of r.batches) assert.ok(typeof b.source === 'string' && b.source.length > 0, 'a batch names its source');
      await sub.stop();
      await s.close();
    });

    test("a call's transfers reach a group in store order with the call's own events (busKeyOf)", async (t) => {
      // Issue 25: billing splits a call at each TransferCompleted, so one stored before the call's end must arrive before it.
      const pairs = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
      const s = await setUp(t, pairs.flatMap((p) => [`call-${p}`, `transfer-${p}`]), 4);
      if (!s) return;
      const r = recorder();
      const sub = await s.bus.subscribe(group(), ['webdial.calls'] as Topic[], r.handler, { fromBeginning: true });
      try {
        await s.bus.publish(s.stored);
        await until(() => new Set(r.got.map((e) => e.eventId)).size >= s.stored.length, () => `${r.got.length}/${s.stored.length}`);
        const firstSeen = [...new Map(r.got.map((e) => [e.eventId, e])).values()];
        for (const p of pairs) {
          const ofCall = (events: readonly StoredEvent[]) => events.filter((e) => e.streamId === `call-${p}` || e.streamId === `transfer-${p}`).map((e) => `${e.streamId}@${e.streamVersion}`);
          assert.deepEqual(ofCall(firstSeen), ofCall(s.stored), `call ${p} and its transfers, in store order`);
        }
      } finally {
        await sub.stop();
        await s.close();
      }
    });

    test('two groups each get every event', async (t) => {
      const s = await setUp(t, calls, 4);
      if (!s) return;
      const [a, b] = [recorder(), recorder()];
      const subs = [await s.bus.subscribe(group(), ['webdial.calls'], a.handler, { fromBeginning: true }), await s.bus.subscribe(group(), ['webdial.calls'], b.handler, { fromBeginning: true })];
      await s.bus.publish(s.stored);
      for (const r of [a, b]) await until(() => new Set(r.got.map((e) => e.eventId)).size >= s.stored.length, () => `${r.got.length}/${s.stored.length}`);
      assert.deepEqual(new Set(a.got.map((e) => e.eventId)), new Set(b.got.map((e) => e.eventId)));
      for (const sub of subs) await sub.stop();
      await s.close();
    });

    /** How many times each event id reached the group, once `expected` were all there and a moment more passed. */
    const deliveredCounts = async (r: ReturnType<typeof recorder>, expected: readonly StoredEvent[]) => {
      await until(() => new Set(r.got.map((e) => e.eventId)).size >= expected.length, () => `${new Set(r.got.map((e) => e.eventId)).size}/${expected.length}`);
      await new Promise((res) => setTimeout(res, 500)); // a repeat would arrive right behind
      const counts = new Map<string, number>();
      for (const e of r.got) counts.set(e.eventId, (counts.get(e.eventId) ?? 0) + 1);
      return counts;
    };
    const lastPosition = (events: readonly StoredEvent[]) => events[events.length - 1]!.position;

    test('a publisher resumes from the last position a publisher of its name committed', async (t) => {
      const s = await setUp(t, calls, 2);
      if (!s) return;
      const name = `relay-${randomUUID().slice(0, 8)}`;
      const first = s.bus.publisher(name);
      assert.equal(await first.start(), null, 'nothing committed yet');
      await first.publish(s.stored.slice(0, 2));
      await first.publish(s.stored.slice(2, 4));
      await first.close();
      const next = s.bus.publisher(name);
      assert.equal(await next.start(), lastPosition(s.stored.slice(0, 4)));
      await next.publish(s.stored.slice(4));
      assert.equal(await s.bus.publisher(name).start(), lastPosition(s.stored), 'each publish moved the checkpoint');
      assert.equal(await s.bus.publisher(`other-${name}`).start(), null, 'a checkpoint per name');
      await s.close();
    });

    test('a second publisher of the same name fences the first: its publish rejects and delivers nothing', async (t) => {
      const s = await setUp(t, calls, 2);
      if (!s) return;
      const r = recorder();
      const sub = await s.bus.subscribe(group(), ['webdial.calls'], r.handler, { fromBeginning: true });
      const name = `relay-${randomUUID().slice(0, 8)}`;
      const [head, tail] = [s.stored.slice(0, 3), s.stored.slice(3)];
      const zombie = s.bus.publisher(name);
      await zombie.start();
      await zombie.publish(head);
      const leader = s.bus.publisher(name);
      assert.equal(await leader.start(), lastPosition(head));
      await assert.rejects(zombie.publish(tail), PublisherFencedError, 'the older publisher is fenced');
      await assert.rejects(zombie.publish(tail), PublisherFencedError, 'and stays fenced');
      await leader.publish(tail);
      const counts = await deliveredCounts(r, s.stored);
      assert.deepEqual([...counts.values()].filter((n) => n !== 1), [], 'every event exactly once');
      assertPerStreamOrder(r.got);
      await sub.stop();
      await s.close();
    });

    test('nothing is published twice across a publisher that died mid-publish', async (t) => {
      const s = await setUp(t, calls, 3);
      if (!s) return;
      const r = recorder();
      const sub = await s.bus.subscribe(group(), ['webdial.calls'], r.handler, { fromBeginning: true });
      const name = `relay-${randomUUID().slice(0, 8)}`;
      const [head, tail] = [s.stored.slice(0, 4), s.stored.slice(4)];
      const crashed = s.bus.publisher(name);
      await crashed.start();
      await crashed.publish(head);
      // The process dies with the tail sent and not committed (or, in-process, before it published).
      await s.harness.abandonMidPublish?.(s.bus, name, tail);
      const restarted = s.bus.publisher(name);
      assert.equal(await restarted.start(), lastPosition(head), 'the checkpoint is the last committed publish, not the abandoned one');
      await restarted.publish(tail);
      const counts = await deliveredCounts(r, s.stored);
      assert.deepEqual([...counts.values()].filter((n) => n !== 1), [], 'every event exactly once');
      assertPerStreamOrder(r.got);
      await sub.stop();
      await s.close();
    });

    test('a handler that throws gets the same events again, with onRetry told: nothing is skipped', async (t) => {
      const s = await setUp(t, calls, 3);
      if (!s) return;
      const r = recorder(2);
      const retries: number[] = [];
      const sub = await s.bus.subscribe(group(), ['webdial.calls'], r.handler, { fromBeginning: true, onRetry: (_e, attempt) => void retries.push(attempt) });
      await s.bus.publish(s.stored);
      await until(() => new Set(r.got.map((e) => e.eventId)).size >= s.stored.length, () => `${r.got.length}/${s.stored.length}`);
      assert.deepEqual(retries.slice(0, 2), [1, 2], 'each failure is told with its attempt');
      assertPerStreamOrder(r.got);
      await sub.stop();
      await s.close();
    });
  });
};
