/**
 * Timeouts as events (issue 5 §5), derived purely from the call's state, itself folded from the stored
 * events. A scheduler (outside the domain) asks `nextDeadline` after each event and, when the instant
 * comes, asks `dueTimeout` and sends TerminateCall with the cause (by SYSTEM). Because the deadline is a
 * function of stored events only, a restarted process finds the same deadlines (nothing lost), and
 * because terminate is idempotent a timer that fires twice, or races a hang-up, stores one CallTerminated.
 *
 * Deadlines:
 *   DOWNLOADED  downloadedAt + abandonAfterMs   → ABANDONED   (the widget never placed the call)
 *   INITIATED   initiatedAt  + ringingTimeoutMs → FAILED, reason TRUNK_NO_RESPONSE (no 180 and no 200:
 *                                                  the line was never reached; issue 22: it was NO_ANSWER)
 *   RINGING     ringingAt    + ringingTimeoutMs → NO_ANSWER   (rang too long)
 *   ANSWERED    answeredAt   + maxDurationMs    → MAX_DURATION
 *   TERMINATED / absent: none.
 */
import type { FailureReason, TerminationCause } from './events';
import type { CallDeciderState } from './call';
import { unreachable } from '../shared/decider';
import { badInput } from '../shared/errors';
import { collectorDeadline, DEFAULT_COLLECTOR_OPTIONS, replayDtmf, type CollectorOptions, type DtmfTable } from './dtmf-collector';

export interface TimeoutLimits {
  abandonAfterMs: number;
  ringingTimeoutMs: number;
  maxDurationMs: number;
}

export type TimeoutCause = Extract<TerminationCause, 'ABANDONED' | 'NO_ANSWER' | 'MAX_DURATION' | 'FAILED'>;

export interface Deadline {
  cause: TimeoutCause;
  /** Why, for FAILED (CallTerminated.reason); null otherwise. */
  reason: FailureReason | null;
  dueAt: Date;
}

const after = (iso: string, ms: number): Date => new Date(Date.parse(iso) + ms);

const assertLimits = (limits: TimeoutLimits): void => {
  for (const [field, v] of Object.entries(limits))
    if (!Number.isInteger(v) || v < 0) throw badInput(`${field} must be a non-negative integer of milliseconds`, { field });
};

/** The pending timeout of the call's current stage, due or not; null when none applies. */
export const pendingTimeout = (state: CallDeciderState, limits: TimeoutLimits): Deadline | null => {
  assertLimits(limits);
  switch (state.status) {
    case 'Absent':
    case 'Terminated':
      return null;
    case 'Downloaded':
      return { cause: 'ABANDONED', reason: null, dueAt: after(state.downloadedAt, limits.abandonAfterMs) };
    case 'Initiated':
      // Nothing came back from the line, not even a 180: it was not reached (a dead trunk), which
      // no agent could have answered.
      return { cause: 'FAILED', reason: 'TRUNK_NO_RESPONSE', dueAt: after(state.initiatedAt, limits.ringingTimeoutMs) };
    case 'Ringing':
      return { cause: 'NO_ANSWER', reason: null, dueAt: after(state.ringingAt, limits.ringingTimeoutMs) };
    case 'Answered':
      return { cause: 'MAX_DURATION', reason: null, dueAt: after(state.answeredAt, limits.maxDurationMs) };
    default:
      return unreachable(state);
  }
};

/** When the scheduler should next look at this call; null when no timer is needed. */
export const nextDeadline = (state: CallDeciderState, limits: TimeoutLimits): Date | null => pendingTimeout(state, limits)?.dueAt ?? null;

/** The timeout that has fallen due by `now` (inclusive), or null. */
export const dueTimeout = (state: CallDeciderState, now: Date, limits: TimeoutLimits): Deadline | null => {
  const pending = pendingTimeout(state, limits);
  return pending !== null && now.getTime() >= pending.dueAt.getTime() ? pending : null;
};

/**
 * When a RecognizeDtmf must be sent so that a sequence only the inter-digit timeout can end ("#NN",
 * or "*7" while "*76" exists) is acted upon without waiting for another digit; null when nothing
 * buffered would mean anything (an incomplete buffer is simply dropped by the next digit).
 */
export const dtmfDeadline = (state: CallDeciderState, table: DtmfTable, options: CollectorOptions = DEFAULT_COLLECTOR_OPTIONS): Date | null => {
  if (state.status !== 'Answered') return null;
  const { state: collector } = replayDtmf(state.dtmf.reports, table, options);
  return collector.onEnd === null ? null : collectorDeadline(collector, options);
};
