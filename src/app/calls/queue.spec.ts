import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteEventStore } from '../../adapters/eventstore/sqlite';
import { merchantDecider } from '../../domain/merchant/merchant';
import { gatewayDecider } from '../../domain/gateway/gateway';
import { callDecider } from '../../domain/call/call';
import { slotDecider } from '../../domain/capacity/slot';
import type { CallInitiated } from '../../domain/call/events';
import { queueDecider, type QueueEvent } from '../../domain/queue/queue';
import { callStreamId, gatewayStreamId, merchantStreamId, queueStreamId, slotStreamId } from '../../domain/shared/streams';
import { DomainError } from '../../domain/shared/errors';
import { CommandHandler } from '../command-handler';
import { randomIds } from '../ids';
import { instance, until } from './queue-fixture.spec';
import { UNSETTLED_GRACE_MS } from './queue';

/** A clock the test moves. */
const clockAt = (iso: string) => {
  let now = Date.parse(iso);
  return { now: () => new Date(now), advance: (ms: number) => void (now += ms) };
};
const T0 = '2026-11-23T14:00:00.000Z';
const meta = { correlationId: 'c-1', causationId: null, merchantId: 'm1' };


/**
 * A merchant (limit 10) with one always-open PSTN center of capacity `capacity`, a link to it with
 * `policy`, and 10 gateway ports; with `second`, a second such center (Paris, capacity 1), after Berlin on the link.
 */
const world = async (capacity: number, policy: { maxWaitSeconds: number; maxLength: number } | null, second = false, kind: 'PSTN' | 'BROWSER' = 'PSTN') => {
  const store = new SqliteEventStore(':memory:');
  const clock = clockAt(T0);
  const setup = new CommandHandler(store, randomIds);
  const at = T0;
  for (const command of [
    { type: 'CreateMerchant', data: { merchantId: 'm1', name: 'Shop', maxConcurrentCalls: 10, allowedOrigins: ['https://shop.example'], at } },
    { type: 'AddCallCenter', data: { callCenterId: 'ber', name: 'Berlin', phoneNumber: '+493055501000', timeZone: 'Europe/Berlin', weeklyHours: null, capacity, region: 'eu-west', kind, at } },
    ...(second ? [{ type: 'AddCallCenter', data: { callCenterId: 'par', name: 'Paris', phoneNumber: '+33155501000', timeZone: 'Europe/Paris', weeklyHours: null, capacity: 1, region: 'eu-west', kind: 'PSTN', at } }] : []),
    { type: 'CreateLink', data: { linkId: 'l1', label: 'Call us', callCenterIds: second ? ['ber', 'par'] : ['ber'], at } },
    ...(policy ? [{ type: 'SetLinkQueuePolicy', data: { linkId: 'l1', policy, at } }] : []),
  ])
    await setup.handle(merchantDecider, merchantStreamId('m1'), command as never, meta);
  await setup.handle(gatewayDecider, gatewayStreamId('gw'), { type: 'CreateGateway', data: { gatewayId: 'gw', name: 'EU', region: 'eu-west', ports: Array.from({ length: 10 }, (_, i) => ({ number: i + 1, ani: `+4930555090${String(i).padStart(2, '0')}` })), at } }, meta);
  const a = await instance(store, clock);
  const queueEvents = async () => (await store.readStream(queueStreamId('ber'))).map((e) => ({ type: e.type, data: e.data }) as QueueEvent);
  const status = async (callId: string) => (await a.handler.load(callDecider, callStreamId(callId))).state;
  return { store, clock, a, queueEvents, status };
};

/** Moves the clock to the 30 s deadline of `callId`'s wait; once the call has ended, where the wait fell through. */
const fallThroughAtDeadline = async (w: Awaited<ReturnType<typeof world>>, callId: string) => {
  w.clock.advance(30_000);
  await until('terminated', async () => (await w.status(callId)).status === 'Terminated');
  const timedOut = (await w.queueEvents()).find((e) => e.type === 'QueueWaitTimedOut');
  return timedOut?.type === 'QueueWaitTimedOut' ? timedOut.data.fallThrough : null;
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

  it('a wait past its deadline at a PSTN center: QueueWaitTimedOut (CALLBACK_OFFER: PSTN centers call back too), the call terminated by SYSTEM with NO_ROUTE; the supervisor-free restart finds the deadline in the stream', async () => {
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
    assert.deepEqual(timedOut.type === 'QueueWaitTimedOut' && timedOut.data.fallThrough, { kind: 'CALLBACK_OFFER' });
    await until('terminated', async () => (await w.status(late.callId)).status === 'Terminated');
    const state = await w.status(late.callId);
    assert.deepEqual(state.status === 'Terminated' && [state.cause, state.by], ['NO_ROUTE', 'SYSTEM']);
    await job.stop();
    await b.stop();
    await w.a.stop();
  });

  it('a wait past its deadline falls through to the link’s other center when it has a free slot (NEXT_CENTER), and is placed there once', async () => {
    const w = await world(1, { maxWaitSeconds: 30, maxLength: 10 }, true);
    const first = await w.a.download();
    await w.a.initiation.initiate(first.callToken, 'c-1');
    const second = await w.a.download();
    await w.a.initiation.initiate(second.callToken, 'c-1');
    const late = await w.a.download();
    const joined = await w.a.initiation.initiate(late.callToken, 'c-1');
    assert.equal(joined.queue?.callCenterId, 'ber', 'both centers full: it waits at the first of the link');
    const job = await w.a.dispatcher.start();
    // Paris frees its slot: Berlin's queue is not Paris's, so the call waits on until its deadline…
    await w.a.hangUp(second.callId);
    w.clock.advance(30_000);
    // …and then falls through to Paris, where it is placed (routing's rule, not QUEUE).
    await until('initiated at Paris', async () => (await w.status(late.callId)).status === 'Initiated');
    const timedOut = (await w.queueEvents()).find((e) => e.type === 'QueueWaitTimedOut')!;
    assert.deepEqual(timedOut.type === 'QueueWaitTimedOut' && timedOut.data.fallThrough, { kind: 'NEXT_CENTER', callCenterId: 'par' });
    const initiated = (await w.store.readStream(callStreamId(late.callId))).filter((e) => e.type === 'CallInitiated');
    assert.equal(initiated.length, 1);
    assert.deepEqual([(initiated[0].data as CallInitiated['data']).callCenterId, (initiated[0].data as CallInitiated['data']).routing.rule], ['par', 'FIRST_OPEN']);
    const parSlot = (await w.store.readStream(slotStreamId('center', 'par', 1))).at(-1)!;
    assert.deepEqual([parSlot.type, (parSlot.data as { callId: string }).callId], ['SlotTaken', late.callId], "Paris's slot is the late call's");
    assert.deepEqual(w.a.errors, []);
    await job.stop();
    await w.a.stop();
  });

  it('a wait past its deadline with no other center free: CALLBACK_OFFER (not a fall-through), and nothing held for the fall-through that was not made', async () => {
    const w = await world(1, { maxWaitSeconds: 30, maxLength: 10 }, true);
    for (let i = 0; i < 2; i++) await w.a.initiation.initiate((await w.a.download()).callToken, 'c-1');
    const late = await w.a.download();
    await w.a.initiation.initiate(late.callToken, 'c-1');
    const job = await w.a.dispatcher.start();
    assert.deepEqual(await fallThroughAtDeadline(w, late.callId), { kind: 'CALLBACK_OFFER' });
    const merchantSlots = (await Promise.all(Array.from({ length: 10 }, (_, k) => w.store.readStream(slotStreamId('merchant', 'm1', k + 1))))).flat();
    const held = new Map<string, number>();
    for (const e of merchantSlots) if ((e.data as { callId: string }).callId === late.callId) held.set(e.type, (held.get(e.type) ?? 0) + 1);
    assert.equal(held.get('SlotTaken') ?? 0, held.get('SlotFreed') ?? 0, 'every merchant slot taken for the late call was freed');
    await job.stop();
    await w.a.stop();
  });

  it('a wait past its deadline at a BROWSER center, none other free: CALLBACK_OFFER (the shopper may book a callback), the call ended NO_ROUTE', async () => {
    const w = await world(1, { maxWaitSeconds: 30, maxLength: 10 }, false, 'BROWSER');
    await w.a.initiation.initiate((await w.a.download()).callToken, 'c-1');
    const late = await w.a.download();
    await w.a.initiation.initiate(late.callToken, 'c-1');
    const job = await w.a.dispatcher.start();
    assert.deepEqual(await fallThroughAtDeadline(w, late.callId), { kind: 'CALLBACK_OFFER' });
    const state = await w.status(late.callId);
    assert.deepEqual(state.status === 'Terminated' && [state.cause, state.by], ['NO_ROUTE', 'SYSTEM']);
    await job.stop();
    await w.a.stop();
  });

  it('a call dispatched by a process that died before placing it is ended after the grace (QUEUE_UNSETTLED), and its slot freed', async () => {
    const w = await world(1, { maxWaitSeconds: 600, maxLength: 10 });
    const first = await w.a.download();
    await w.a.initiation.initiate(first.callToken, 'c-1');
    const late = await w.a.download();
    await w.a.initiation.initiate(late.callToken, 'c-1');
    // The dying dispatcher: the first call ends, its slot is taken for the head and DispatchCall stored; then nothing.
    await w.a.hangUp(first.callId);
    const setup = new CommandHandler(w.store, randomIds);
    await setup.handle(slotDecider, slotStreamId('center', 'ber', 1), { type: 'TakeSlot', data: { scope: 'center', ownerId: 'ber', slot: 1, callId: late.callId, at: T0 } }, meta);
    await setup.handle(queueDecider, queueStreamId('ber'), { type: 'DispatchCall', data: { callCenterId: 'ber', callId: late.callId, at: T0 } }, meta);
    // Another instance takes over the dispatcher (its board folded from the store).
    const b = await instance(w.store, w.clock);
    const job = await b.dispatcher.start();
    w.clock.advance(UNSETTLED_GRACE_MS - 1_000);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal((await w.status(late.callId)).status, 'Downloaded', 'not before the grace is over');
    w.clock.advance(1_000);
    await until('ended', async () => (await w.status(late.callId)).status === 'Terminated');
    const ended = (await w.store.readStream(callStreamId(late.callId))).at(-1)!;
    assert.deepEqual([ended.type, (ended.data as { cause: string }).cause, (ended.data as { reason: string }).reason], ['CallTerminated', 'NO_ROUTE', 'QUEUE_UNSETTLED']);
    await until('slot freed', async () => (await w.store.readStream(slotStreamId('center', 'ber', 1))).at(-1)?.type === 'SlotFreed');
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
