import type { CallbackEvent } from '../../domain/callback/callback';
import { unreachable } from '../../domain/shared/decider';
import { iso, num, strOrNull } from '../../adapters/sql/values';
import type { View } from '../engine/projection-of';

/** A callback's status as the API spells it. */
export type CallbackStatus = 'PENDING' | 'ATTEMPTING' | 'DONE' | 'FAILED' | 'CANCELLED';

/**
 * One callback promise (cb_callbacks, issue 25): who booked it for which center, whom it calls, where
 * it stands. What the dashboard lists, what the booking's hourly limit counts (number, client key,
 * booked_at) and what the scheduler follows (status, next_attempt_at).
 */
export type CallbackRow = {
  id: string;
  merchant_id: string;
  call_center_id: string;
  origin_call_id: string | null;
  /** PHONE or BROWSER. */
  target_kind: string;
  /** The number called back (PHONE); null for BROWSER. */
  number: string | null;
  /** The browser call a BROWSER callback rings; null for PHONE. */
  target_call_id: string | null;
  client_key: string;
  /** NOW, AGENT_FREE or AT. */
  when_kind: string;
  due_at: string;
  status: CallbackStatus;
  attempts: number;
  max_attempts: number;
  /** When the next try may start (PENDING); null once it is closed. */
  next_attempt_at: string | null;
  /** The call of the try in progress, else of the last try. */
  call_id: string | null;
  /** ANSWERED, NO_ANSWER, BUSY, FAILED or NO_AGENT: how the last try ended; CANCELLED_BY_<WHO> after a cancel. */
  last_outcome: string | null;
  booked_at: string;
  updated_at: string;
};

export const callbackView: View<CallbackRow, CallbackEvent> = {
  // Not 'callback@1': the command handler caches folds by name, and that is the decider's.
  name: 'callback-row@1',
  initialState: null,
  handles: new Set<CallbackEvent['type']>(['CallbackBooked', 'CallbackAttemptStarted', 'CallbackAttemptFailed', 'CallbackCompleted', 'CallbackFailed', 'CallbackCancelled', 'CallbackBrowserRung']),
  creates: new Set<CallbackEvent['type']>(['CallbackBooked']),
  evolve: (row, event) => {
    if (event.type === 'CallbackBooked') {
      const d = event.data;
      return {
        id: d.callbackId,
        merchant_id: d.merchantId,
        call_center_id: d.callCenterId,
        origin_call_id: d.originCallId,
        target_kind: d.target.kind,
        number: d.target.kind === 'PHONE' ? d.target.number : null,
        target_call_id: d.target.kind === 'BROWSER' ? d.target.callId : null,
        client_key: d.clientKey,
        when_kind: d.when.kind,
        due_at: iso(d.dueAt),
        status: 'PENDING',
        attempts: 0,
        max_attempts: d.retry.maxAttempts,
        next_attempt_at: iso(d.dueAt),
        call_id: null,
        last_outcome: null,
        booked_at: iso(d.at),
        updated_at: iso(d.at),
      };
    }
    if (row === null) return null;
    const updated_at = iso(event.data.at);
    switch (event.type) {
      case 'CallbackAttemptStarted':
        return { ...row, status: 'ATTEMPTING', attempts: Math.max(row.attempts, event.data.attempt), call_id: event.data.callId, updated_at };
      case 'CallbackAttemptFailed':
        return { ...row, status: 'PENDING', last_outcome: event.data.outcome, next_attempt_at: event.data.nextAttemptAt === null ? null : iso(event.data.nextAttemptAt), updated_at };
      case 'CallbackCompleted':
        return { ...row, status: 'DONE', last_outcome: 'ANSWERED', next_attempt_at: null, updated_at };
      case 'CallbackFailed':
        return { ...row, status: 'FAILED', next_attempt_at: null, updated_at };
      case 'CallbackBrowserRung':
        // The shopper's page rings (the decider's state says until when; the row only moves on).
        return { ...row, updated_at };
      case 'CallbackCancelled':
        return { ...row, status: 'CANCELLED', last_outcome: `CANCELLED_BY_${event.data.by}`, next_attempt_at: null, updated_at };
      default:
        return unreachable(event);
    }
  },
};

/** A callback as the API shows it (the number in full: the caller masks it for a public answer). */
export interface CallbackListView {
  id: string;
  merchantId: string;
  callCenterId: string;
  originCallId: string | null;
  targetKind: 'PHONE' | 'BROWSER';
  number: string | null;
  whenKind: 'NOW' | 'AGENT_FREE' | 'AT';
  dueAt: string;
  status: CallbackStatus;
  attempts: number;
  maxAttempts: number;
  nextAttemptAt: string | null;
  callId: string | null;
  lastOutcome: string | null;
  bookedAt: string;
  updatedAt: string;
}

/** A row (as folded, or as read back from cb_callbacks) as the API's callback. */
export const toCallbackView = (r: Record<string, unknown> | CallbackRow): CallbackListView => ({
  id: String(r.id),
  merchantId: String(r.merchant_id),
  callCenterId: String(r.call_center_id),
  originCallId: strOrNull(r.origin_call_id),
  targetKind: r.target_kind === 'BROWSER' ? 'BROWSER' : 'PHONE',
  number: strOrNull(r.number),
  whenKind: String(r.when_kind) as CallbackListView['whenKind'],
  dueAt: String(r.due_at),
  status: String(r.status) as CallbackStatus,
  attempts: num(r.attempts),
  maxAttempts: num(r.max_attempts),
  nextAttemptAt: strOrNull(r.next_attempt_at),
  callId: strOrNull(r.call_id),
  lastOutcome: strOrNull(r.last_outcome),
  bookedAt: String(r.booked_at),
  updatedAt: String(r.updated_at),
});

