import { iso, types } from '../../adapters/sql/db';
import type { Row, RowProjection } from '../engine/rows';
import type { TableDef } from '../engine/tables';
import { projectionOf, viewTable } from '../engine/projection-of';
import { callHistoryView, type CallHistoryEvent, type CallHistoryRow } from './view';

/** ch_calls: one row per call and the position of its newest event (./view.ts `CallHistoryRow`). */
export const CALLS: TableDef = {
  name: 'ch_calls',
  columns: (d) => {
    const t = types(d);
    return [
      `id ${t.key} not null`,
      `merchant_id ${t.key} not null`,
      `link_id ${t.key}`,
      `state ${t.key} not null`,
      // Migration 12 (issue 23): inbound calls.
      `direction ${t.key} not null default 'OUTBOUND'`,
      `did ${t.key}`,
      `call_center_id ${t.key}`,
      `destination ${t.text}`,
      `gateway_id ${t.key}`,
      `port ${t.int}`,
      `ani ${t.key}`,
      `downloaded_at ${t.key} not null`,
      `initiated_at ${t.key}`,
      `ringing_at ${t.key}`,
      `answered_at ${t.key}`,
      `terminated_at ${t.key}`,
      `termination_cause ${t.text}`,
      `terminated_by ${t.text}`,
      `sip_status ${t.int}`,
      `talk_seconds ${t.int}`,
      `dtmf ${t.json} not null`,
      `last_position ${t.key} not null`,
    ];
  },
  primaryKey: ['id'],
  indexes: [
    // listCalls: keyset pagination on (downloaded_at desc, id) under the usual filters.
    { name: 'order', columns: ['downloaded_at', 'id'] },
    { name: 'merchant', columns: ['merchant_id', 'downloaded_at', 'id'] },
    { name: 'link', columns: ['link_id', 'downloaded_at'] },
    // An inbound caller's earlier calls by number, for the screen pop (issue 23, migration 12).
    { name: 'caller', columns: ['merchant_id', 'ani'] },
  ],
};

/** ch_events: the per-call timeline, the contract's `CallEvent`. */
export const TIMELINE: TableDef = {
  name: 'ch_events',
  columns: (d) => {
    const t = types(d);
    return [
      `event_id ${t.key} not null`,
      `call_id ${t.key} not null`,
      `merchant_id ${t.key} not null`,
      `type ${t.text} not null`,
      `stream_version ${t.int} not null`,
      `position ${t.key} not null`,
      `occurred_at ${t.key} not null`,
      `data ${t.json} not null`,
    ];
  },
  // Keyed by the call and its version (what the timeline reads, in order): one b-tree on SQLite.
  primaryKey: ['call_id', 'stream_version'],
  withoutRowid: true,
};

/** A call's timeline entry (ch_events): the event as its envelope stored it, under the call's merchant. */
const timelineEntry = (_before: CallHistoryRow | null, event: CallHistoryEvent, after: CallHistoryRow): Row => ({
  event_id: event.eventId,
  call_id: event.data.callId,
  merchant_id: after.merchant_id,
  type: event.type,
  stream_version: event.streamVersion,
  position: event.position,
  occurred_at: iso(event.occurredAt),
  data: JSON.stringify(event.data),
});

/**
 * call-history: the searchable call list and the per-call timeline for analysts. The call row is the
 * call's View folded over its stream, with the position of its newest event (./view.ts
 * `callHistoryView`); every call event (DtmfCommandRecognized included) is also a timeline row.
 */
export const callHistoryProjection = (): RowProjection =>
  projectionOf<CallHistoryEvent>('call-history', [
    viewTable({ view: callHistoryView, table: CALLS, key: (e) => [e.data.callId], records: { table: TIMELINE, of: timelineEntry } }),
  ]);
