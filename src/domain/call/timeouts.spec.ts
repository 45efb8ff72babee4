import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { callDecider } from './call';
import { dtmfDeadline, dueTimeout, nextDeadline, type TimeoutLimits } from './timeouts';
import { stateAfter } from '../shared/spec';
import type { CallEvent } from './events';
import { answered, downloaded, dtmfReceived, initiated, ringing, t, T0 } from './fixtures';

const limits: TimeoutLimits = { abandonAfterMs: 10 * 60_000, ringingTimeoutMs: 30_000, maxDurationMs: 3_600_000 };
const at = (iso: string, ms = 0) => new Date(Date.parse(iso) + ms);
const state = (events: CallEvent[]) => stateAfter(callDecider, events);
const terminated: CallEvent = {
  type: 'CallTerminated',
  data: { callId: 'c1', cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null, reason: null, talkSeconds: 0, gatewayId: null, port: null, at: t(1) },
};

describe('call timeouts', () => {
  it('a download never initiated is ABANDONED after abandonAfterMs', () => {
    const s = state([downloaded()]);
    assert.deepEqual(nextDeadline(s, limits), at(T0, limits.abandonAfterMs));
    assert.equal(dueTimeout(s, at(T0, limits.abandonAfterMs - 1), limits), null);
    assert.deepEqual(dueTimeout(s, at(T0, limits.abandonAfterMs), limits), { cause: 'ABANDONED', reason: null, dueAt: at(T0, limits.abandonAfterMs) });
  });
  it('an initiated call that never rings is FAILED (the line was not reached, issue 22) after the ringing timeout from initiation', () => {
    const s = state([downloaded(), initiated()]);
    assert.deepEqual(dueTimeout(s, at(t(5), 30_000), limits), { cause: 'FAILED', reason: 'TRUNK_NO_RESPONSE', dueAt: at(t(5), 30_000) });
    assert.equal(dueTimeout(s, at(t(5), 29_999), limits), null);
  });
  it('ringing past the limit is NO_ANSWER, counted from the ringing', () => {
    const s = state([downloaded(), initiated(), ringing()]);
    assert.deepEqual(nextDeadline(s, limits), at(t(7), 30_000));
    assert.equal(dueTimeout(s, at(t(7), 30_000), limits)?.cause, 'NO_ANSWER');
  });
  it('an answered call past the maximum duration is MAX_DURATION', () => {
    const s = state([downloaded(), initiated(), ringing(), answered()]);
    assert.deepEqual(nextDeadline(s, limits), at(t(10), 3_600_000));
    assert.equal(dueTimeout(s, at(t(10), 3_599_999), limits), null);
    assert.equal(dueTimeout(s, at(t(10), 3_600_000), limits)?.cause, 'MAX_DURATION');
  });
  it('a terminated or unknown call has no timer', () => {
    assert.equal(nextDeadline(state([downloaded(), terminated]), limits), null);
    assert.equal(dueTimeout(state([downloaded(), terminated]), at(T0, 1e12), limits), null);
    assert.equal(nextDeadline(state([]), limits), null);
  });
  it('refuses negative or fractional limits', () => {
    assert.throws(() => nextDeadline(state([downloaded()]), { ...limits, maxDurationMs: -1 }), /maxDurationMs/);
    assert.throws(() => nextDeadline(state([downloaded()]), { ...limits, abandonAfterMs: 1.5 }), /abandonAfterMs/);
  });
  it('deadlines depend on stored events only: replaying the same events (a restart) gives the same deadline', () => {
    const histories: CallEvent[][] = [[downloaded()], [downloaded(), initiated()], [downloaded(), initiated(), ringing()], [downloaded(), initiated(), ringing(), answered()]];
    fc.assert(
      fc.property(fc.constantFrom(...histories), fc.integer({ min: 0, max: 7_200_000 }), (events, offset) => {
        const a = state(events);
        const b = state(JSON.parse(JSON.stringify(events)) as CallEvent[]);
        assert.deepEqual(nextDeadline(a, limits), nextDeadline(b, limits));
        const now = at(T0, offset);
        const due = dueTimeout(a, now, limits);
        const next = nextDeadline(a, limits)!;
        assert.equal(due !== null, now.getTime() >= next.getTime());
      }),
    );
  });
});

describe('DTMF deadline', () => {
  const table = { '*7': { action: 'VOLUME' as const, argument: '+10' }, '*76': { action: 'VOLUME' as const, argument: '+20' } };
  const base = [downloaded(), initiated(), ringing(), answered()];
  it('a buffered sequence a timeout would end → its deadline', () => {
    assert.deepEqual(dtmfDeadline(state([...base, dtmfReceived('*7', 'd1', t(20))]), table), at(t(20), 3000));
    assert.deepEqual(dtmfDeadline(state([...base, dtmfReceived('#12', 'd1', t(20))]), table, { interDigitTimeoutMs: 5000, terminator: '#' }), at(t(20), 5000));
  });
  it('nothing buffered, or a buffer that would mean nothing → null', () => {
    assert.equal(dtmfDeadline(state([...base, dtmfReceived('*76', 'd1', t(20))]), table), null);
    assert.equal(dtmfDeadline(state([...base, dtmfReceived('*', 'd1', t(20))]), table), null);
    assert.equal(dtmfDeadline(state(base), table), null);
    assert.equal(dtmfDeadline(state([downloaded()]), table), null);
  });
});
