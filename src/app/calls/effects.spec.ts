import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteEventStore } from '../../adapters/eventstore/sqlite';
import type { CheckpointStore } from '../../ports/checkpoint';
import type { EventStore } from '../../ports/event-store';
import { callDecider } from '../../domain/call/call';
import { gatewayDecider } from '../../domain/gateway/gateway';
import { callStreamId, gatewayStreamId, portStreamId, slotStreamId } from '../../domain/shared/streams';
import { download, initiate, terminate } from '../../domain/call/fixtures';
import { CommandHandler } from '../command-handler';
import { Capacity } from './capacity';
import { CALL_EFFECTS, CallEffects } from './effects';
import { CallEnding } from './terminate';
import { LiveState } from '../live-state';
import { randomIds } from '../ids';

const meta = { correlationId: 'c-1', causationId: null, merchantId: 'm1' };
const clock = { now: () => new Date('2026-11-23T10:01:00.000Z') };

const memoryCheckpoints = (): CheckpointStore & { saved: Map<string, string> } => {
  const saved = new Map<string, string>();
  return { saved, load: async (n) => saved.get(n) ?? null, save: async (n, p) => void saved.set(n, p), flush: async () => undefined };
};

/** One process on the store: its handler, index, capacity and (not started) process manager. */
const processOn = async (store: EventStore, checkpoints = memoryCheckpoints()) => {
  const handler = new CommandHandler(store, randomIds);
  const live = new LiveState(store);
  await live.start();
  const capacity = new Capacity(handler, live, clock, { aniQuarantineSeconds: 0 });
  const refused: unknown[] = [];
  const effects = new CallEffects({ store, checkpoints, handler, capacity, live, onRefused: (e) => refused.push(e) });
  return { handler, live, capacity, effects, checkpoints, refused, stop: async () => (await effects.stop(), await live.stop()) };
};

/** A gateway, then call c1 downloaded with a center slot and port 3 seized (not yet recorded on the call unless `initiated`). */
const callHolding = async (p: Awaited<ReturnType<typeof processOn>>, initiated: boolean) => {
  const g = await p.handler.handle(gatewayDecider, gatewayStreamId('gw1'), { type: 'CreateGateway', data: { gatewayId: 'gw1', name: 'G', region: 'eu', ports: [{ number: 3, ani: '+14155550003' }], at: clock.now().toISOString() } }, meta);
  await p.live.waitFor(g.stored.at(-1)!.position);
  await p.handler.handle(callDecider, callStreamId('c1'), download(), meta);
  assert.equal(await p.capacity.takeSlot('center', 'cc1', 2, 'c1', clock.now(), meta), 1);
  assert.deepEqual(await p.capacity.seizePort('c1', 'm1', 'eu', clock.now(), meta), { gatewayId: 'gw1', port: 3, ani: '+14155550003' });
  if (initiated) await p.handler.handle(callDecider, callStreamId('c1'), initiate(), meta);
};

const typesOf = async (store: EventStore, stream: string) => (await store.readStream(stream)).map((e) => e.type);

describe('CallEffects: what an ended call holds is released by one process manager, from its checkpoint', () => {
  it('a CallTerminated frees the call’s slot and releases its port, then saves the checkpoint', async () => {
    const store = new SqliteEventStore(':memory:');
    const p = await processOn(store);
    await p.effects.start();
    await callHolding(p, true);
    const end = await p.handler.handle(callDecider, callStreamId('c1'), terminate(), meta);
    await waitUntil(async () => (await typesOf(store, portStreamId('gw1', 3))).length === 2);
    assert.deepEqual(await typesOf(store, portStreamId('gw1', 3)), ['PortSeized', 'PortReleased']);
    assert.deepEqual(await typesOf(store, slotStreamId('center', 'cc1', 1)), ['SlotTaken', 'SlotFreed']);
    const released = (await store.readStream(portStreamId('gw1', 3)))[1]!;
    assert.equal(released.causationId, end.stored[0]!.eventId, 'the release names the termination as its cause');
    // The releases are events too: the checkpoint follows the store past them.
    await waitUntil(async () => p.checkpoints.saved.get(CALL_EFFECTS) === (await store.headPosition()));
    await p.stop();
    await store.close();
  });

  it('a port seized but never recorded on the call (a crash before the initiation) is released at its end too', async () => {
    const store = new SqliteEventStore(':memory:');
    const p = await processOn(store);
    await callHolding(p, false);
    // The abandoned call ends without naming a port: the index knows it holds one.
    const end = await p.handler.handle(callDecider, callStreamId('c1'), { ...terminate(), data: { ...terminate().data, cause: 'ABANDONED', by: 'SYSTEM' } }, meta);
    await p.effects.handle(end.stored);
    assert.deepEqual(await typesOf(store, portStreamId('gw1', 3)), ['PortSeized', 'PortReleased']);
    await p.stop();
    await store.close();
  });

  it('a termination handled twice, or by two processes, releases once (the deciders make a repeat decide [])', async () => {
    const store = new SqliteEventStore(':memory:');
    const [a, b] = [await processOn(store), await processOn(store)];
    await callHolding(a, true);
    const end = await a.handler.handle(callDecider, callStreamId('c1'), terminate(), meta);
    await Promise.all([a.effects.handle(end.stored), b.effects.handle(end.stored), a.effects.handle(end.stored)]);
    assert.deepEqual(await typesOf(store, portStreamId('gw1', 3)), ['PortSeized', 'PortReleased']);
    assert.deepEqual(await typesOf(store, slotStreamId('center', 'cc1', 1)), ['SlotTaken', 'SlotFreed']);
    assert.deepEqual([a.refused, b.refused], [[], []]);
    await a.stop();
    await b.stop();
    await store.close();
  });

  it('after a hang-up released at once, a second pass decides nothing again for what it gave back, even before the index has read it', async () => {
    const store = new SqliteEventStore(':memory:');
    const p = await processOn(store);
    await callHolding(p, true);
    await p.live.stop(); // the index stays where it was: it still shows the slot and the port held
    await new CallEnding(p.handler, p.capacity, clock).end('c1', { cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null }, meta);
    assert.deepEqual(await typesOf(store, portStreamId('gw1', 3)), ['PortSeized', 'PortReleased']);
    const commands: string[] = [];
    const handle = p.handler.handle.bind(p.handler);
    p.handler.handle = ((decider, stream, command, m) => (commands.push(stream), handle(decider, stream, command, m))) as typeof p.handler.handle;
    await p.capacity.releaseHeld('c1', meta);
    assert.deepEqual(commands, [], 'no repeat release for the slot and the port the hang-up gave back');
    assert.deepEqual(await typesOf(store, slotStreamId('center', 'cc1', 1)), ['SlotTaken', 'SlotFreed']);
    await p.stop();
    await store.close();
  });

  it('after a crash between the termination and its release, a restart from the checkpoint releases', async () => {
    const store = new SqliteEventStore(':memory:');
    const checkpoints = memoryCheckpoints();
    const first = await processOn(store, checkpoints);
    await first.effects.start();
    await callHolding(first, true);
    await first.stop(); // the process is gone before the termination reached its process manager
    const other = new CommandHandler(store, randomIds);
    await other.handle(callDecider, callStreamId('c1'), terminate(), meta);

    const restarted = await processOn(store, checkpoints);
    await restarted.effects.start(); // catches up from the checkpoint in the store
    await waitUntil(async () => (await typesOf(store, portStreamId('gw1', 3))).length === 2);
    assert.deepEqual(await typesOf(store, slotStreamId('center', 'cc1', 1)), ['SlotTaken', 'SlotFreed']);
    await restarted.stop();
    await store.close();
  });

  it('on start, slots and ports still held by calls that ended are released (reconciliation)', async () => {
    const store = new SqliteEventStore(':memory:');
    const p = await processOn(store);
    await callHolding(p, true);
    await p.handler.handle(callDecider, callStreamId('c1'), terminate(), meta);
    await p.stop();
    // A process that has never seen the termination as an event, and starts after it.
    const q = await processOn(store, memoryCheckpoints());
    const head = await store.headPosition();
    q.checkpoints.saved.set(CALL_EFFECTS, head!);
    await q.effects.start();
    assert.deepEqual(await typesOf(store, portStreamId('gw1', 3)), ['PortSeized', 'PortReleased']);
    assert.deepEqual(await typesOf(store, slotStreamId('center', 'cc1', 1)), ['SlotTaken', 'SlotFreed']);
    await q.stop();
    await store.close();
  });
});

const waitUntil = async (check: () => Promise<boolean>, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};
