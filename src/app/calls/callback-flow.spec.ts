import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteEventStore } from '../../adapters/eventstore/sqlite';
import { MemoryCheckpoints } from '../../adapters/checkpoint/memory';
import { ExternalMedia } from '../../media/external';
import type { DialRequest, MediaGateway } from '../../ports/media';
import { merchantDecider } from '../../domain/merchant/merchant';
import { gatewayDecider } from '../../domain/gateway/gateway';
import { callDecider } from '../../domain/call/call';
import { callbackDecider, type CallbackState } from '../../domain/callback/callback';
import { callbackStreamId, callStreamId, gatewayStreamId, merchantStreamId } from '../../domain/shared/streams';
import { CommandHandler } from '../command-handler';
import { LiveState } from '../live-state';
import { randomIds } from '../ids';
import { Capacity } from './capacity';
import { CallReader } from './reader';
import { CallEnding } from './terminate';
import { CallbackScheduler } from './callback-scheduler';
import { until } from './queue-fixture.spec';

/**
 * The callback scheduler end to end on the real in-process adapters (SQLite in memory), with a media
 * double that records dials and a clock the test moves (issue 25): placed when due, the shopper
 * dialled once the agent answers, a busy phone fails the try, the next try waits 5 minutes and is then
 * placed as a new call, whose answer completes the callback; three tries nobody answers fail it.
 */
const T0 = '2026-11-23T14:00:00.000Z';
const meta = { correlationId: 'c-1', causationId: null, merchantId: 'm1' };

const world = async (kind: 'BROWSER' | 'PSTN' = 'BROWSER') => {
  const store = new SqliteEventStore(':memory:');
  let now = Date.parse(T0);
  const clock = { now: () => new Date(now), advance: (ms: number) => void (now += ms) };
  const handler = new CommandHandler(store, randomIds);
  for (const command of [
    { type: 'CreateMerchant', data: { merchantId: 'm1', name: 'Shop', maxConcurrentCalls: null, allowedOrigins: null, at: T0 } },
    { type: 'AddCallCenter', data: { callCenterId: 'desk', name: 'Desk', phoneNumber: '+33100000001', timeZone: 'Europe/Paris', weeklyHours: null, capacity: 5, region: 'eu-west', kind, at: T0 } },
    { type: 'CreateLink', data: { linkId: 'l1', label: 'Call us', callCenterIds: ['desk'], at: T0 } },
  ])
    await handler.handle(merchantDecider, merchantStreamId('m1'), command as never, meta);
  await handler.handle(gatewayDecider, gatewayStreamId('gw'), { type: 'CreateGateway', data: { gatewayId: 'gw', name: 'EU', region: 'eu-west', ports: Array.from({ length: 5 }, (_, i) => ({ number: i + 1, ani: `+3310000020${i}` })), at: T0 } }, meta);
  const live = new LiveState(store);
  await live.start();
  const capacity = new Capacity(handler, live, clock, { aniQuarantineSeconds: 0 });
  const dials: DialRequest[] = [];
  const hangUps: string[] = [];
  const external = new ExternalMedia();
  const media: MediaGateway = {
    provider: 'test',
    joinDetails: () => external.joinDetails(),
    dial: async (r) => void dials.push(r),
    hangUp: async (callId) => void hangUps.push(callId),
    sendDtmf: () => external.sendDtmf(),
    close: () => external.close(),
  };
  const booked: string[] = [];
  const errors: string[] = [];
  // A scheduler instance: a second one stands for the lease moving to another instance (nothing in memory).
  const instance = () => new CallbackScheduler({
    handler,
    store,
    reader: new CallReader(handler),
    capacity,
    ending: new CallEnding(handler, capacity, clock),
    media,
    clock,
    // The read model's rows, roughly: every booking (each is decided from its stream).
    due: { dueCallbacks: async () => booked.map((id) => ({ id })), ringingBrowserCallbacks: async () => booked.map((id) => ({ id })) },
    options: { ringingTimeoutSeconds: 30, maxCallDurationSeconds: 3600 },
    onError: (e, what) => void errors.push(`${what}: ${(e as Error).message}`),
    tickMs: 10,
  });
  const scheduler = instance();
  const running = await scheduler.start(new MemoryCheckpoints());
  const others: Array<{ stop(): Promise<void> }> = [];
  let firstStopped = false;
  /** The lease moves: this instance's scheduler stops, a fresh one starts (its follower from the beginning of the store). */
  const moveScheduler = async () => {
    firstStopped = true;
    await running.stop();
    others.push(await instance().start(new MemoryCheckpoints()));
  };
  const ending = new CallEnding(handler, capacity, clock);
  const book = async (callbackId: string, target: { kind: 'PHONE'; number: string } | { kind: 'BROWSER'; callId: string } = { kind: 'PHONE', number: '+33612345678' }) => {
    await handler.handle(
      callbackDecider,
      callbackStreamId(callbackId),
      {
        type: 'BookCallback',
        data: {
          callbackId,
          merchantId: 'm1',
          callCenterId: 'desk',
          originCallId: null,
          target,
          when: { kind: 'NOW' },
          clientAddress: '203.0.113.7',
          facts: { center: { timeZone: 'Europe/Paris', weeklyHours: null }, allowedPrefixes: ['+33'], recentBookings: [] },
          at: clock.now().toISOString(),
        },
      },
      meta,
    );
    booked.push(callbackId);
  };
  const callback = async (id: string): Promise<CallbackState> => (await handler.load(callbackDecider, callbackStreamId(id))).state;
  const attempting = async (id: string, attempt: number) => {
    await until(`try ${attempt} of ${id} placed`, async () => {
      const s = await callback(id);
      return s.status === 'Attempting' && s.current.attempt === attempt;
    });
    const s = await callback(id);
    const callId = s.status === 'Attempting' ? s.current.callId : '';
    // StartCallbackAttempt is stored first, then the call: wait for it to ring (a PSTN center's: to be dialled).
    const placed = kind === 'BROWSER' ? 'Ringing' : 'Initiated';
    await until(`the call of try ${attempt} placed`, async () => (await handler.load(callDecider, callStreamId(callId))).state.status === placed);
    return callId;
  };
  const agentAnswers = (callId: string) => handler.handle(callDecider, callStreamId(callId), { type: 'AnswerCall', data: { callId, gatewayEventId: null, answeredBy: 'kA', at: clock.now().toISOString() } }, meta);
  const ends = (callId: string, cause: 'BUSY' | 'NO_ANSWER', by: 'CALLER' | 'SYSTEM') => ending.end(callId, { cause, by, sipStatus: cause === 'BUSY' ? 486 : null, gatewayEventId: null }, { correlationId: 'c-1', causationId: null });
  const cancel = (id: string) => handler.handle(callbackDecider, callbackStreamId(id), { type: 'CancelCallback', data: { callbackId: id, by: 'SHOPPER', at: clock.now().toISOString() } }, meta);
  const call = async (callId: string) => (await handler.load(callDecider, callStreamId(callId))).state;
  const gatewayAnswers = (callId: string) => handler.handle(callDecider, callStreamId(callId), { type: 'AnswerCall', data: { callId, gatewayEventId: `g-ans-${callId}`, answeredBy: null, at: clock.now().toISOString() } }, meta);
  const outcomes = async (id: string) => (await store.readStream(callbackStreamId(id))).filter((e) => e.type === 'CallbackAttemptFailed').map((e) => (e.data as { outcome: string }).outcome);
  const stop = async () => {
    if (!firstStopped) await running.stop();
    for (const o of others) await o.stop();
    await live.stop();
  };
  return { clock, store, scheduler, dials, hangUps, gatewayAnswers, outcomes, errors, book, callback, attempting, agentAnswers, ends, cancel, call, moveScheduler, stop };
};

describe('callback scheduler (issue 25): placed, dialled, retried', () => {
  it('due → a CALLBACK call rings; the agent answers → the shopper is dialled; busy → the next try 5 minutes later, a new call; answered → DONE', async () => {
    const w = await world();
    try {
      await w.book('cb1');
      const first = await w.attempting('cb1', 1);
      assert.equal(w.dials.length, 0, 'nobody is dialled before an agent answers');
      await w.agentAnswers(first);
      await until('the shopper dialled', () => w.dials.length === 1);
      assert.deepEqual([w.dials[0].callId, w.dials[0].intoCallId, w.dials[0].destination, w.dials[0].gatewayId], [`${first}.shopper`, first, '+33612345678', 'gw'], "the shopper: the call's second leg");
      assert.match(w.dials[0].ani, /^\+3310000020\d$/, "the seized port's caller ID");

      await w.ends(first, 'BUSY', 'CALLER');
      await until('the try failed', async () => (await w.callback('cb1')).status === 'Pending');
      const pending = await w.callback('cb1');
      assert.equal(pending.status === 'Pending' && pending.nextAttemptAt, new Date(Date.parse(T0) + 300_000).toISOString(), 'the next try 5 minutes after the failure');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await w.callback('cb1')).status, 'Pending', 'not tried again before its time');

      w.clock.advance(300_000);
      const second = await w.attempting('cb1', 2);
      assert.notEqual(second, first, 'each try is a call of its own');
      await w.agentAnswers(second);
      await until('the shopper dialled again', () => w.dials.length === 2);
      await w.scheduler.phoneAnswered(second, 'c-2');
      assert.equal((await w.callback('cb1')).status, 'Done');
      assert.deepEqual(w.errors, []);
    } finally {
      await w.stop();
    }
  });

  it('cancelled while a try rings: the call ends (HANGUP by SYSTEM), and the try is not reported', async () => {
    const w = await world();
    try {
      await w.book('cb3');
      const callId = await w.attempting('cb3', 1);
      await w.cancel('cb3');
      await until('the ringing call ended', async () => (await w.call(callId)).status === 'Terminated');
      const ended = await w.call(callId);
      assert.deepEqual(ended.status === 'Terminated' && [ended.cause, ended.by], ['HANGUP', 'SYSTEM']);
      assert.equal((await w.callback('cb3')).status, 'Cancelled');
      assert.deepEqual(w.errors, []);
    } finally {
      await w.stop();
    }
  });

  it('three tries nobody in the center answers (NO_AGENT) fail the callback', async () => {
    const w = await world();
    try {
      await w.book('cb2');
      for (let attempt = 1; attempt <= 3; attempt++) {
        const callId = await w.attempting('cb2', attempt);
        await w.ends(callId, 'NO_ANSWER', 'SYSTEM'); // the ringing timeout, nobody answered
        w.clock.advance(300_000);
      }
      await until('the callback failed', async () => (await w.callback('cb2')).status === 'Failed');
      assert.equal(w.dials.length, 0, 'no agent, no dial');
    } finally {
      await w.stop();
    }
  });

  it('to the browser: the agent answers → the page rings until the ringing timeout; nobody answers → a fresh scheduler (the lease moved) ends the call NO_ANSWER from the stored deadline, the next try 5 minutes later', async () => {
    const w = await world();
    try {
      await w.book('cb4', { kind: 'BROWSER', callId: 'c-origin' });
      const callId = await w.attempting('cb4', 1);
      const placed = (await w.store.readStream(callStreamId(callId)))[0]!.data as { number: unknown; gatewayId: unknown; port: unknown };
      assert.deepEqual([placed.number, placed.gatewayId, placed.port], [null, null, null], 'no number, no port');
      await w.agentAnswers(callId);
      await until('the page rings', async () => {
        const s = await w.callback('cb4');
        return s.status === 'Attempting' && s.current.ringsUntil !== null;
      });
      const ringing = await w.callback('cb4');
      assert.equal(ringing.status === 'Attempting' && ringing.current.ringsUntil, new Date(Date.parse(T0) + 30_000).toISOString(), 'rings for the ringing timeout (30 s)');
      assert.equal(w.dials.length, 0, 'nothing is dialled');

      w.clock.advance(29_000);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await w.call(callId)).status, 'Answered', 'still ringing the page before its deadline');

      // The scheduler's owner goes away; another instance takes the lease, with nothing in memory.
      await w.moveScheduler();
      w.clock.advance(2_000);
      await until('the unanswered ring ended', async () => (await w.call(callId)).status === 'Terminated');
      const ended = await w.call(callId);
      assert.deepEqual(ended.status === 'Terminated' && [ended.cause, ended.by], ['NO_ANSWER', 'SYSTEM']);
      await until('the try failed', async () => (await w.callback('cb4')).status === 'Pending');
      const failed = (await w.store.readStream(callbackStreamId('cb4'))).find((e) => e.type === 'CallbackAttemptFailed')!.data as { outcome: string; nextAttemptAt: string };
      assert.deepEqual([failed.outcome, failed.nextAttemptAt], ['NO_ANSWER', new Date(Date.parse(T0) + 31_000 + 300_000).toISOString()]);
      assert.deepEqual(w.errors, []);
    } finally {
      await w.stop();
    }
  });
});

describe('callback scheduler (issue 25): from a PSTN center, the center dialled, then the shopper as a second leg', () => {
  it("due → the center's number dialled (not ringing in the consoles); its agent answers → the shopper dialled into the call as leg .shopper; busy → the call ends BUSY, the center hung up, the next try 5 minutes later; answered → DONE", async () => {
    const w = await world('PSTN');
    try {
      await w.book('cb4');
      const first = await w.attempting('cb4', 1);
      await until('the center dialled', () => w.dials.length === 1);
      const center = w.dials[0];
      assert.deepEqual([center.callId, center.intoCallId, center.destination, center.gatewayId], [first, undefined, '+33100000001', 'gw'], "the center's number, as the call's own leg");
      assert.match(center.ani, /^\+3310000020\d$/, "the seized port's caller ID (the center's CRM looks the call up by it)");
      assert.deepEqual(center.identity, { linkId: '', customerId: null, sessionId: null, dtmfAfterAnswer: null });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(w.dials.length, 1, 'the shopper is not dialled before the agent answers');

      await w.gatewayAnswers(first);
      await until('the shopper dialled', () => w.dials.length === 2);
      const shopper = w.dials[1];
      assert.deepEqual([shopper.callId, shopper.intoCallId, shopper.destination, shopper.ani], [`${first}.shopper`, first, '+33612345678', center.ani], 'a second leg of the same call, from the same port');
      assert.equal(shopper.identity, undefined, "no identity (nor digits) to the shopper's carrier");

      await w.scheduler.shopperLegEnded(first, 'BUSY', 486, null, 'c-3');
      const ended = await w.call(first);
      assert.deepEqual(ended.status === 'Terminated' && [ended.cause, ended.by], ['BUSY', 'CALLER']);
      assert.deepEqual(w.hangUps, [first], "the center's leg hung up (the call's room with it)");
      await until('the try failed', async () => (await w.callback('cb4')).status === 'Pending');
      const pending = await w.callback('cb4');
      assert.equal(pending.status === 'Pending' && pending.nextAttemptAt, new Date(Date.parse(T0) + 300_000).toISOString(), 'the next try 5 minutes after the failure');
      assert.deepEqual(await w.outcomes('cb4'), ['BUSY']);

      w.clock.advance(300_000);
      const second = await w.attempting('cb4', 2);
      await until('the center dialled again', () => w.dials.length === 3);
      await w.gatewayAnswers(second);
      await until('the shopper dialled again', () => w.dials.length === 4);
      assert.equal(w.dials[3].callId, `${second}.shopper`);
      await w.scheduler.phoneAnswered(second, 'c-4');
      assert.equal((await w.callback('cb4')).status, 'Done');
      assert.deepEqual(w.errors, []);
    } finally {
      await w.stop();
    }
  });

  it("the center does not answer: the call's end is the try's NO_AGENT, and no shopper is dialled", async () => {
    const w = await world('PSTN');
    try {
      await w.book('cb5');
      const callId = await w.attempting('cb5', 1);
      await w.ends(callId, 'NO_ANSWER', 'CALLER');
      await until('the try failed', async () => (await w.callback('cb5')).status === 'Pending');
      assert.deepEqual(await w.outcomes('cb5'), ['NO_AGENT']);
      assert.equal(w.dials.length, 1, 'only the center was dialled');
    } finally {
      await w.stop();
    }
  });
});
