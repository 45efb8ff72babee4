import { describe, it } from 'node:test';
import type { CallbackEvent } from '../../domain/callback/callback';
import { viewSpecFor } from '../testing/view-spec';
import { callbackView, type CallbackRow } from './view';

const at = '2026-11-20T09:00:00.000Z';
const later = '2026-11-20T09:05:00.000Z';
const booked: CallbackEvent = {
  type: 'CallbackBooked',
  data: { callbackId: 'cb1', merchantId: 'm1', callCenterId: 'cc1', originCallId: 'c1', target: { kind: 'PHONE', number: '+33612345678' }, when: { kind: 'NOW' }, dueAt: at, retry: { maxAttempts: 3, spacingSeconds: 300 }, clientKey: '203.0.113.7', at },
};
const started = (attempt: number, callId: string): CallbackEvent => ({ type: 'CallbackAttemptStarted', data: { callbackId: 'cb1', originCallId: 'c1', attempt, callId, at: later } });
const row: CallbackRow = {
  id: 'cb1',
  merchant_id: 'm1',
  call_center_id: 'cc1',
  origin_call_id: 'c1',
  target_kind: 'PHONE',
  number: '+33612345678',
  target_call_id: null,
  client_key: '203.0.113.7',
  when_kind: 'NOW',
  due_at: at,
  status: 'PENDING',
  attempts: 0,
  max_attempts: 3,
  next_attempt_at: at,
  call_id: null,
  last_outcome: null,
  booked_at: at,
  updated_at: at,
};
const given = viewSpecFor(callbackView);

describe('callbacks read model (issue 25): one row per callback', () => {
  it('a booking creates the row, PENDING, due at once', () => given([]).when(booked).then(row));
  it('a try → ATTEMPTING with its call', () => given([booked]).when(started(1, 'c2')).then({ ...row, status: 'ATTEMPTING', attempts: 1, call_id: 'c2', updated_at: later }));
  it('a failed try → PENDING, its outcome and the next try', () =>
    given([booked, started(1, 'c2')])
      .when({ type: 'CallbackAttemptFailed', data: { callbackId: 'cb1', originCallId: 'c1', attempt: 1, outcome: 'NO_ANSWER', nextAttemptAt: '2026-11-20T09:10:00.000Z', at: later } })
      .then({ ...row, status: 'PENDING', attempts: 1, call_id: 'c2', last_outcome: 'NO_ANSWER', next_attempt_at: '2026-11-20T09:10:00.000Z', updated_at: later }));
  it('answered → DONE; nothing next', () =>
    given([booked, started(1, 'c2')])
      .when({ type: 'CallbackCompleted', data: { callbackId: 'cb1', originCallId: 'c1', attempt: 1, callId: 'c2', at: later } })
      .then({ ...row, status: 'DONE', attempts: 1, call_id: 'c2', last_outcome: 'ANSWERED', next_attempt_at: null, updated_at: later }));
  it('the last failure → FAILED', () =>
    given([booked]).when({ type: 'CallbackFailed', data: { callbackId: 'cb1', originCallId: 'c1', attempts: 3, at: later } }).then({ ...row, status: 'FAILED', next_attempt_at: null, updated_at: later }));
  it('cancelled → CANCELLED, by whom', () =>
    given([booked]).when({ type: 'CallbackCancelled', data: { callbackId: 'cb1', originCallId: 'c1', by: 'SHOPPER', at: later } }).then({ ...row, status: 'CANCELLED', last_outcome: 'CANCELLED_BY_SHOPPER', next_attempt_at: null, updated_at: later }));
  it('an event for a callback never booked writes nothing', () => given([]).when(started(1, 'c2')).then(null));
});
