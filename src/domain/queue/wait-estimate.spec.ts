import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fold } from '../shared/decider';
import type { CallEvent } from '../call/events';
import { answered, downloaded, initiated, t } from '../call/fixtures';
import { DEFAULT_HANDLE_SECONDS, estimateWait, HANDLE_TIME_WINDOW, handleTimesFold, median, pushHandleTime } from './wait-estimate';

const terminated = (callId: string, at: string): CallEvent => ({
  type: 'CallTerminated',
  data: { callId, cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null, reason: null, talkSeconds: 0, gatewayId: null, port: null, at },
});
const withId = (e: CallEvent, callId: string): CallEvent => ({ ...e, data: { ...e.data, callId } }) as CallEvent;

describe('wait estimate: the handle-time window', () => {
  it('keeps the newest last and drops the oldest past the window', () => {
    let w: number[] = [];
    for (let i = 1; i <= HANDLE_TIME_WINDOW + 3; i++) w = pushHandleTime(w, i * 1000);
    assert.equal(w.length, HANDLE_TIME_WINDOW);
    assert.deepEqual([w[0], w.at(-1)], [4000, (HANDLE_TIME_WINDOW + 3) * 1000]);
  });
  it('a negative duration (two clocks) counts as 0', () => assert.deepEqual(pushHandleTime([], -5), [0]));
  it('median of odd and even counts', () => assert.deepEqual([median([5, 1, 3]), median([4, 1, 3, 2])], [3, 2.5]));
});

describe('wait estimate: ceil(position / capacity) × median handle time', () => {
  const minutes = [60_000, 120_000, 180_000, 120_000, 3_600_000];
  it('the 3rd of a 2-slot center waits 2 rounds of the median (2 min): 240 s', () => assert.deepEqual(estimateWait(3, minutes, 2), { seconds: 240, basis: 'HISTORY', samples: 5 }));
  it('one outlier does not move it (median, not mean)', () => assert.equal(estimateWait(1, minutes, 1).seconds, 120));
  it(`no history: ${DEFAULT_HANDLE_SECONDS} s per round, and says so`, () => assert.deepEqual(estimateWait(4, [], 3), { seconds: 2 * DEFAULT_HANDLE_SECONDS, basis: 'DEFAULT', samples: 0 }));
  it('not waiting (position 0) → 0 s', () => assert.equal(estimateWait(0, minutes, 2).seconds, 0));
  it('a capacity of 0 is read as 1 (never a division by zero)', () => assert.equal(estimateWait(2, [1000], 0).seconds, 2));
  it('property: never negative, never shorter further back, never longer with more slots', () =>
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 50 }), fc.array(fc.integer({ min: 0, max: 7_200_000 }), { maxLength: 20 }), (p, c, window) => {
        const e = estimateWait(p, window, c);
        assert.ok(e.seconds >= 0);
        assert.ok(estimateWait(p + 1, window, c).seconds >= e.seconds);
        assert.ok(estimateWait(p, window, c + 1).seconds <= e.seconds);
      }),
    ));
});

describe('wait estimate: handle times folded from the calls', () => {
  // Call c1 answered at t(10), ended at t(75): 65 s at cc1. c2 rang at cc1 and was never answered.
  const history: CallEvent[] = [downloaded(), initiated(), answered(), terminated('c1', t(75)), withId(downloaded(), 'c2'), withId(initiated(), 'c2'), terminated('c2', t(90))];
  const state = fold(handleTimesFold.evolve, handleTimesFold.initialState, history);
  it('an answered call adds answered→terminated to its center', () => assert.deepEqual(state.byCenter, { cc1: [Date.parse(t(75)) - Date.parse(answered().data.at)] }));
  it('an unanswered call adds nothing, and no call stays in flight after its end', () => assert.deepEqual(state.inFlight, {}));
  it('events of calls never routed (downloads, DTMF) change nothing', () => assert.equal(handleTimesFold.evolve(state, downloaded()), state));
});
