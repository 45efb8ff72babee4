import { iso, types } from '../../adapters/sql/db';
import { CALL_EVENT_TYPES } from '../../domain/call/events';
import { CALL_FEED_EVENT_TYPES, feedCallIdOf } from '../../domain/call-feed';
import type { StoredEvent } from '../../ports/event-store';
import type { Row, RowProjection } from '../engine/rows';
import type { TableDef } from '../engine/tables';
import { projectionOf, viewTable, type DeclaredTable } from '../engine/projection-of';
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
      // Migration 18 (issue 25): a CALLBACK call's media (a PSTN center's try is dialled).
      `callback_media ${t.key}`,
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
 * ch_feed (migration 14, issue 25): the timeline entries a call's own stream does not hold: its waits
 * in a queue, its transfers, the callbacks booked from it (src/domain/call-feed.ts), keyed by the call
 * and the event (their stream versions are their own streams'). The timeline merges them with
 * ch_events by store position.
 */
export const FEED: TableDef = {
  name: 'ch_feed',
  columns: (d) => {
    const t = types(d);
    return [
      `call_id ${t.key} not null`,
      `event_id ${t.key} not null`,
      `merchant_id ${t.key} not null`,
      `stream_id ${t.key} not null`,
      `type ${t.text} not null`,
      `stream_version ${t.int} not null`,
      `position ${t.key} not null`,
      `occurred_at ${t.key} not null`,
      `data ${t.json} not null`,
    ];
  },
  primaryKey: ['call_id', 'event_id'],
  withoutRowid: true,
};

const CALL_STREAM_TYPES = new Set<string>(CALL_EVENT_TYPES);

/**
 * The feed's other events as ch_feed records, from the event alone: its envelope names the merchant
 * and the event names its call. No row is read (a queue's join may precede anything of the call that
 * the read side has seen), so nothing is prefetched.
 */
const feedRecords: DeclaredTable<StoredEvent> = {
  tables: [FEED],
  handles: new Set(CALL_FEED_EVENT_TYPES.filter((type) => !CALL_STREAM_TYPES.has(type))),
  prefetch: () => [],
  apply: (rows, e) => {
    const callId = feedCallIdOf(e.type, e.data);
    if (callId === null || e.merchantId === null) return;
    rows.insertOnce(FEED.name, {
      call_id: callId,
      event_id: e.eventId,
      merchant_id: e.merchantId,
      stream_id: e.streamId,
      type: e.type,
      stream_version: e.streamVersion,
      position: e.position,
      occurred_at: iso(e.occurredAt),
      data: JSON.stringify(e.data),
    });
  },
};

/**
 * call-history: the searchable call list and the per-call timeline for analysts. The call row is the
 * call's View folded over its stream, with the position of its newest event (./view.ts
 * `callHistoryView`); every call event (DtmfCommandRecognized included) is also a timeline row, and so
 * is every event of the call's queues, transfers and callbacks (ch_feed).
 */
export const callHistoryProjection = (): RowProjection =>
  projectionOf<CallHistoryEvent | StoredEvent>('call-history', [
    viewTable({ view: callHistoryView, table: CALLS, key: (e) => [e.data.callId], records: { table: TIMELINE, of: timelineEntry } }),
    feedRecords,
  ]);
