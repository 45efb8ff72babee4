import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteEventStore } from '../../adapters/eventstore/sqlite';
import { merchantDecider } from '../../domain/merchant/merchant';
import { gatewayDecider } from '../../domain/gateway/gateway';
import { gatewayStreamId, merchantStreamId } from '../../domain/shared/streams';
import { CommandHandler } from '../command-handler';
import { EventHub } from '../event-hub';
import { randomIds } from '../ids';
import { CallReader } from './reader';
import { instance } from './queue-fixture.spec';
import { QueueView, type QueuePlace } from './queue-view';

const T0 = '2026-11-23T14:00:00.000Z';
const meta = { correlationId: 'c-1', causationId: null, merchantId: 'm1' };
type Item = { kind: 'event'; type: string } | { kind: 'place'; position: number; estimatedWaitSeconds: number };

/** One instance (queue-fixture.spec.ts) on an in-memory store: a center of capacity 1 whose link lets 10 calls wait 10 minutes; the hub, dispatcher and view running. */
const world = async () => {
  const store = new SqliteEventStore(':memory:');
  const clock = { now: () => new Date(T0) };
  const handler = new CommandHandler(store, randomIds);
  const at = T0;
  for (const command of [
    { type: 'CreateMerchant', data: { merchantId: 'm1', name: 'Shop', maxConcurrentCalls: 10, allowedOrigins: null, at } },
    { type: 'AddCallCenter', data: { callCenterId: 'ber', name: 'Berlin', phoneNumber: '+493055501000', timeZone: 'Europe/Berlin', weeklyHours: null, capacity: 1, region: 'eu-west', kind: 'PSTN', at } },
    { type: 'CreateLink', data: { linkId: 'l1', label: 'Call us', callCenterIds: ['ber'], at } },
    { type: 'SetLinkQueuePolicy', data: { linkId: 'l1', policy: { maxWaitSeconds: 600, maxLength: 10 }, at } },
  ])
    await handler.handle(merchantDecider, merchantStreamId('m1'), command as never, meta);
  await handler.handle(gatewayDecider, gatewayStreamId('gw'), { type: 'CreateGateway', data: { gatewayId: 'gw', name: 'EU', region: 'eu-west', ports: Array.from({ length: 10 }, (_, i) => ({ number: i + 1, ani: `+4930555090${String(i).padStart(2, '0')}` })), at } }, meta);
  const a = await instance(store, clock);
  const hub = new EventHub(store);
  await hub.start();
  const running = await a.dispatcher.start();
  const view = new QueueView({ board: a.board, hub, store, reader: new CallReader(a.handler) });
  const call = async () => {
    const d = await a.download();
    return { ...d, initiate: () => a.initiation.initiate(d.callToken, 'c-1') };
  };
  const hangUp = a.hangUp;
  const session = (callId: string) =>
    view.session<Item>(
      callId,
      (e) => ({ kind: 'event', type: e.type }),
      (p: QueuePlace) => ({ kind: 'place', position: p.position, estimatedWaitSeconds: p.estimatedWaitSeconds }),
    );
  const stop = async () => {
    await running.stop();
    await hub.stop();
    await a.stop();
  };
  return { view, call, hangUp, session, stop };
};

/** Reads items until one passes `until`; fails after 5 s. */
const readUntil = async (it: AsyncIterator<Item>, until: (i: Item) => boolean, seen: Item[] = []): Promise<Item[]> => {
  const deadline = Date.now() + 5000;
  for (;;) {
    const r = await Promise.race([it.next(), new Promise<null>((res) => setTimeout(() => res(null), Math.max(1, deadline - Date.now())))]);
    if (r === null) throw new Error(`not in time; seen ${JSON.stringify(seen)}`);
    if (r.done) throw new Error(`ended; seen ${JSON.stringify(seen)}`);
    seen.push(r.value);
    if (until(r.value)) return seen;
  }
};
const places = (items: Item[]) => items.flatMap((i) => (i.kind === 'place' ? [i.position] : []));

describe('QueueView (issue 25): the shopper\'s live place and the center\'s waiting calls', () => {
  it('a session opened while the call waits gets its place at once, then one push per departure ahead of it, then the call\'s own events once it is placed', async () => {
    const w = await world();
    let last: AsyncIterableIterator<Item> | null = null;
    try {
      const holder = await w.call();
      assert.equal((await holder.initiate()).state, 'INITIATED');
      const waiting = [await w.call(), await w.call(), await w.call()];
      for (const c of waiting) assert.equal((await c.initiate()).state, 'DOWNLOADED');
      last = await w.session(waiting[2].callId);
      assert.deepEqual(places(await readUntil(last, (i) => i.kind === 'place')), [3], 'its place on subscribe');
      assert.deepEqual((await w.view.waiting('ber', 20)).calls.map((c) => [c.callId, c.position, c.linkLabel]), waiting.map((c, i) => [c.callId, i + 1, 'Call us']));

      await w.hangUp(holder.callId); // the slot frees: the head is dispatched
      assert.deepEqual(places(await readUntil(last, (i) => i.kind === 'place')), [2]);
      await w.hangUp(waiting[1].callId); // the one just ahead hangs up while waiting: abandoned
      assert.deepEqual(places(await readUntil(last, (i) => i.kind === 'place')), [1]);
      assert.deepEqual((await w.view.waiting('ber', 20)).calls.map((c) => c.callId), [waiting[2].callId]);
      await w.hangUp(waiting[0].callId); // the served one ends: the last is placed
      const after = await readUntil(last, (i) => i.kind === 'event' && i.type === 'CallInitiated');
      assert.deepEqual(places(after), [], 'no place once it left the queue');
      assert.deepEqual((await w.view.waiting('ber', 20)).calls, []);
    } finally {
      await last?.return?.();
      await w.stop();
    }
  });

  it('a session opened before the call joins (the widget subscribes, then initiates) gets its place from its own join, with the estimate', async () => {
    const w = await world();
    let s: AsyncIterableIterator<Item> | null = null;
    try {
      await (await w.call()).initiate();
      const ahead = await w.call();
      await ahead.initiate();
      const mine = await w.call();
      s = await w.session(mine.callId);
      const answer = await mine.initiate();
      const [first] = (await readUntil(s, (i) => i.kind === 'place')).filter((i) => i.kind === 'place');
      assert.deepEqual(first, { kind: 'place', position: 2, estimatedWaitSeconds: answer.queue!.estimatedWaitSeconds });
      assert.equal(answer.queue!.position, 2);
    } finally {
      await s?.return?.();
      await w.stop();
    }
  });
});
