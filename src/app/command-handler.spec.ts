import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteEventStore } from '../adapters/eventstore/sqlite';
import { WrongExpectedVersionError, type EventStore } from '../ports/event-store';
import { slotDecider, type SlotCommand } from '../domain/capacity/slot';
import { DomainError } from '../domain/shared/errors';
import { callDecider } from '../domain/call/call';
import { CALL, download, t } from '../domain/call/fixtures';
import { callStreamId } from '../domain/shared/streams';
import { callView } from '../projections/call-history/view';
import { CommandHandler } from './command-handler';
import { randomIds } from './ids';

const meta = { correlationId: 'c-1', causationId: null, merchantId: null };
const at = '2026-12-01T10:00:00.000Z';
const take = (callId: string, slot = 1): SlotCommand => ({ type: 'TakeSlot', data: { scope: 'center', ownerId: 'cc', slot, callId, at } });
const free = (callId: string, slot = 1): SlotCommand => ({ type: 'FreeSlot', data: { scope: 'center', ownerId: 'cc', slot, callId, at } });
const stream = (slot = 1) => `slot-center.cc_${slot}`;

/** The real SQLite store, counting how many events each readStream returned. */
const countingStore = (store: EventStore) => {
  const reads: number[] = [];
  const counted = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'readStream')
        return async (...args: Parameters<EventStore['readStream']>) => {
          const events = await target.readStream(...args);
          reads.push(events.length);
          return events;
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { store: counted, reads };
};

describe('CommandHandler: cached folds, snapshots and exact concurrency', () => {
  it('reads only the events after its cached version: a long stream costs the same per command', async () => {
    const store = new SqliteEventStore(':memory:');
    const { store: counted, reads } = countingStore(store);
    const handler = new CommandHandler(counted, randomIds, { snapshotEvery: 1_000_000 });
    for (let i = 0; i < 200; i++) {
      await handler.handle(slotDecider, stream(), take(`call-${i}`), meta);
      await handler.handle(slotDecider, stream(), free(`call-${i}`), meta);
    }
    assert.equal((await store.readStream(stream())).length, 400);
    assert.ok(Math.max(...reads) <= 1, `no read returned more than the newest event (max ${Math.max(...reads)})`);
    await store.close();
  });

  it('after a restart, a stream is loaded from its newest snapshot, not from the start', async () => {
    const store = new SqliteEventStore(':memory:');
    const first = new CommandHandler(store, randomIds, { snapshotEvery: 50 });
    for (let i = 0; i < 130; i++) await first.handle(slotDecider, stream(), i % 2 === 0 ? take(`call-${i >> 1}`) : free(`call-${i >> 1}`), meta);
    await new Promise((r) => setImmediate(r)); // the snapshot write joins the next group commit
    const snap = await store.readSnapshot(stream(), slotDecider.name);
    assert.ok(snap && snap.version >= 100, `a snapshot was written (version ${snap?.version})`);

    const { store: counted, reads } = countingStore(store);
    const restarted = new CommandHandler(counted, randomIds, { snapshotEvery: 50 });
    const loaded = await restarted.load(slotDecider, stream());
    assert.equal(loaded.version, 130);
    assert.deepEqual(loaded.state, { status: 'Free' });
    assert.equal(reads.reduce((a, b) => a + b, 0), 130 - snap!.version, 'only the events after the snapshot were read');
    await store.close();
  });

  it('a snapshot of another shape (kind) is ignored: the fold starts from the events', async () => {
    const store = new SqliteEventStore(':memory:');
    const handler = new CommandHandler(store, randomIds);
    await handler.handle(slotDecider, stream(), take('call-1'), meta);
    await store.writeSnapshot(stream(), 'slot@0', { version: 1, state: { status: 'Nonsense' } });
    const loaded = await new CommandHandler(store, randomIds).load(slotDecider, stream());
    assert.deepEqual(loaded.state, { status: 'Held', callId: 'call-1' });
    await store.close();
  });

  it('a refusal decided on a stale cache is decided again on the stored state (another process freed the slot)', async () => {
    const store = new SqliteEventStore(':memory:');
    const a = new CommandHandler(store, randomIds);
    const b = new CommandHandler(store, randomIds);
    await a.handle(slotDecider, stream(), take('call-1'), meta); // A caches Held(call-1)
    await b.handle(slotDecider, stream(), free('call-1'), meta); // B frees it: A's cache is stale
    const r = await a.handle(slotDecider, stream(), take('call-2'), meta);
    assert.deepEqual(r.state, { status: 'Held', callId: 'call-2' }, 'A took the slot that its cache said was held');
    await store.close();
  });

  it('a no-op decided on a stale cache is decided again (the slot was taken after A last looked)', async () => {
    const store = new SqliteEventStore(':memory:');
    const a = new CommandHandler(store, randomIds);
    const b = new CommandHandler(store, randomIds);
    await a.load(slotDecider, stream()); // A caches Free
    await b.handle(slotDecider, stream(), take('call-1'), meta);
    const r = await a.handle(slotDecider, stream(), free('call-1'), meta);
    assert.equal(r.events.length, 1, 'the slot is freed, not skipped');
    assert.deepEqual((await store.readStream(stream())).map((e) => e.type), ['SlotTaken', 'SlotFreed']);
    await store.close();
  });

  it('a decision on a stale cache that produced events is checked by the append: a conflict is retried', async () => {
    const store = new SqliteEventStore(':memory:');
    const a = new CommandHandler(store, randomIds);
    const b = new CommandHandler(store, randomIds);
    await a.load(slotDecider, stream()); // A caches Free
    await b.handle(slotDecider, stream(), take('call-1'), meta);
    await assert.rejects(a.handle(slotDecider, stream(), take('call-2'), meta), (e: unknown) => e instanceof DomainError && e.code === 'CONFLICT');
    assert.equal((await store.readStream(stream())).length, 1, 'nothing was written over the other process');
    await store.close();
  });

  it('two handlers racing for 5 slots with 40 calls: exactly 5 taken, none twice', async () => {
    const store = new SqliteEventStore(':memory:');
    const handlers = [new CommandHandler(store, randomIds), new CommandHandler(store, randomIds)];
    const won = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        for (let slot = 1; slot <= 5; slot++) {
          try {
            await handlers[i % 2]!.handle(slotDecider, stream(slot), take(`call-${i}`, slot), meta);
            return slot;
          } catch (e) {
            if (e instanceof DomainError && e.code === 'CONFLICT') continue;
            if ((e as { code?: string }).code === 'WRONG_EXPECTED_VERSION') continue;
            throw e;
          }
        }
        return null;
      }),
    );
    const taken = won.filter((s) => s !== null);
    assert.equal(taken.length, 5);
    assert.equal(new Set(taken).size, 5);
    for (let slot = 1; slot <= 5; slot++) assert.equal((await store.readStream(stream(slot))).length, 1);
    await store.close();
  });
});

/** The store, but another writer wins the first `conflicts` appends: it takes and frees the slot first. */
const racedStore = (store: EventStore, conflicts: number) => {
  const seen = { appends: 0 };
  const raced = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append')
        return async (...args: Parameters<EventStore['append']>) => {
          seen.appends++;
          if (seen.appends <= conflicts) {
            const [streamId, , expected] = args;
            const other = new CommandHandler(target, randomIds);
            await other.handle(slotDecider, streamId, take(`other-${seen.appends}`), meta);
            await other.handle(slotDecider, streamId, free(`other-${seen.appends}`), meta);
            throw new WrongExpectedVersionError(streamId, expected, -1);
          }
          return target.append(...args);
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { store: raced, seen };
};

describe('CommandHandler: retries on a concurrent append', () => {
  it('a conflict is decided again on the stored state and appended once', async () => {
    const sqlite = new SqliteEventStore(':memory:');
    const { store, seen } = racedStore(sqlite, 2);
    const h = new CommandHandler(store, randomIds);
    const r = await h.handle(slotDecider, stream(), take('call-1'), meta);
    assert.equal(seen.appends, 3, 'two conflicts, then the append');
    assert.deepEqual((await sqlite.readStream(stream())).map((e) => (e.data as { callId: string }).callId), ['other-1', 'other-1', 'other-2', 'other-2', 'call-1']);
    assert.equal(r.version, 5);
    await sqlite.close();
  });

  it('after maxRetries conflicts the conflict is raised, and nothing of this command is stored', async () => {
    const sqlite = new SqliteEventStore(':memory:');
    const { store, seen } = racedStore(sqlite, 100);
    const h = new CommandHandler(store, randomIds, { maxRetries: 2 });
    await assert.rejects(h.handle(slotDecider, stream(), take('call-1'), meta), WrongExpectedVersionError);
    assert.equal(seen.appends, 3, 'the first try and two retries');
    assert.ok((await sqlite.readStream(stream())).every((e) => (e.data as { callId: string }).callId !== 'call-1'));
    await sqlite.close();
  });
});

describe('CommandHandler: the envelope from the state', () => {
  it("a decider that knows its stream's merchant (merchantOf) fills the envelope: the caller looks nothing up", async () => {
    const store = new SqliteEventStore(':memory:');
    const h = new CommandHandler(store, randomIds);
    await h.handle(callDecider, callStreamId(CALL), download(), { correlationId: 'c-1', causationId: null });
    await h.handle(callDecider, callStreamId(CALL), { type: 'TerminateCall', data: { callId: CALL, cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null, at: t(9) } }, { correlationId: 'c-2', causationId: null, merchantId: 'claimed' });
    assert.deepEqual((await store.readStream(callStreamId(CALL))).map((e) => [e.type, e.merchantId]), [['CallDownloaded', 'm1'], ['CallTerminated', 'm1']], 'the state wins over what a caller claims');
    await store.close();
  });

  it('a decider without merchantOf takes the merchant from the metadata', async () => {
    const store = new SqliteEventStore(':memory:');
    await new CommandHandler(store, randomIds).handle(slotDecider, stream(), take('call-1'), { ...meta, merchantId: 'm9' });
    assert.equal((await store.readStream(stream()))[0]?.merchantId, 'm9');
    await store.close();
  });
});

describe('CommandHandler: a command answers with its View', () => {
  it('a process that has not seen the stream reads it once for the decider and the answering View', async () => {
    const store = new SqliteEventStore(':memory:');
    await new CommandHandler(store, randomIds).handle(callDecider, callStreamId(CALL), download(), { correlationId: 'c-1', causationId: null });
    const { store: counted, reads } = countingStore(store);
    const h = new CommandHandler(counted, randomIds);
    const r = await h.handle(callDecider, callStreamId(CALL), { type: 'TerminateCall', data: { callId: CALL, cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null, at: t(9) } }, { correlationId: 'c-2', causationId: null }, callView);
    assert.equal(reads.length, 1, 'one read of the stream, then the append');
    assert.equal(r.answer?.id, CALL);
    assert.equal(r.answer?.state, 'TERMINATED');
    assert.deepEqual(h.peek(callView, callStreamId(CALL))?.version, r.version, 'the View was advanced by the append: a later answer reads nothing');
    await store.close();
  });
});
