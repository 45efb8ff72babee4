import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DomainError } from '../shared/errors';
import { specFor, stateAfter } from '../shared/spec';
import {
  CALLBACK_RETRY_POLICY,
  callbackDecider,
  type AttemptOutcome,
  type CallbackCommand,
  type CallbackEvent,
  type CallbackState,
  type CenterHours,
  type BookingFacts,
} from './callback';
import type { BookingRecord } from './rate-limit';

const given = specFor(callbackDecider);
// Monday 7 December 2026, 09:00 UTC = 10:00 in Paris; the center is open Mon–Fri 09:00–18:00 Paris time.
const T0 = Date.parse('2026-12-07T09:00:00.000Z');
const t = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const HOUR = 3600;
const CENTER: CenterHours = { timeZone: 'Europe/Paris', weeklyHours: [1, 2, 3, 4, 5].map((day) => ({ day, open: '09:00', close: '18:00' })) };
const FACTS: BookingFacts = { center: CENTER, allowedPrefixes: ['+33', '+32'], recentBookings: [] };
const NUMBER = '+33612345678';
const ADDRESS = '203.0.113.7';

type BookData = Extract<CallbackCommand, { type: 'BookCallback' }>['data'];
/** What a booking and its event share. */
const TERMS = { callbackId: 'cb-1', merchantId: 'm-1', callCenterId: 'cc-1', originCallId: 'call-1', target: { kind: 'PHONE', number: NUMBER }, when: { kind: 'NOW' } } as const;
const book = (over: Partial<BookData> = {}, facts: Partial<BookingFacts> = {}): CallbackCommand => ({
  type: 'BookCallback',
  data: {
    ...TERMS,
    clientAddress: ADDRESS,
    at: t(0),
    ...over,
    facts: { ...FACTS, ...facts },
  },
});
const booked = (over: Partial<Extract<CallbackEvent, { type: 'CallbackBooked' }>['data']> = {}): CallbackEvent => ({
  type: 'CallbackBooked',
  data: {
    ...TERMS,
    dueAt: t(0),
    retry: CALLBACK_RETRY_POLICY,
    clientKey: ADDRESS,
    at: t(0),
    ...over,
  },
});
const start = (seconds = 10, callId = 'out-1', center: CenterHours = CENTER): CallbackCommand => ({ type: 'StartCallbackAttempt', data: { callbackId: 'cb-1', callId, center, at: t(seconds) } });
const started = (attempt = 1, seconds = 10, callId = `out-${attempt}`): CallbackEvent => ({ type: 'CallbackAttemptStarted', data: { callbackId: 'cb-1', originCallId: 'call-1', attempt, callId, at: t(seconds) } });
const report = (attempt: number, outcome: AttemptOutcome, seconds = 40): CallbackCommand => ({ type: 'ReportCallbackAttempt', data: { callbackId: 'cb-1', attempt, outcome, at: t(seconds) } });
const failed = (attempt: number, seconds = 40, last = false): CallbackEvent => ({
  type: 'CallbackAttemptFailed',
  data: { callbackId: 'cb-1', originCallId: 'call-1', attempt, outcome: 'NO_ANSWER', nextAttemptAt: last ? null : t(seconds + CALLBACK_RETRY_POLICY.spacingSeconds), at: t(seconds) },
});
const cancel = (by: 'SHOPPER' | 'MERCHANT' | 'SYSTEM' = 'SHOPPER', seconds = 50): CallbackCommand => ({ type: 'CancelCallback', data: { callbackId: 'cb-1', by, at: t(seconds) } });
const cancelled = (seconds = 50): CallbackEvent => ({ type: 'CallbackCancelled', data: { callbackId: 'cb-1', originCallId: 'call-1', by: 'SHOPPER', at: t(seconds) } });
const completed = (attempt = 1, seconds = 40): CallbackEvent => ({ type: 'CallbackCompleted', data: { callbackId: 'cb-1', originCallId: 'call-1', attempt, callId: `out-${attempt}`, at: t(seconds) } });

/** Three tries, each failed five minutes apart: the callback has failed. */
const THREE_FAILED = [booked(), started(1, 10), failed(1, 40), started(2, 340), failed(2, 370), started(3, 670), failed(3, 700, true), { type: 'CallbackFailed', data: { callbackId: 'cb-1', originCallId: 'call-1', attempts: 3, at: t(700) } } as CallbackEvent];

describe('callback: book', () => {
  it('to a phone, now, while the center is open → CallbackBooked, due now, under the stated retry policy', () => given([]).when(book()).then([booked()]));
  it('when an agent is free, while the center is closed (Saturday) → booked, due at once (placed after it opens)', () =>
    given([]).when(book({ when: { kind: 'AGENT_FREE' }, at: t(5 * 24 * HOUR) })).then([booked({ when: { kind: 'AGENT_FREE' }, dueAt: t(5 * 24 * HOUR), at: t(5 * 24 * HOUR) })]));
  it('at a time inside the opening hours → due then (the instant normalised)', () =>
    given([]).when(book({ when: { kind: 'AT', at: '2026-12-08T14:30:00Z' } })).then([booked({ when: { kind: 'AT', at: '2026-12-08T14:30:00.000Z' }, dueAt: '2026-12-08T14:30:00.000Z' })]));
  it('to this browser → booked with the call to ring', () =>
    given([]).when(book({ target: { kind: 'BROWSER', callId: 'call-1' } })).then([booked({ target: { kind: 'BROWSER', callId: 'call-1' } })]));
  it('an IPv6 client is recorded by its /64', () =>
    given([]).when(book({ clientAddress: '2001:db8:1:2:aaaa::1' })).then([booked({ clientKey: '2001:db8:1:2::/64' })]));
  it('the same booking again → [] (a retried request)', () => given([booked()]).when(book({ at: t(3) })).then([]));
  it('the same id with other terms → CONFLICT CALLBACK_EXISTS', () =>
    given([booked()]).when(book({ target: { kind: 'PHONE', number: '+33698765432' } })).then({ error: 'CONFLICT', reason: 'CALLBACK_EXISTS' }));
  for (const number of ['0612345678', '+0612345678', '+33 6 12 34 56 78', '+3361234567890123', '', '+'])
    it(`"${number}" → BAD_USER_INPUT CALLBACK_NUMBER_INVALID`, () =>
      given([]).when(book({ target: { kind: 'PHONE', number } })).then({ error: 'BAD_USER_INPUT', reason: 'CALLBACK_NUMBER_INVALID' }));
  for (const number of ['+33899123456', '+19005550100', '+449012345678', '+881612345678', '+97912345678'])
    it(`premium-rate ${number} → BAD_USER_INPUT CALLBACK_PREMIUM_RATE (even where the country is allowed)`, () =>
      given([]).when(book({ target: { kind: 'PHONE', number } }, { allowedPrefixes: null })).then({ error: 'BAD_USER_INPUT', reason: 'CALLBACK_PREMIUM_RATE' }));
  it('a country outside the merchant\'s list → BAD_USER_INPUT CALLBACK_COUNTRY_NOT_ALLOWED', () =>
    given([]).when(book({ target: { kind: 'PHONE', number: '+4915112345678' } })).then({ error: 'BAD_USER_INPUT', reason: 'CALLBACK_COUNTRY_NOT_ALLOWED' }));
  it('no list: every country that is not premium-rate', () =>
    given([]).when(book({ target: { kind: 'PHONE', number: '+4915112345678' } }, { allowedPrefixes: null })).then([booked({ target: { kind: 'PHONE', number: '+4915112345678' } })]));
  it('an empty list refuses every phone, not the browser', () =>
    given([]).when(book({ target: { kind: 'BROWSER', callId: 'call-1' } }, { allowedPrefixes: [] })).then([booked({ target: { kind: 'BROWSER', callId: 'call-1' } })]));
  it('now, while the center is closed (21:00 in Paris) → BAD_USER_INPUT CALLBACK_OUTSIDE_HOURS', () =>
    given([]).when(book({ at: t(11 * HOUR) })).then({ error: 'BAD_USER_INPUT', reason: 'CALLBACK_OUTSIDE_HOURS' }));
  it('at a time outside the opening hours → BAD_USER_INPUT CALLBACK_OUTSIDE_HOURS', () =>
    given([]).when(book({ when: { kind: 'AT', at: '2026-12-08T19:00:00Z' } })).then({ error: 'BAD_USER_INPUT', reason: 'CALLBACK_OUTSIDE_HOURS' }));
  it('at a past time → BAD_USER_INPUT CALLBACK_TIME_INVALID', () =>
    given([]).when(book({ when: { kind: 'AT', at: t(-60) } })).then({ error: 'BAD_USER_INPUT', reason: 'CALLBACK_TIME_INVALID' }));
  it('more than 7 days ahead → BAD_USER_INPUT CALLBACK_TIME_INVALID', () =>
    given([]).when(book({ when: { kind: 'AT', at: t(8 * 24 * HOUR) } })).then({ error: 'BAD_USER_INPUT', reason: 'CALLBACK_TIME_INVALID' }));
  it('an AT that is not an instant → BAD_USER_INPUT', () => given([]).when(book({ when: { kind: 'AT', at: 'tomorrow' } })).thenThrows('BAD_USER_INPUT'));
  it('an unknown when or target → BAD_USER_INPUT', () => {
    given([]).when(book({ when: { kind: 'LATER' } as never })).thenThrows('BAD_USER_INPUT');
    given([]).when(book({ target: { kind: 'FAX', number: NUMBER } as never })).thenThrows('BAD_USER_INPUT');
  });
  const prior = (n: number, over: (i: number) => Partial<BookingRecord>): BookingRecord[] =>
    Array.from({ length: n }, (_, i) => ({ number: `+3361000000${i}`, clientKey: `198.51.100.${i}`, at: t(-600 * (i + 1)), ...over(i) }));
  it('a 4th booking to one number within the hour, from other clients → RATE_LIMITED CALLBACK_RATE_LIMITED (scope NUMBER)', () =>
    given([]).when(book({}, { recentBookings: prior(3, () => ({ number: NUMBER })) })).then({ error: 'RATE_LIMITED', reason: 'CALLBACK_RATE_LIMITED' }));
  it('… with the seconds until the oldest ages out', () => {
    try {
      callbackDecider.decide(book({}, { recentBookings: prior(3, () => ({ number: NUMBER })) }), callbackDecider.initialState);
      assert.fail('booked');
    } catch (e) {
      assert.ok(e instanceof DomainError);
      assert.deepEqual([e.code, e.details.reason, e.details.scope, e.details.retryAfterSeconds], ['RATE_LIMITED', 'CALLBACK_RATE_LIMITED', 'NUMBER', HOUR - 1800]);
    }
  });
  it('a 6th booking from one client within the hour, to other numbers → RATE_LIMITED CALLBACK_RATE_LIMITED (scope ADDRESS)', () =>
    given([]).when(book({}, { recentBookings: prior(5, () => ({ clientKey: ADDRESS })) })).then({ error: 'RATE_LIMITED', reason: 'CALLBACK_RATE_LIMITED' }));
  it('bookings older than an hour do not count', () =>
    given([]).when(book({}, { recentBookings: prior(3, (i) => ({ number: NUMBER, at: t(-HOUR - i) })) })).then([booked()]));
});

describe('callback: tries', () => {
  it('due and open → CallbackAttemptStarted, try 1', () => given([booked()]).when(start()).then([started()]));
  it('an AT callback before its time → CONFLICT CALLBACK_NOT_DUE', () =>
    given([booked({ when: { kind: 'AT', at: t(HOUR) }, dueAt: t(HOUR) })]).when(start(HOUR - 1)).then({ error: 'CONFLICT', reason: 'CALLBACK_NOT_DUE' }));
  it('while the center is closed → CONFLICT CALLBACK_OUTSIDE_HOURS (the scheduler waits for it to open)', () =>
    given([booked()]).when(start(11 * HOUR)).then({ error: 'CONFLICT', reason: 'CALLBACK_OUTSIDE_HOURS' }));
  it('the same try again → []', () => given([booked(), started()]).when(start(12)).then([]));
  it('another try while one is in progress → CONFLICT CALLBACK_ATTEMPT_IN_PROGRESS', () =>
    given([booked(), started()]).when(start(12, 'out-9')).then({ error: 'CONFLICT', reason: 'CALLBACK_ATTEMPT_IN_PROGRESS' }));
  it('answered → CallbackCompleted', () => given([booked(), started()]).when(report(1, 'ANSWERED')).then([completed()]));
  it('not answered → CallbackAttemptFailed, the next try due 5 minutes later', () => given([booked(), started()]).when(report(1, 'NO_ANSWER')).then([failed(1)]));
  it('the next try before those 5 minutes → CONFLICT CALLBACK_NOT_DUE', () =>
    given([booked(), started(), failed(1)]).when(start(339, 'out-2')).then({ error: 'CONFLICT', reason: 'CALLBACK_NOT_DUE' }));
  it('… and at 5 minutes → try 2', () => given([booked(), started(), failed(1)]).when(start(340, 'out-2')).then([started(2, 340)]));
  it('the 3rd failure → CallbackAttemptFailed (no next try) and CallbackFailed', () => given(THREE_FAILED.slice(0, 6)).when(report(3, 'NO_ANSWER', 700)).then(THREE_FAILED.slice(6)));
  it('a 4th try → CONFLICT CALLBACK_CLOSED', () => given(THREE_FAILED).when(start(2000, 'out-4')).then({ error: 'CONFLICT', reason: 'CALLBACK_CLOSED' }));
  it('a try of a completed callback → CONFLICT CALLBACK_CLOSED', () => given([booked(), started(), completed()]).when(start(400, 'out-2')).then({ error: 'CONFLICT', reason: 'CALLBACK_CLOSED' }));
  it('a try of a cancelled callback → CONFLICT CALLBACK_CLOSED (nobody is dialled)', () => given([booked(), cancelled(5)]).when(start()).then({ error: 'CONFLICT', reason: 'CALLBACK_CLOSED' }));
  it('an outcome reported again → []', () => given([booked(), started(), failed(1)]).when(report(1, 'BUSY', 45)).then([]));
  it('the outcome of a try the shopper cancelled → []', () => given([booked(), started(), cancelled(30)]).when(report(1, 'ANSWERED')).then([]));
  it('an outcome of a try not started → CONFLICT CALLBACK_NO_SUCH_ATTEMPT', () => given([booked()]).when(report(1, 'NO_ANSWER')).then({ error: 'CONFLICT', reason: 'CALLBACK_NO_SUCH_ATTEMPT' }));
  it('an unknown outcome → BAD_USER_INPUT', () => given([booked(), started()]).when(report(1, 'MAYBE' as AttemptOutcome)).thenThrows('BAD_USER_INPUT'));
  it('an unknown callback → NOT_FOUND', () => {
    given([]).when(start()).thenThrows('NOT_FOUND');
    given([]).when(report(1, 'ANSWERED')).thenThrows('NOT_FOUND');
  });
});

describe('callback: cancel', () => {
  it('pending → CallbackCancelled', () => given([booked()]).when(cancel()).then([cancelled()]));
  it('during a try → CallbackCancelled (the application hangs the try up)', () => given([booked(), started()]).when(cancel()).then([cancelled()]));
  it('cancelled again → []', () => given([booked(), cancelled()]).when(cancel('MERCHANT', 60)).then([]));
  it('done or failed → CONFLICT CALLBACK_CLOSED', () => {
    given([booked(), started(), completed()]).when(cancel()).then({ error: 'CONFLICT', reason: 'CALLBACK_CLOSED' });
    given(THREE_FAILED).when(cancel()).then({ error: 'CONFLICT', reason: 'CALLBACK_CLOSED' });
  });
  it('an unknown canceller → BAD_USER_INPUT; an unknown callback → NOT_FOUND', () => {
    given([booked()]).when(cancel('ROBOT' as 'SHOPPER')).thenThrows('BAD_USER_INPUT');
    given([]).when(cancel()).thenThrows('NOT_FOUND');
  });
  it('terminal states, and the merchant of the stream', () => {
    assert.equal(callbackDecider.isTerminal?.(stateAfter(callbackDecider, [booked(), cancelled()])), true);
    assert.equal(callbackDecider.isTerminal?.(stateAfter(callbackDecider, [booked(), started()])), false);
    assert.equal(callbackDecider.merchantOf?.(stateAfter(callbackDecider, [booked()])), 'm-1');
  });
});

// ---------------------------------------------------------------- the retry policy, as properties

type Step = { kind: 'start'; afterSeconds: number; sameCall: boolean } | { kind: 'report'; afterSeconds: number; outcome: AttemptOutcome; attemptShift: number } | { kind: 'cancel'; afterSeconds: number };
const arbStep: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('start' as const), afterSeconds: fc.integer({ min: 0, max: 600 }), sameCall: fc.boolean() }), weight: 5 },
  {
    arbitrary: fc.record({
      kind: fc.constant('report' as const),
      afterSeconds: fc.integer({ min: 0, max: 120 }),
      outcome: fc.constantFrom<AttemptOutcome>('NO_ANSWER', 'NO_ANSWER', 'NO_ANSWER', 'BUSY', 'BUSY', 'FAILED', 'NO_AGENT', 'ANSWERED'),
      attemptShift: fc.constantFrom(0, 0, 0, -1, 1),
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ kind: fc.constant('cancel' as const), afterSeconds: fc.integer({ min: 0, max: 600 }) }), weight: 1 },
);
const arbSteps = fc.array(arbStep, { minLength: 5, maxLength: 60, size: 'large' });
const ALWAYS_OPEN: CenterHours = { timeZone: 'UTC', weeklyHours: null };

/** A scheduler and a media side that misbehave at random: early starts, repeated and stray reports. */
const runTries = (steps: readonly Step[]): CallbackEvent[] => {
  let state: CallbackState = stateAfter(callbackDecider, [booked()]);
  const events: CallbackEvent[] = [booked()];
  let now = 0;
  let n = 0;
  for (const step of steps) {
    now += step.afterSeconds;
    const attempt = state.status === 'Attempting' ? state.current.attempt : state.status === 'Absent' ? 1 : state.attempts;
    const command: CallbackCommand =
      step.kind === 'start'
        ? start(now, step.sameCall && state.status === 'Attempting' ? state.current.callId : `out-${++n}`, ALWAYS_OPEN)
        : step.kind === 'report'
          ? report(attempt + step.attemptShift, step.outcome, now)
          : cancel('SYSTEM', now);
    try {
      const decided = callbackDecider.decide(command, state);
      for (const e of decided) state = callbackDecider.evolve(state, e);
      events.push(...decided);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
    }
  }
  return events;
};

describe('callback: properties of the retry policy', () => {
  const { maxAttempts, spacingSeconds } = CALLBACK_RETRY_POLICY;
  it('the generated runs end every way (so that the properties below are not vacuous)', () => {
    const ends = fc.sample(arbSteps, { numRuns: 200, seed: 25 }).map((steps) => runTries(steps).at(-1)?.type);
    for (const end of ['CallbackFailed', 'CallbackCompleted', 'CallbackCancelled', 'CallbackAttemptFailed'])
      assert.ok(ends.filter((e) => e === end).length >= 5, `${end}: ${ends.filter((e) => e === end).length} of 200`);
  });
  it(`never more than ${maxAttempts} tries, numbered 1, 2, 3; each started at least ${spacingSeconds} s after the previous one failed`, () =>
    fc.assert(
      fc.property(arbSteps, (steps) => {
        const events = runTries(steps);
        const starts = events.filter((e) => e.type === 'CallbackAttemptStarted');
        assert.ok(starts.length <= maxAttempts, `${starts.length} tries`);
        starts.forEach((s, i) => assert.equal(s.data.attempt, i + 1));
        let failedAt: number | null = null;
        for (const e of events) {
          if (e.type === 'CallbackAttemptFailed') failedAt = Date.parse(e.data.at);
          if (e.type === 'CallbackAttemptStarted' && e.data.attempt > 1) {
            assert.ok(failedAt !== null, 'a retry without a failed try before it');
            assert.ok(Date.parse(e.data.at) - failedAt >= spacingSeconds * 1000, `try ${e.data.attempt} only ${(Date.parse(e.data.at) - failedAt) / 1000} s after the failure`);
          }
        }
      }),
    ));
  it('a callback ends at most once (done, failed or cancelled), after which nothing more happens; it fails only after the last try failed', () =>
    fc.assert(
      fc.property(arbSteps, (steps) => {
        const events = runTries(steps);
        const ends = events.map((e, i) => [e, i] as const).filter(([e]) => e.type === 'CallbackCompleted' || e.type === 'CallbackFailed' || e.type === 'CallbackCancelled');
        assert.ok(ends.length <= 1, `ended ${ends.length} times`);
        if (ends.length === 1) assert.equal(ends[0][1], events.length - 1, 'events after the end');
        const failedEnd = events.find((e) => e.type === 'CallbackFailed');
        if (failedEnd) assert.equal(events.filter((e) => e.type === 'CallbackAttemptFailed').length, maxAttempts);
      }),
    ));
  it(`a scheduler that retries as soon as allowed against a phone nobody answers: exactly ${maxAttempts} tries, then failed`, () => {
    const steps: Step[] = [];
    for (let i = 0; i < 10; i++) steps.push({ kind: 'start', afterSeconds: spacingSeconds, sameCall: false }, { kind: 'report', afterSeconds: 30, outcome: 'NO_ANSWER', attemptShift: 0 });
    const events = runTries(steps);
    assert.equal(events.filter((e) => e.type === 'CallbackAttemptStarted').length, maxAttempts);
    assert.equal(events.at(-1)?.type, 'CallbackFailed');
  });
});

describe('callback: to the browser (the try rings the page that booked it)', () => {
  const BROWSER = { kind: 'BROWSER', callId: 'call-1' } as const;
  const bookedB = () => booked({ target: BROWSER });
  const ring = (attempt = 1, seconds = 20, timeout = 30): CallbackCommand => ({ type: 'RingBrowser', data: { callbackId: 'cb-1', attempt, ringingTimeoutSeconds: timeout, at: t(seconds) } });
  const rung = (attempt = 1, seconds = 20, timeout = 30): CallbackEvent => ({
    type: 'CallbackBrowserRung',
    data: { callbackId: 'cb-1', originCallId: 'call-1', attempt, callId: `out-${attempt}`, ringsUntil: t(seconds + timeout), at: t(seconds) },
  });
  it('no number: the per-number limit does not count, the per-client one does', () => {
    given([]).when(book({ target: BROWSER }, { recentBookings: Array.from({ length: 3 }, (_, i) => ({ number: null, clientKey: `198.51.100.${i}`, at: t(-60) })) })).then([bookedB()]);
    given([]).when(book({ target: BROWSER }, { recentBookings: Array.from({ length: 5 }, () => ({ number: null, clientKey: ADDRESS, at: t(-60) })) })).then({ error: 'RATE_LIMITED', reason: 'CALLBACK_RATE_LIMITED' });
  });
  it('an agent answered the try → CallbackBrowserRung, ringing until the ringing timeout', () => given([bookedB(), started()]).when(ring()).then([rung()]));
  it('the agent\'s answer seen again (a replay) → []', () => given([bookedB(), started(), rung()]).when(ring(1, 25)).then([]));
  it('a phone callback does not ring a browser → BAD_USER_INPUT', () => given([booked(), started()]).when(ring()).thenThrows('BAD_USER_INPUT'));
  it('a try already reported → []; a try never started → CONFLICT CALLBACK_NO_SUCH_ATTEMPT', () => {
    given([bookedB(), started(), failed(1)]).when(ring(1, 45)).then([]);
    given([bookedB()]).when(ring()).then({ error: 'CONFLICT', reason: 'CALLBACK_NO_SUCH_ATTEMPT' });
  });
  it('a ringing timeout out of 1…3600 s → BAD_USER_INPUT', () => {
    given([bookedB(), started()]).when(ring(1, 20, 0)).thenThrows('BAD_USER_INPUT');
    given([bookedB(), started()]).when(ring(1, 20, 3601)).thenThrows('BAD_USER_INPUT');
  });
  it('the shopper answers while it rings → CallbackCompleted', () => given([bookedB(), started(), rung()]).when(report(1, 'ANSWERED', 50)).then([completed(1, 50)]));
  it('answered before the page rang (no agent yet) → CONFLICT CALLBACK_NOT_RINGING', () =>
    given([bookedB(), started()]).when(report(1, 'ANSWERED', 15)).then({ error: 'CONFLICT', reason: 'CALLBACK_NOT_RINGING' }));
  it('answered after ringsUntil → CONFLICT CALLBACK_NOT_RINGING', () =>
    given([bookedB(), started(), rung()]).when(report(1, 'ANSWERED', 51)).then({ error: 'CONFLICT', reason: 'CALLBACK_NOT_RINGING' }));
  it('not answered (timeout or declined) → CallbackAttemptFailed NO_ANSWER, the next try 5 minutes later', () =>
    given([bookedB(), started(), rung()]).when(report(1, 'NO_ANSWER', 40)).then([failed(1, 40)]));
  it('the next try rings again, with its own deadline', () => {
    const state = stateAfter(callbackDecider, [bookedB(), started(), rung(), failed(1, 50), started(2, 400)]);
    assert.equal(state.status === 'Attempting' ? state.current.ringsUntil : 'not attempting', null, 'a new try starts not ringing');
    given([bookedB(), started(), rung(), failed(1, 50), started(2, 400)]).when(ring(2, 410)).then([rung(2, 410)]);
  });
});
