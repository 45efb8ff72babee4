import { types } from '../../adapters/sql/db';
import type { CallbackEvent } from '../../domain/callback/callback';
import type { RowProjection } from '../engine/rows';
import type { TableDef } from '../engine/tables';
import { projectionOf, viewTable } from '../engine/projection-of';
import { callbackView } from './view';

/** One row per callback (issue 25; migration 15). */
export const CALLBACKS: TableDef = {
  name: 'cb_callbacks',
  columns: (d) => {
    const t = types(d);
    return [
      `id ${t.key} not null`,
      `merchant_id ${t.key} not null`,
      `call_center_id ${t.key} not null`,
      `origin_call_id ${t.key}`,
      `target_kind ${t.text} not null`,
      `number ${t.key}`,
      `target_call_id ${t.key}`,
      `client_key ${t.key} not null`,
      `when_kind ${t.text} not null`,
      `due_at ${t.key} not null`,
      `status ${t.key} not null`,
      `attempts ${t.int} not null`,
      `max_attempts ${t.int} not null`,
      `next_attempt_at ${t.key}`,
      `call_id ${t.key}`,
      `last_outcome ${t.text}`,
      `booked_at ${t.key} not null`,
      `updated_at ${t.key} not null`,
    ];
  },
  primaryKey: ['id'],
  indexes: [
    // The dashboard's list, newest first.
    { name: 'merchant', columns: ['merchant_id', 'booked_at'] },
    // The booking's hourly limit: this number's and this client's recent bookings.
    { name: 'number', columns: ['number', 'booked_at'] },
    { name: 'client', columns: ['client_key', 'booked_at'] },
    // The scheduler: the pending ones by due time.
    { name: 'due', columns: ['status', 'next_attempt_at'] },
  ],
};

/** callbacks: the callback promises (../../domain/callback/callback.ts) as the dashboard, the booking limit and the scheduler read them. */
export const callbacksProjection = (): RowProjection =>
  projectionOf<CallbackEvent>('callbacks', [viewTable({ view: callbackView, table: CALLBACKS, key: (e) => [e.data.callbackId] })]);
