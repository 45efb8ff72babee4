/**
 * A callback promise (issue 25): one stream per callback (`callback-<callbackId>`, ../shared/streams.ts callbackStreamId),
 * decided here, purely. Time, the center's hours, the merchant's allowed countries and the recent
 * bookings arrive on the commands.
 *
 *   BookCallback ──► CallbackBooked (Pending) ──StartCallbackAttempt──► CallbackAttemptStarted (Attempting)
 *     Attempting ──ReportCallbackAttempt(ANSWERED)──► CallbackCompleted (Done)
 *     Attempting ──ReportCallbackAttempt(other)───► CallbackAttemptFailed (Pending, next try due)
 *                                                    └ the last try: + CallbackFailed (Failed)
 *     Pending | Attempting ──CancelCallback──► CallbackCancelled (Cancelled)
 *
 * When: NOW (the center must be open now), AGENT_FREE (placed when an agent is free, after the center
 * opens if it is closed) or AT an instant inside the center's opening hours, at most
 * BOOKING_HORIZON_DAYS ahead. To: a PHONE number (./callback-number.ts) or the shopper's BROWSER (the
 * click's call, while its page stays open).
 *
 * The retry policy (CALLBACK_RETRY_POLICY, copied onto CallbackBooked so that a promise keeps the
 * policy it was made under): at most 3 tries; a failed try (no answer, busy, failed, no agent) makes
 * the next one due 5 minutes after the failure was reported; the third failure fails the callback.
 * A try is only started inside the center's opening hours: one due while it is closed waits for it to open.
 *
 * Stable codes, in `extensions.reason` beside `extensions.code`:
 *   CALLBACK_NUMBER_INVALID, CALLBACK_PREMIUM_RATE, CALLBACK_COUNTRY_NOT_ALLOWED (BAD_USER_INPUT): the number;
 *   CALLBACK_OUTSIDE_HOURS (BAD_USER_INPUT on booking; CONFLICT on a try): the center is closed then;
 *   CALLBACK_TIME_INVALID (BAD_USER_INPUT): an AT in the past or beyond the horizon;
 *   CALLBACK_RATE_LIMITED (RATE_LIMITED, with retryAfterSeconds): ./rate-limit.ts;
 *   CALLBACK_EXISTS (CONFLICT): the id is booked with other terms;
 *   CALLBACK_NOT_DUE, CALLBACK_ATTEMPT_IN_PROGRESS, CALLBACK_CLOSED, CALLBACK_NO_SUCH_ATTEMPT (CONFLICT).
 *
 * Idempotency: the same booking again, the same try started again, a try's outcome reported again,
 * and a cancel of a cancelled callback decide []. A late outcome of a try after a cancel decides [].
 */
import type { Decider, DomainEvent } from '../shared/decider';
import { unreachable } from '../shared/decider';
import { badInput, notFound, refusal } from '../shared/errors';
import { assertInstant, assertNonEmpty } from '../shared/validation';
import type { CallCenterKind, OpeningHours } from '../merchant/events';
import { isOpenAt } from '../routing/routing';
import { assertCallbackNumber } from './callback-number';
import { checkCallbackRate, clientKeyOf, type BookingRecord } from './rate-limit';


/**
 * Whether callbacks are placed from a center of this kind: every kind, agent first. A BROWSER center's
 * try rings in its consoles, an agent answers there, then the shopper is dialled; a PSTN center's try
 * dials the center's number, and once its agent answers, the shopper is dialled as a second phone leg
 * of the same call (docs/queues-callbacks-transfer.md). Booking, the scheduler and a queue's
 * time-out (CALLBACK_OFFER) all ask this one rule; it stays a rule so that a kind added later must say.
 */
export const callsBack = (center: { kind: CallCenterKind }): boolean => center.kind === 'BROWSER' || center.kind === 'PSTN';

/** How a failed callback is tried again: data, documented in docs/queues-callbacks-transfer.md. */
export interface RetryPolicy {
  maxAttempts: number;
  /** From a failed try's report to the earliest start of the next. */
  spacingSeconds: number;
}
export const CALLBACK_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, spacingSeconds: 300 };

/** How far ahead an AT callback may be booked. */
export const BOOKING_HORIZON_DAYS = 7;

export type CallbackTarget = { kind: 'PHONE'; number: string } | { kind: 'BROWSER'; callId: string };
export type CallbackWhen = { kind: 'NOW' } | { kind: 'AGENT_FREE' } | { kind: 'AT'; at: string };
/** How a try ended: ANSWERED (the shopper answered and was bridged to an agent) or why not. */
export type AttemptOutcome = 'ANSWERED' | 'NO_ANSWER' | 'BUSY' | 'FAILED' | 'NO_AGENT';
export type CancelledBy = 'SHOPPER' | 'MERCHANT' | 'SYSTEM';

/** A center's clock and hours, as the commands carry them (the merchant's CallCenterState has both). */
export interface CenterHours {
  timeZone: string;
  weeklyHours: OpeningHours[] | null;
}

export type CallbackBooked = DomainEvent<
  'CallbackBooked',
  {
    callbackId: string;
    merchantId: string;
    callCenterId: string;
    /** The click the shopper booked it from (its context, page and cart go on the screen pop); null: none. */
    originCallId: string | null;
    target: CallbackTarget;
    when: CallbackWhen;
    /** The earliest instant of the first try: the booking's for NOW and AGENT_FREE, `when.at` for AT. */
    dueAt: string;
    retry: RetryPolicy;
    /** The client address's rate-limit key (./rate-limit.ts clientKeyOf), not the address itself. */
    clientKey: string;
    at: string;
  }
>;
/**
 * Every event after the booking repeats `originCallId` (null: booked from no call), so that each names the
 * call it concerns on its own (src/domain/call-feed.ts: the call's followers see its callbacks).
 */
export type CallbackAttemptStarted = DomainEvent<'CallbackAttemptStarted', { callbackId: string; originCallId: string | null; attempt: number; callId: string; at: string }>;
export type CallbackAttemptFailed = DomainEvent<
  'CallbackAttemptFailed',
  { callbackId: string; originCallId: string | null; attempt: number; outcome: Exclude<AttemptOutcome, 'ANSWERED'>; nextAttemptAt: string | null; at: string }
>;
export type CallbackCompleted = DomainEvent<'CallbackCompleted', { callbackId: string; originCallId: string | null; attempt: number; callId: string; at: string }>;
export type CallbackFailed = DomainEvent<'CallbackFailed', { callbackId: string; originCallId: string | null; attempts: number; at: string }>;
export type CallbackCancelled = DomainEvent<'CallbackCancelled', { callbackId: string; originCallId: string | null; by: CancelledBy; at: string }>;
/**
 * A BROWSER callback's try reaches the shopper (an agent answered the try's call): the page that booked
 * it rings ("We are calling you back — Answer") until `ringsUntil`. The shopper's answer reports the try
 * ANSWERED until then; past it, the scheduler ends the try's call (NO_ANSWER).
 */
export type CallbackBrowserRung = DomainEvent<'CallbackBrowserRung', { callbackId: string; originCallId: string | null; attempt: number; callId: string; ringsUntil: string; at: string }>;
export type CallbackEvent = CallbackBooked | CallbackAttemptStarted | CallbackAttemptFailed | CallbackCompleted | CallbackFailed | CallbackCancelled | CallbackBrowserRung;

export const CALLBACK_EVENT_TYPES: ReadonlyArray<CallbackEvent['type']> = [
  'CallbackBooked',
  'CallbackAttemptStarted',
  'CallbackAttemptFailed',
  'CallbackCompleted',
  'CallbackFailed',
  'CallbackCancelled',
  'CallbackBrowserRung',
];

/** What a booking is decided against, gathered by the application from other streams and read models. */
export interface BookingFacts {
  center: CenterHours;
  /** The merchant's allowed callback prefixes ("+33", "+1416"); null: every country. */
  allowedPrefixes: readonly string[] | null;
  /** Bookings of the last hour for this number and this client (a read model of CallbackBooked). */
  recentBookings: readonly BookingRecord[];
}

export type BookCallback = {
  type: 'BookCallback';
  data: Omit<CallbackBooked['data'], 'dueAt' | 'retry' | 'clientKey'> & { clientAddress: string; facts: BookingFacts };
};
/** The scheduler places a try: `callId` is the outbound call (or the browser call) it dials. */
export type StartCallbackAttempt = { type: 'StartCallbackAttempt'; data: { callbackId: string; callId: string; center: CenterHours; at: string } };
export type ReportCallbackAttempt = { type: 'ReportCallbackAttempt'; data: { callbackId: string; attempt: number; outcome: AttemptOutcome; at: string } };
export type CancelCallback = { type: 'CancelCallback'; data: { callbackId: string; by: CancelledBy; at: string } };
/** An agent answered a BROWSER try's call: the shopper's page rings for `ringingTimeoutSeconds` (1…3600, the config's range). */
export type RingBrowser = { type: 'RingBrowser'; data: { callbackId: string; attempt: number; ringingTimeoutSeconds: number; at: string } };
export type CallbackCommand = BookCallback | StartCallbackAttempt | ReportCallbackAttempt | CancelCallback | RingBrowser;

interface BookedCallback {
  callbackId: string;
  merchantId: string;
  originCallId: string | null;
  callCenterId: string;
  target: CallbackTarget;
  when: CallbackWhen;
  retry: RetryPolicy;
  /** Tries started so far. */
  attempts: number;
  /** The earliest start of the next try. */
  nextAttemptAt: string;
}

export type CallbackState =
  | { status: 'Absent' }
  | (BookedCallback & { status: 'Pending' })
  /** `ringsUntil`: a BROWSER try ringing the shopper's page (CallbackBrowserRung), else null. */
  | (BookedCallback & { status: 'Attempting'; current: { attempt: number; callId: string; ringsUntil: string | null } })
  | (BookedCallback & { status: 'Done' | 'Failed' | 'Cancelled' });

export const initialCallbackState: CallbackState = { status: 'Absent' };

export const isTerminal = (state: CallbackState): boolean => state.status === 'Done' || state.status === 'Failed' || state.status === 'Cancelled';

const OUTCOMES: readonly string[] = ['ANSWERED', 'NO_ANSWER', 'BUSY', 'FAILED', 'NO_AGENT'];
const CANCELLERS: readonly string[] = ['SHOPPER', 'MERCHANT', 'SYSTEM'];

const assertTarget = (target: CallbackTarget, allowedPrefixes: readonly string[] | null): CallbackTarget => {
  if (target?.kind === 'PHONE') return { kind: 'PHONE', number: assertCallbackNumber(target.number, allowedPrefixes) };
  if (target?.kind === 'BROWSER') {
    assertNonEmpty(target.callId, 'target.callId');
    return { kind: 'BROWSER', callId: target.callId };
  }
  throw badInput('target is a PHONE number or the BROWSER of a call', { field: 'target' });
};

/** When the first try is due; BAD_USER_INPUT when the center is closed then (AGENT_FREE waits for it to open). */
const dueAtOf = (when: CallbackWhen, center: CenterHours, at: number): string => {
  const closed = (t: number) => refusal('BAD_USER_INPUT', 'CALLBACK_OUTSIDE_HOURS', `the call center is closed at ${new Date(t).toISOString()} (${center.timeZone})`, { field: 'when' });
  switch (when?.kind) {
    case 'NOW':
      if (!isOpenAt(center, new Date(at))) throw closed(at);
      return new Date(at).toISOString();
    case 'AGENT_FREE':
      return new Date(at).toISOString();
    case 'AT': {
      const t = assertInstant(when.at, 'when.at');
      if (t < at || t > at + BOOKING_HORIZON_DAYS * 86_400_000)
        throw refusal('BAD_USER_INPUT', 'CALLBACK_TIME_INVALID', `a callback time is from now to ${BOOKING_HORIZON_DAYS} days ahead`, { field: 'when' });
      if (!isOpenAt(center, new Date(t))) throw closed(t);
      return new Date(t).toISOString();
    }
    default:
      throw badInput('when is NOW, AGENT_FREE or AT an instant', { field: 'when' });
  }
};

/** The terms that make two bookings of one id the same booking. */
const termsOf = (d: { merchantId: string; callCenterId: string; target: CallbackTarget; when: CallbackWhen }) =>
  JSON.stringify([d.merchantId, d.callCenterId, d.target, d.when?.kind === 'AT' ? Date.parse(d.when.at) : d.when?.kind]);

const existing = (state: CallbackState, callbackId: string): Exclude<CallbackState, { status: 'Absent' }> => {
  if (state.status === 'Absent') throw notFound('callback', callbackId);
  return state;
};

const closedRefusal = (status: string) => refusal('CONFLICT', 'CALLBACK_CLOSED', `the callback is ${status.toUpperCase()}`, { status: status.toUpperCase() });

/** A try already reported, or ended by a cancel: a late or repeated step changes nothing; a try never started is refused. */
const lateOrUnknown = (s: Exclude<CallbackState, { status: 'Absent' }>, callbackId: string, attempt: number): CallbackEvent[] => {
  const started = s.status === 'Attempting' ? s.current.attempt - 1 : s.attempts;
  if (Number.isInteger(attempt) && attempt >= 1 && attempt <= started) return [];
  throw refusal('CONFLICT', 'CALLBACK_NO_SUCH_ATTEMPT', `callback ${callbackId} has no try ${attempt} in progress`, { attempt });
};

const decide = (command: CallbackCommand, state: CallbackState): CallbackEvent[] => {
  switch (command.type) {
    case 'BookCallback': {
      const { facts, clientAddress, ...d } = command.data;
      const at = assertInstant(d.at);
      for (const f of ['callbackId', 'merchantId', 'callCenterId'] as const) assertNonEmpty(d[f], f);
      if (d.originCallId !== null) assertNonEmpty(d.originCallId, 'originCallId');
      assertNonEmpty(clientAddress, 'clientAddress');
      if (state.status !== 'Absent') {
        if (termsOf(state) === termsOf(d)) return [];
        throw refusal('CONFLICT', 'CALLBACK_EXISTS', `callback ${d.callbackId} is already booked with other terms`);
      }
      const target = assertTarget(d.target, facts.allowedPrefixes);
      const dueAt = dueAtOf(d.when, facts.center, at);
      const clientKey = clientKeyOf(clientAddress);
      const rate = checkCallbackRate(facts.recentBookings, { number: target.kind === 'PHONE' ? target.number : null, clientKey, at: d.at });
      if (!rate.ok)
        throw refusal('RATE_LIMITED', 'CALLBACK_RATE_LIMITED', `at most ${rate.limit} callbacks per ${rate.scope === 'NUMBER' ? 'number' : 'client'} an hour; try again in ${rate.retryAfterSeconds} s`, {
          scope: rate.scope,
          retryAfterSeconds: rate.retryAfterSeconds,
        });
      const when: CallbackWhen = d.when.kind === 'AT' ? { kind: 'AT', at: dueAt } : { kind: d.when.kind };
      return [{ type: 'CallbackBooked', data: { callbackId: d.callbackId, merchantId: d.merchantId, callCenterId: d.callCenterId, originCallId: d.originCallId, target, when, dueAt, retry: { ...CALLBACK_RETRY_POLICY }, clientKey, at: d.at } }];
    }
    case 'StartCallbackAttempt': {
      const d = command.data;
      const at = assertInstant(d.at);
      assertNonEmpty(d.callId, 'callId');
      const s = existing(state, d.callbackId);
      if (s.status === 'Attempting') {
        if (s.current.callId === d.callId) return [];
        throw refusal('CONFLICT', 'CALLBACK_ATTEMPT_IN_PROGRESS', `try ${s.current.attempt} of callback ${d.callbackId} is in progress`, { attempt: s.current.attempt });
      }
      if (s.status !== 'Pending') throw closedRefusal(s.status);
      if (at < Date.parse(s.nextAttemptAt)) throw refusal('CONFLICT', 'CALLBACK_NOT_DUE', `the next try of callback ${d.callbackId} is due at ${s.nextAttemptAt}`, { nextAttemptAt: s.nextAttemptAt });
      if (!isOpenAt(d.center, new Date(at))) throw refusal('CONFLICT', 'CALLBACK_OUTSIDE_HOURS', 'the call center is closed: the try waits for it to open');
      return [{ type: 'CallbackAttemptStarted', data: { callbackId: d.callbackId, originCallId: s.originCallId, attempt: s.attempts + 1, callId: d.callId, at: d.at } }];
    }
    case 'ReportCallbackAttempt': {
      const d = command.data;
      const at = assertInstant(d.at);
      if (!OUTCOMES.includes(d.outcome)) throw badInput(`outcome must be one of ${OUTCOMES.join(', ')}`, { field: 'outcome' });
      const s = existing(state, d.callbackId);
      if (s.status === 'Attempting' && s.current.attempt === d.attempt) {
        // A browser answers only while its page rings (the agent answered first, and not past the ringing).
        if (d.outcome === 'ANSWERED' && s.target.kind === 'BROWSER' && (s.current.ringsUntil === null || at > Date.parse(s.current.ringsUntil)))
          throw refusal('CONFLICT', 'CALLBACK_NOT_RINGING', `try ${d.attempt} of callback ${d.callbackId} is not ringing this browser`, { attempt: d.attempt });
        if (d.outcome === 'ANSWERED') return [{ type: 'CallbackCompleted', data: { callbackId: d.callbackId, originCallId: s.originCallId, attempt: d.attempt, callId: s.current.callId, at: d.at } }];
        const last = d.attempt >= s.retry.maxAttempts;
        const nextAttemptAt = last ? null : new Date(at + s.retry.spacingSeconds * 1000).toISOString();
        const failed: CallbackEvent = { type: 'CallbackAttemptFailed', data: { callbackId: d.callbackId, originCallId: s.originCallId, attempt: d.attempt, outcome: d.outcome, nextAttemptAt, at: d.at } };
        return last ? [failed, { type: 'CallbackFailed', data: { callbackId: d.callbackId, originCallId: s.originCallId, attempts: d.attempt, at: d.at } }] : [failed];
      }
      return lateOrUnknown(s, d.callbackId, d.attempt);
    }
    case 'RingBrowser': {
      const d = command.data;
      const at = assertInstant(d.at);
      if (!Number.isInteger(d.ringingTimeoutSeconds) || d.ringingTimeoutSeconds < 1 || d.ringingTimeoutSeconds > 3600) throw badInput('ringingTimeoutSeconds is 1…3600', { field: 'ringingTimeoutSeconds' });
      const s = existing(state, d.callbackId);
      if (s.target.kind !== 'BROWSER') throw badInput('only a callback to the browser rings it', { field: 'target' });
      if (s.status === 'Attempting' && s.current.attempt === d.attempt) {
        if (s.current.ringsUntil !== null) return []; // the agent's answer seen again (a replay)
        const ringsUntil = new Date(at + d.ringingTimeoutSeconds * 1000).toISOString();
        return [{ type: 'CallbackBrowserRung', data: { callbackId: d.callbackId, originCallId: s.originCallId, attempt: d.attempt, callId: s.current.callId, ringsUntil, at: d.at } }];
      }
      return lateOrUnknown(s, d.callbackId, d.attempt);
    }
    case 'CancelCallback': {
      const d = command.data;
      assertInstant(d.at);
      if (!CANCELLERS.includes(d.by)) throw badInput(`by must be one of ${CANCELLERS.join(', ')}`, { field: 'by' });
      const s = existing(state, d.callbackId);
      if (s.status === 'Cancelled') return [];
      if (s.status === 'Done' || s.status === 'Failed') throw closedRefusal(s.status);
      return [{ type: 'CallbackCancelled', data: { callbackId: d.callbackId, originCallId: s.originCallId, by: d.by, at: d.at } }];
    }
    default:
      return unreachable(command);
  }
};

const promiseOf = (state: CallbackState): BookedCallback | null => {
  if (state.status === 'Absent') return null;
  const { callbackId, merchantId, originCallId, callCenterId, target, when, retry, attempts, nextAttemptAt } = state;
  return { callbackId, merchantId, originCallId, callCenterId, target, when, retry, attempts, nextAttemptAt };
};

const evolve = (state: CallbackState, event: CallbackEvent): CallbackState => {
  if (event.type === 'CallbackBooked') {
    const d = event.data;
    return { status: 'Pending', callbackId: d.callbackId, merchantId: d.merchantId, originCallId: d.originCallId, callCenterId: d.callCenterId, target: d.target, when: d.when, retry: d.retry, attempts: 0, nextAttemptAt: d.dueAt };
  }
  const p = promiseOf(state);
  if (p === null) return state;
  switch (event.type) {
    case 'CallbackAttemptStarted':
      return { ...p, status: 'Attempting', attempts: Math.max(p.attempts, event.data.attempt), current: { attempt: event.data.attempt, callId: event.data.callId, ringsUntil: null } };
    case 'CallbackBrowserRung':
      if (state.status !== 'Attempting' || state.current.attempt !== event.data.attempt) return state;
      return { ...state, current: { ...state.current, ringsUntil: event.data.ringsUntil } };
    case 'CallbackAttemptFailed':
      return { ...p, status: 'Pending', nextAttemptAt: event.data.nextAttemptAt ?? p.nextAttemptAt };
    case 'CallbackCompleted':
      return { ...p, status: 'Done' };
    case 'CallbackFailed':
      return { ...p, status: 'Failed' };
    case 'CallbackCancelled':
      return { ...p, status: 'Cancelled' };
    default:
      return unreachable(event);
  }
};

export const callbackDecider: Decider<CallbackState, CallbackCommand, CallbackEvent> = {
  name: 'callback@1',
  decide,
  evolve,
  initialState: initialCallbackState,
  isTerminal,
  merchantOf: (state) => (state.status === 'Absent' ? null : state.merchantId),
};
