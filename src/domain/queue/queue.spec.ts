import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fold } from '../shared/decider';
import { DomainError } from '../shared/errors';
import { specFor, stateAfter } from '../shared/spec';
import {
  dueTimeOuts,
  headOf,
  LEFT_MEMORY,
  positionOf,
  queueDecider,
  queueLength,
  type FallThrough,
  type QueueCommand,
  type QueueEvent,
  type QueuePolicy,
  type QueueState,
} from './queue';

const given = specFor(queueDecider);
const CC = 'cc-1';
const T0 = Date.parse('2026-12-07T09:00:00.000Z');
const t = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const POLICY: QueuePolicy = { maxWaitSeconds: 300, maxLength: 3 };

const join = (callId: string, seconds = 0, over: Partial<Extract<QueueCommand, { type: 'JoinQueue' }>['data']> = {}): QueueCommand => ({
  type: 'JoinQueue',
  data: { callCenterId: CC, merchantId: 'm-1', callId, linkId: 'l-1', policy: POLICY, at: t(seconds), ...over },
});
const dispatch = (callId: string, seconds = 60): QueueCommand => ({ type: 'DispatchCall', data: { callCenterId: CC, callId, at: t(seconds) } });
const abandon = (callId: string, seconds = 60): QueueCommand => ({ type: 'AbandonWait', data: { callCenterId: CC, callId, at: t(seconds) } });
const timeOut = (callId: string, seconds = 300, fallThrough: FallThrough = { kind: 'CALLBACK_OFFER' }): QueueCommand => ({
  type: 'TimeOutWait',
  data: { callCenterId: CC, callId, fallThrough, at: t(seconds) },
});

const joined = (callId: string, ticket: number, position: number, seconds = 0): QueueEvent => ({
  type: 'QueueCallJoined',
  data: { callCenterId: CC, merchantId: 'm-1', callId, linkId: 'l-1', ticket, position, timesOutAt: t(seconds + POLICY.maxWaitSeconds), at: t(seconds) },
});
const dispatched = (callId: string, ticket: number, waitedSeconds = 60, seconds = 60): QueueEvent => ({
  type: 'QueueCallDispatched',
  data: { callCenterId: CC, callId, ticket, waitedMs: waitedSeconds * 1000, at: t(seconds) },
});
const abandoned = (callId: string, ticket: number, position: number, seconds = 60): QueueEvent => ({
  type: 'QueueCallAbandoned',
  data: { callCenterId: CC, callId, ticket, position, waitedMs: seconds * 1000, at: t(seconds) },
});
const timedOut = (callId: string, ticket: number, seconds = 300, fallThrough: FallThrough = { kind: 'CALLBACK_OFFER' }): QueueEvent => ({
  type: 'QueueWaitTimedOut',
  data: { callCenterId: CC, callId, ticket, waitedMs: seconds * 1000, fallThrough, at: t(seconds) },
});

/** Three calls waiting: a (ticket 1), b (2), c (3). */
const THREE = [joined('a', 1, 1), joined('b', 2, 2), joined('c', 3, 3)];

describe('queue: join', () => {
  it('an empty queue → QueueCallJoined, ticket 1, position 1, deadline at + maxWait', () => given([]).when(join('a')).then([joined('a', 1, 1)]));
  it('behind others → the next ticket and the last position', () => given([joined('a', 1, 1)]).when(join('b')).then([joined('b', 2, 2)]));
  it('tickets keep counting after calls leave; positions do not', () =>
    given([joined('a', 1, 1), dispatched('a', 1), joined('b', 2, 1)]).when(join('c', 70)).then([joined('c', 3, 2, 70)]));
  it('the same call again → [] (a retried join)', () => given([joined('a', 1, 1)]).when(join('a', 5)).then([]));
  it('a link without a queue policy → NO_ROUTE QUEUE_NOT_ALLOWED', () => given([]).when(join('a', 0, { policy: null })).then({ error: 'NO_ROUTE', reason: 'QUEUE_NOT_ALLOWED' }));
  it('as many waiting as maxLength → LIMIT_EXCEEDED QUEUE_FULL', () => given(THREE).when(join('d')).then({ error: 'LIMIT_EXCEEDED', reason: 'QUEUE_FULL' }));
  it('a longer maxLength on the link → joins', () => given(THREE).when(join('d', 0, { policy: { ...POLICY, maxLength: 4 } })).then([joined('d', 4, 4)]));
  it('a call that was served → CONFLICT QUEUE_CALL_LEFT (never served twice)', () =>
    given([joined('a', 1, 1), dispatched('a', 1)]).when(join('a', 90)).then({ error: 'CONFLICT', reason: 'QUEUE_CALL_LEFT' }));
  it('a call that abandoned → CONFLICT QUEUE_CALL_LEFT', () => given([joined('a', 1, 1), abandoned('a', 1, 1)]).when(join('a', 90)).then({ error: 'CONFLICT', reason: 'QUEUE_CALL_LEFT' }));
  it("another merchant's call → FORBIDDEN QUEUE_OTHER_MERCHANT", () =>
    given([joined('a', 1, 1)]).when(join('b', 0, { merchantId: 'm-2' })).then({ error: 'FORBIDDEN', reason: 'QUEUE_OTHER_MERCHANT' }));
  it("another center's command → BAD_USER_INPUT QUEUE_WRONG_CENTER", () =>
    given([joined('a', 1, 1)]).when(join('b', 0, { callCenterId: 'cc-2' })).then({ error: 'BAD_USER_INPUT', reason: 'QUEUE_WRONG_CENTER' }));
  for (const policy of [{ maxWaitSeconds: 0, maxLength: 3 }, { maxWaitSeconds: 3601, maxLength: 3 }, { maxWaitSeconds: 60, maxLength: 0 }, { maxWaitSeconds: 1.5, maxLength: 3 }])
    it(`policy ${JSON.stringify(policy)} → BAD_USER_INPUT QUEUE_POLICY_INVALID`, () => given([]).when(join('a', 0, { policy })).then({ error: 'BAD_USER_INPUT', reason: 'QUEUE_POLICY_INVALID' }));
  it('a bad instant → BAD_USER_INPUT', () => given([]).when(join('a', 0, { at: 'soon' })).thenThrows('BAD_USER_INPUT'));
  it('an empty call id → BAD_USER_INPUT', () => given([]).when(join('')).thenThrows('BAD_USER_INPUT'));
});

describe('queue: dispatch (a free slot takes the head)', () => {
  it('the head → QueueCallDispatched with its ticket and wait', () => given(THREE).when(dispatch('a')).then([dispatched('a', 1)]));
  it('then the next head', () => given([...THREE, dispatched('a', 1)]).when(dispatch('b', 90)).then([dispatched('b', 2, 90, 90)]));
  it('a waiting call behind the head → CONFLICT QUEUE_NOT_HEAD (refused: the slot was taken for another call)', () =>
    given(THREE).when(dispatch('c')).then({ error: 'CONFLICT', reason: 'QUEUE_NOT_HEAD' }));
  it('the same dispatch again → [] (its append happened; a retry)', () => given([...THREE, dispatched('a', 1)]).when(dispatch('a', 61)).then([]));
  it('a call that abandoned meanwhile → CONFLICT QUEUE_CALL_NOT_WAITING (the dispatcher re-reads the head)', () =>
    given([...THREE, abandoned('a', 1, 1)]).when(dispatch('a')).then({ error: 'CONFLICT', reason: 'QUEUE_CALL_NOT_WAITING' }));
  it('a call that timed out → CONFLICT QUEUE_CALL_NOT_WAITING', () =>
    given([joined('a', 1, 1), timedOut('a', 1)]).when(dispatch('a', 301)).then({ error: 'CONFLICT', reason: 'QUEUE_CALL_NOT_WAITING' }));
  it('an empty queue → CONFLICT QUEUE_CALL_NOT_WAITING', () => given([]).when(dispatch('a')).then({ error: 'CONFLICT', reason: 'QUEUE_CALL_NOT_WAITING' }));
  it('a dispatch before the join instant records a wait of 0, never negative', () =>
    given([joined('a', 1, 1, 100)]).when(dispatch('a', 90)).then([dispatched('a', 1, 0, 90)]));
});

describe('queue: abandon', () => {
  it('a waiting call → QueueCallAbandoned with the position it had', () => given(THREE).when(abandon('b')).then([abandoned('b', 2, 2)]));
  it('the queue closes up behind it', () => assert.deepEqual(stateAfter(queueDecider, [...THREE, abandoned('b', 2, 2)]).waiting.map((e) => e.callId), ['a', 'c']));
  it('a call already dispatched → [] (the hang-up raced with the slot)', () => given([...THREE, dispatched('a', 1)]).when(abandon('a', 61)).then([]));
  it('a call that never queued → []', () => given([]).when(abandon('x')).then([]));
});

describe('queue: time-out', () => {
  it('at its deadline → QueueWaitTimedOut with where it falls through (a callback offer)', () => given(THREE).when(timeOut('a')).then([timedOut('a', 1)]));
  it('to the next center', () =>
    given(THREE).when(timeOut('b', 300, { kind: 'NEXT_CENTER', callCenterId: 'cc-2' })).then([timedOut('b', 2, 300, { kind: 'NEXT_CENTER', callCenterId: 'cc-2' })]));
  it('to nowhere (the call ends)', () => given(THREE).when(timeOut('c', 310, { kind: 'END' })).then([timedOut('c', 3, 310, { kind: 'END' })]));
  it('before the deadline → CONFLICT QUEUE_WAIT_NOT_OVER', () => given(THREE).when(timeOut('a', 299)).then({ error: 'CONFLICT', reason: 'QUEUE_WAIT_NOT_OVER' }));
  it('a call that left → [] (the timer lost the race)', () => given([...THREE, dispatched('a', 1)]).when(timeOut('a')).then([]));
  it('falling through to this same center → BAD_USER_INPUT QUEUE_FALL_THROUGH_INVALID', () =>
    given(THREE).when(timeOut('a', 300, { kind: 'NEXT_CENTER', callCenterId: CC })).then({ error: 'BAD_USER_INPUT', reason: 'QUEUE_FALL_THROUGH_INVALID' }));
  it('an unknown fall-through → BAD_USER_INPUT QUEUE_FALL_THROUGH_INVALID', () =>
    given(THREE).when(timeOut('a', 300, { kind: 'VOICEMAIL' } as unknown as FallThrough)).then({ error: 'BAD_USER_INPUT', reason: 'QUEUE_FALL_THROUGH_INVALID' }));
});

describe('queue: queries', () => {
  const s = stateAfter(queueDecider, [...THREE, abandoned('a', 1, 1)]);
  it('position is 1-based and closes up', () => assert.deepEqual([positionOf(s, 'b'), positionOf(s, 'c'), positionOf(s, 'a')], [1, 2, null]));
  it('length and head', () => assert.deepEqual([queueLength(s), headOf(s)?.callId], [2, 'b']));
  it('due time-outs at an instant', () => {
    const later = stateAfter(queueDecider, [joined('a', 1, 1), joined('b', 2, 2, 30)]);
    assert.deepEqual(dueTimeOuts(later, t(300)).map((e) => e.callId), ['a']);
    assert.deepEqual(dueTimeOuts(later, t(330)).map((e) => e.callId), ['a', 'b']);
  });
  it('merchantOf is the first join\'s merchant', () => assert.equal(queueDecider.merchantOf?.(s), 'm-1'));
  it(`remembers the last ${LEFT_MEMORY} departures only`, () => {
    const events: QueueEvent[] = [];
    for (let i = 1; i <= LEFT_MEMORY + 2; i++) events.push(joined(`c${i}`, i, 1), dispatched(`c${i}`, i));
    const state = stateAfter(queueDecider, events);
    assert.equal(state.left.length, LEFT_MEMORY);
    assert.equal(state.left[0].callId, 'c3');
  });
});

// ---------------------------------------------------------------- properties

/** What a run does, abstractly: the ids come from a small pool so that repeats and races happen. */
type Op =
  | { op: 'join'; id: string; queued: boolean }
  | { op: 'dispatchHead' }
  | { op: 'dispatch'; id: string }
  | { op: 'abandon'; id: string }
  | { op: 'timeOut'; id: string }
  | { op: 'tick'; seconds: number };

const ids = fc.constantFrom(...'abcdefghijklmnop'.split(''));
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('join' as const), id: ids, queued: fc.integer({ min: 0, max: 9 }).map((n) => n > 0) }), weight: 6 },
  { arbitrary: fc.constant({ op: 'dispatchHead' as const }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('dispatch' as const), id: ids }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('abandon' as const), id: ids }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('timeOut' as const), id: ids }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 120 }) }), weight: 2 },
);

interface Run {
  events: QueueEvent[];
  /** The state after each step, built incrementally as a live process would. */
  states: QueueState[];
  refusals: Array<{ op: Op; error: DomainError; before: QueueState }>;
}

const PROPERTY_POLICY: QueuePolicy = { maxWaitSeconds: 240, maxLength: 5 };

/** Drives the decider as the application would: decide on the current state, append, evolve; a refusal appends nothing. */
const run = (ops: readonly Op[]): Run => {
  let state = queueDecider.initialState;
  let now = 0;
  const out: Run = { events: [], states: [], refusals: [] };
  for (const op of ops) {
    let command: QueueCommand | null = null;
    switch (op.op) {
      case 'join':
        command = join(op.id, now, { policy: op.queued ? PROPERTY_POLICY : null });
        break;
      case 'dispatchHead': {
        // A well-behaved dispatcher: reads the head, takes a slot for it, dispatches it.
        const head = headOf(state);
        if (head) command = dispatch(head.callId, now);
        break;
      }
      case 'dispatch':
        command = dispatch(op.id, now);
        break;
      case 'abandon':
        command = abandon(op.id, now);
        break;
      case 'timeOut':
        command = timeOut(op.id, now);
        break;
      case 'tick':
        now += op.seconds;
        break;
    }
    if (command === null) continue;
    try {
      const events = queueDecider.decide(command, state);
      for (const e of events) state = queueDecider.evolve(state, e);
      out.events.push(...events);
      out.states.push(state);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      out.refusals.push({ op, error: e, before: state });
    }
  }
  return out;
};

const ops = fc.array(arbOp, { minLength: 10, maxLength: 80, size: 'large' });

describe('queue: properties', () => {
  it('the generated runs exercise every path (so that the properties below are not vacuous)', () => {
    const seen = new Map<string, number>();
    for (const list of fc.sample(ops, { numRuns: 200, seed: 25 })) {
      const r = run(list);
      for (const e of r.events) seen.set(e.type, (seen.get(e.type) ?? 0) + 1);
      for (const { error } of r.refusals) seen.set(String(error.details.reason), (seen.get(String(error.details.reason)) ?? 0) + 1);
    }
    for (const what of ['QueueCallJoined', 'QueueCallDispatched', 'QueueCallAbandoned', 'QueueWaitTimedOut', 'QUEUE_NOT_HEAD', 'QUEUE_CALL_NOT_WAITING', 'QUEUE_FULL', 'QUEUE_CALL_LEFT', 'QUEUE_NOT_ALLOWED'])
      assert.ok((seen.get(what) ?? 0) >= 5, `${what}: ${seen.get(what) ?? 0} in 200 runs (${JSON.stringify([...seen])})`);
  });

  it('FIFO: whatever interleaving of joins, abandons, time-outs and dispatches, every dispatch takes the earliest joined call still waiting', () =>
    fc.assert(
      fc.property(ops, (list) => {
        // The model: arrival order, kept from the events alone, independent of the decider's state.
        let model: string[] = [];
        let lastTicket = 0;
        for (const e of run(list).events) {
          if (e.type === 'QueueCallJoined') model.push(e.data.callId);
          else {
            if (e.type === 'QueueCallDispatched') {
              assert.equal(e.data.callId, model[0], `dispatched ${e.data.callId} while ${model[0]} joined earlier and still waits`);
              assert.ok(e.data.ticket > lastTicket, 'tickets come out in increasing order');
              lastTicket = e.data.ticket;
            }
            model = model.filter((id) => id !== e.data.callId);
          }
        }
      }),
    ));

  it('no call is served twice, and every join ends in at most one departure', () =>
    fc.assert(
      fc.property(ops, (list) => {
        const { events } = run(list);
        const served = new Set<string>();
        const departed = new Set<string>();
        for (const e of events) {
          if (e.type === 'QueueCallJoined') continue;
          assert.ok(!departed.has(e.data.callId), `${e.data.callId} left twice (${e.type})`);
          departed.add(e.data.callId);
          if (e.type === 'QueueCallDispatched') {
            assert.ok(!served.has(e.data.callId), `${e.data.callId} served twice`);
            served.add(e.data.callId);
          }
        }
        const joins = events.filter((e) => e.type === 'QueueCallJoined').length;
        assert.equal(joins, new Set(events.filter((e) => e.type === 'QueueCallJoined').map((e) => e.data.callId)).size, 'a call joined twice');
      }),
    ));

  it('a stale dispatch (not the head, or gone) is refused, never served; the queue never outgrows its policy', () =>
    fc.assert(
      fc.property(ops, (list) => {
        const { refusals, states } = run(list);
        for (const { op, error, before } of refusals) {
          assert.notEqual(op.op, 'dispatchHead', `the head's dispatch was refused: ${error.message}`);
          if (op.op !== 'dispatch') continue;
          assert.equal(error.code, 'CONFLICT');
          assert.equal(error.details.reason, positionOf(before, op.id) === null ? 'QUEUE_CALL_NOT_WAITING' : 'QUEUE_NOT_HEAD');
        }
        for (const s of states) assert.ok(queueLength(s) <= PROPERTY_POLICY.maxLength);
      }),
    ));

  it('positions are 1…n in ticket order', () =>
    fc.assert(
      fc.property(ops, (list) => {
        for (const s of run(list).states) {
          s.waiting.forEach((e, i) => assert.equal(positionOf(s, e.callId), i + 1));
          for (let i = 1; i < s.waiting.length; i++) assert.ok(s.waiting[i - 1].ticket < s.waiting[i].ticket);
        }
      }),
    ));

  it('nothing lost on a restart: the events folded from scratch, or from a snapshot at any point plus the tail, give the live state', () =>
    fc.assert(
      fc.property(ops, fc.nat(), (list, cut) => {
        const { events, states } = run(list);
        const live = states.at(-1) ?? queueDecider.initialState;
        const full = fold(queueDecider.evolve, queueDecider.initialState, events);
        assert.deepStrictEqual(full, live);
        const k = events.length === 0 ? 0 : cut % (events.length + 1);
        // A snapshot is stored as JSON (the stream cache's snapshots): round-trip it as the store would.
        const snapshot = JSON.parse(JSON.stringify(fold(queueDecider.evolve, queueDecider.initialState, events.slice(0, k)))) as QueueState;
        assert.deepStrictEqual(fold(queueDecider.evolve, snapshot, events.slice(k)), full);
      }),
    ));
});
