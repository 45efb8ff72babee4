/**
 * The estimated wait a queued shopper sees ("you are 3rd, about 2 minutes"), as pure functions of a
 * center's recent handle times (issue 25).
 *
 * A handle time is what an agent of the center spent on one answered call: from CallAnswered to
 * CallTerminated (talkMsBetween, the same span billing rates). Each center keeps the last
 * HANDLE_TIME_WINDOW of them, newest last (`pushHandleTime`: the row step a projection applies);
 * `handleTimesFold` builds the windows of every center from the calls' events in store order.
 *
 * The estimate: while a call waits, every slot of the center is busy, and each slot frees about once
 * per handle time. The call at position p is served when p slots have freed, i.e. after about
 * ceil(p / capacity) rounds of one handle time each:
 *
 *   estimate = ceil(position / capacity) × median(window)          (rounded up to whole seconds)
 *
 * The median, not the mean, so that one 40-minute call does not move every estimate. With no history
 * yet (a new center), DEFAULT_HANDLE_SECONDS stands in and the answer says so (`basis: 'DEFAULT'`).
 * It is a guess shown as "about": it ignores how far the current calls have got, which makes it err
 * long by up to one handle time for the first `capacity` positions.
 */
import type { Fold } from '../shared/decider';
import { talkMsBetween } from '../call/call';
import type { CallEvent } from '../call/events';

/** How many recent handle times per center the estimate looks at. */
export const HANDLE_TIME_WINDOW = 20;
/** The handle time assumed before a center has any history: 3 minutes. */
export const DEFAULT_HANDLE_SECONDS = 180;

export interface WaitEstimate {
  seconds: number;
  /** HISTORY: the median of `samples` handle times; DEFAULT: no history yet. */
  basis: 'HISTORY' | 'DEFAULT';
  samples: number;
}

/** The window after one more handle time: the newest last, the oldest dropped beyond `size`. */
export const pushHandleTime = (window: readonly number[], handleMs: number, size = HANDLE_TIME_WINDOW): number[] => {
  const next = [...window, Math.max(0, handleMs)];
  return next.length > size ? next.slice(next.length - size) : next;
};

/** The median of a non-empty list (the mean of the middle two for an even count). */
export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * The estimated wait of the call at `position` (1-based) in the queue of a center with `capacity`
 * slots, from its recent handle times (ms). A position below 1 (not waiting) waits 0 seconds.
 */
export const estimateWait = (position: number, handleTimesMs: readonly number[], capacity: number): WaitEstimate => {
  const samples = handleTimesMs.length;
  const basis = samples > 0 ? 'HISTORY' : 'DEFAULT';
  if (!(position >= 1)) return { seconds: 0, basis, samples };
  const handleMs = samples > 0 ? median(handleTimesMs) : DEFAULT_HANDLE_SECONDS * 1000;
  const rounds = Math.ceil(Math.floor(position) / Math.max(1, Math.floor(capacity) || 1));
  return { seconds: Math.ceil((rounds * handleMs) / 1000), basis, samples };
};

/** Every center's recent handle times, and the calls in progress whose end will add one. */
export interface HandleTimes {
  /** Calls routed to a center and not ended yet: where they went, and when they were answered. */
  inFlight: Readonly<Record<string, { callCenterId: string; answeredAt: string | null }>>;
  /** Per center, the last HANDLE_TIME_WINDOW handle times in ms, newest last. */
  byCenter: Readonly<Record<string, readonly number[]>>;
}

const withoutCall = (inFlight: HandleTimes['inFlight'], callId: string): HandleTimes['inFlight'] => {
  const { [callId]: _gone, ...rest } = inFlight;
  return rest;
};

const evolve = (state: HandleTimes, event: CallEvent): HandleTimes => {
  switch (event.type) {
    case 'CallInitiated':
    case 'InboundCallReceived':
    case 'CallbackCallPlaced':
      return { ...state, inFlight: { ...state.inFlight, [event.data.callId]: { callCenterId: event.data.callCenterId, answeredAt: null } } };
    case 'CallAnswered': {
      const call = state.inFlight[event.data.callId];
      if (!call || call.answeredAt !== null) return state;
      return { ...state, inFlight: { ...state.inFlight, [event.data.callId]: { ...call, answeredAt: event.data.at } } };
    }
    case 'CallTerminated': {
      const call = state.inFlight[event.data.callId];
      if (!call) return state;
      const inFlight = withoutCall(state.inFlight, event.data.callId);
      const handleMs = talkMsBetween(call.answeredAt, event.data.at);
      if (handleMs === null) return { ...state, inFlight };
      return { inFlight, byCenter: { ...state.byCenter, [call.callCenterId]: pushHandleTime(state.byCenter[call.callCenterId] ?? [], handleMs) } };
    }
    default:
      return state;
  }
};

/** The handle-time windows of every center, folded from the calls' events in store order. */
export const handleTimesFold: Fold<HandleTimes, CallEvent> = { name: 'handle-times@1', evolve, initialState: { inFlight: {}, byCenter: {} } };
