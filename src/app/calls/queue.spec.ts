import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteEventStore } from '../../adapters/eventstore/sqlite';
import { merchantDecider } from '../../domain/merchant/merchant';
import { gatewayDecider } from '../../domain/gateway/gateway';
import { callDecider } from '../../domain/call/call';
import { slotDecider } from '../../domain/capacity/slot';
import type { CallInitiated } from '../../domain/call/events';
import type { QueueEvent } from '../../domain/queue/queue';
import { callStreamId, gatewayStreamId, merchantStreamId, queueStreamId, slotStreamId } from '../../domain/shared/streams';
import { DomainError } from '../../domain/shared/errors';
import { CommandHandler } from '../command-handler';
import { randomIds } from '../ids';
import { instance, until } from './queue-fixture.spec';

/** A clock the test moves. */
const clockAt = (iso: string) => {
  let now = Date.parse(iso);
  return { now: () => new Date(now), advance: (ms: number) => void (now += ms) };
};
const T0 = '2026-11-23T14:00:00.000Z';
const meta = { correlationId: 'c-1', causationId: null, merchantId: 'm1' };


/** A merchant (limit 10) with one always-open PSTN center of capacity `capacity`, a link to it with `policy`, and 10 gateway ports. */
const world = async (capacity: number, policy: { maxWaitSeconds: number; maxLength: number } | null) => {
  const store = new SqliteEventStore(':memory:');
  const clock = clockAt(T0);
  const setup = new CommandHandler(store, randomIds);
  const at = T0;
  for (const command of [
    { type: 'CreateMerchant', data: { merchantId: 'm1', name: 'Shop', maxConcurrentCalls: 10, allowedOrigins: ['https://shop.example'], at } },
    { type: 'AddCallCenter', data: { callCenterId: 'ber', name: 'Berlin', phoneNumber: '+493055501000', timeZone: 'Europe/Berlin', weeklyHours: null, capacity, region: 'eu-west', kind: 'PSTN', at } },
    { type: 'CreateLink', data: { linkId: 'l1', label: 'Call us', callCenterIds: ['ber'], at } },
    ...(policy ? [{ type: 'SetLinkQueuePolicy', data: { linkId: 'l1', policy, at } }] : []),
  ])
    await setup.handle(merchantDecider, merchantStreamId('m1'), command as never, meta);
  await setup.handle(gatewayDecider, gatewayStreamId('gw'), { type: 'CreateGateway', data: { gatewayId: 'gw', name: 'EU', region: 'eu-west', ports: Array.from({ length: 10 }, (_, i) => ({ number: i + 1, ani: `+4930555090${String(i).padStart(2, '0')}` })), at } }, meta);
  const a = await instance(store, clock);
  const queueEvents = async () => (await store.readStream(queueStreamId('ber'))).map((e) => ({ type: e.type, data: e.data }) as QueueEvent);
  const status = async (callId: string) => (await a.handler.load(callDecider, callStreamId(callId))).state;
  return { store, clock, a, queueEvents, status };
};

const refusedWith = (code: string, reason?: string) => (e: unknown) => e instanceof DomainError && e.code === code && (reason === undefined || e.details.reason === reason);

describe('initiation, issue 25: a call waits when every center is full and its link allows it', () => {
  it('joins the queue of its center: DOWNLOADED, its position and estimate answered, the merchant’s slot given back; initiateCall again answers the same place', async () => {
    const w = await world(1, { maxWaitSeconds: 120, maxLength: 5 });
    const first = await w.a.download();
    assert.equal((await w.a.initiation.initiate(first.callToken, 'c-1')).state, 'INITIATED');
    const second = await w.a.download();
    const queued = await w.a.initiation.initiate(second.callToken, 'c-1');
    assert.equal(queued.state, 'DOWNLOADED');
    assert.deepEqual(queued.queue, { callCenterId: 'ber', position: 1, estimatedWaitSeconds: 180, timesOutAt: '2026-11-23T14:02:00.000Z' });
    const again = await w.a.initiation.initiate(second.callToken, 'c-1');
    assert.deepEqual(again.queue, queued.queue, 'a second initiateCall answers the same place');
    assert.deepEqual((await w.queueEvents()).map((e) => e.type), ['QueueCallJoined'], 'one join');
    // The merchant's slot it took while routing is free again; it holds no center slot.
    assert.deepEqual((await w.store.readStream(slotStreamId('merchant', 'm1', 2))).map((e) => e.type), ['SlotTaken', 'SlotFreed']);
    assert.equal((await w.status(second.callId)).status, 'Downloaded');
    await w.a.stop();
  });

  it('a full queue: LIMIT_EXCEEDED (QUEUE_FULL), the call stays DOWNLOADED; a link without a policy: NO_ROUTE, the call ended', async () => {
    const w = await world(1, { maxWaitSeconds: 120, maxLength: 1 });
    for (let i = 0; i < 2; i++) await w.a.initiation.initiate((await w.a.download()).callToken, 'c-1');
    const third = await w.a.download();
    await assert.rejects(w.a.initiation.initiate(third.callToken, 'c-1'), refusedWith('LIMIT_EXCEEDED', 'QUEUE_FULL'));
    assert.equal((await w.status(third.callId)).status, 'Downloaded');
    await w.a.stop();

    const none = await world(1, null);
    await none.a.initiation.initiate((await none.a.download()).callToken, 'c-1');
    const refused = await none.a.download();
    await assert.rejects(none.a.initiation.initiate(refused.callToken, 'c-1'), refusedWith('NO_ROUTE'));
    const state = await none.status(refused.callId);
    assert.equal(state.status === 'Terminated' && state.cause, 'NO_ROUTE');
    assert.deepEqual(await none.queueEvents(), []);
    await none.a.stop();
  });
});

describe('the queue dispatcher (issue 25)', () => {
  it('serves the waiting calls in join order as slots free, each initiated once (rule QUEUE); a hang-up while waiting is recorded abandoned and never served', async () => {
    const w = await world(1, { maxWaitSeconds: 600, maxLength: 10 });
    const job = await w.a.dispatcher.start();
    const served = await w.a.download();
    await w.a.initiation.initiate(served.callToken, 'c-1');
    const waiting: string[] = [];
    for (let i = 0; i < 5; i++) {
      const d = await w.a.download();
      assert.equal((await w.a.initiation.initiate(d.callToken, 'c-1')).queue?.position, i + 1);
      waiting.push(d.callId);
    }
    // The third hangs up while it waits.
    await w.a.hangUp(waiting[2]);
    await until('the abandon recorded', async () => (await w.queueEvents()).some((e) => e.type === 'QueueCallAbandoned'));
    const order: string[] = [];
    let current = served.callId;
    for (let i = 0; i < 4; i++) {
      await w.a.hangUp(current);
      await until(`the next call initiated (${i + 1})`, async () => (await w.queueEvents()).filter((e) => e.type === 'QueueCallDispatched').length === i + 1);
      const dispatched = (await w.queueEvents()).filter((e) => e.type === 'QueueCallDispatched').at(-1)!.data.callId;
      await until('INITIATED', async () => (await w.status(dispatched)).status === 'Initiated');
      order.push(dispatched);
      current = dispatched;
    }
    assert.deepEqual(order, [waiting[0], waiting[1], waiting[3], waiting[4]], 'served in join order, the abandoned one skipped');
    const initiated = (await w.store.readStream(callStreamId(waiting[0]))).filter((e) => e.type === 'CallInitiated');
    assert.equal(initiated.length, 1);
    assert.equal((initiated[0].data as CallInitiated['data']).routing.rule, 'QUEUE');
    assert.equal((await w.status(waiting[2])).status, 'Terminated');
    const types = (await w.queueEvents()).map((e) => e.type);
    assert.deepEqual(types.filter((t) => t === 'QueueCallJoined').length, 5);
    assert.deepEqual(types.filter((t) => t === 'QueueCallAbandoned').length, 1);
    assert.deepEqual(w.a.errors, []);
    await job.stop();
    await w.a.stop();
  });

  it('a wait past its deadline: QueueWaitTimedOut (END), the call terminated by SYSTEM with NO_ROUTE; the supervisor-free restart finds the deadline in the stream', async () => {
    const w = await world(1, { maxWaitSeconds: 30, maxLength: 10 });
    await w.a.initiation.initiate((await w.a.download()).callToken, 'c-1');
    const late = await w.a.download();
    await w.a.initiation.initiate(late.callToken, 'c-1');
    // A restart: a fresh instance (its board folded from the store) runs the dispatcher.
    const b = await instance(w.store, w.clock);
    const job = await b.dispatcher.start();
    w.clock.advance(29_000);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal((await w.queueEvents()).length, 1, 'not before its deadline');
    w.clock.advance(1_000);
    await until('timed out', async () => (await w.queueEvents()).some((e) => e.type === 'QueueWaitTimedOut'));
    const timedOut = (await w.queueEvents()).find((e) => e.type === 'QueueWaitTimedOut')!;
    assert.deepEqual(timedOut.type === 'QueueWaitTimedOut' && timedOut.data.fallThrough, { kind: 'END' });
    await until('terminated', async () => (await w.status(late.callId)).status === 'Terminated');
    const state = await w.status(late.callId);
    assert.deepEqual(state.status === 'Terminated' && [state.cause, state.by], ['NO_ROUTE', 'SYSTEM']);
    await job.stop();
    await b.stop();
    await w.a.stop();
  });

  it('two instances dispatching the same queue at once: every call served once, in order (the streams decide, not the lease)', async () => {
    const w = await world(2, { maxWaitSeconds: 600, maxLength: 20 });
    const b = await instance(w.store, w.clock);
    const jobs = [await w.a.dispatcher.start(), await b.dispatcher.start()];
    const live: string[] = [];
    for (let i = 0; i < 2; i++) {
      const d = await w.a.download();
      await w.a.initiation.initiate(d.callToken, 'c-1');
      live.push(d.callId);
    }
    const waiting: string[] = [];
    for (let i = 0; i < 8; i++) {
      const side = i % 2 === 0 ? w.a : b;
      const d = await side.download();
      assert.equal((await side.initiation.initiate(d.callToken, 'c-1')).queue?.position, i + 1);
      waiting.push(d.callId);
    }
    // End the live calls one by one, on either instance: each freed slot serves the next head.
    for (let i = 0; i < 8; i++) {
      await (i % 2 === 0 ? b : w.a).hangUp(live.shift()!);
      await until(`dispatch ${i + 1}`, async () => (await w.queueEvents()).filter((e) => e.type === 'QueueCallDispatched').length === i + 1).catch(async (e) => {
        console.log(w.a.errors, b.errors, JSON.stringify(await w.queueEvents()));
        throw e;
      });
      const next = (await w.queueEvents()).filter((e) => e.type === 'QueueCallDispatched').at(-1)!.data.callId;
      await until('INITIATED', async () => (await w.status(next)).status === 'Initiated');
      live.push(next);
      // Capacity 2, two live calls: each holds one center slot (no head holds two after a race).
      const holders = await Promise.all([1, 2].map(async (k) => (await w.a.handler.load(slotDecider, slotStreamId('center', 'ber', k))).state));
      assert.deepEqual(holders.map((h) => (h.status === 'Held' ? h.callId : null)).sort(), [...live].sort(), `round ${i + 1}: the center's slots are held by the live calls, one each`);
    }
    const dispatched = (await w.queueEvents()).flatMap((e) => (e.type === 'QueueCallDispatched' ? [e.data.callId] : []));
    assert.deepEqual(dispatched, waiting, 'in join order, each once');
    for (const callId of waiting) assert.equal((await w.store.readStream(callStreamId(callId))).filter((e) => e.type === 'CallInitiated').length, 1, `${callId} initiated once`);
    for (const job of jobs) await job.stop();
    await b.stop();
    await w.a.stop();
  });
});
