import type { CallEvent } from '../../domain/call/events';
import { unreachable } from '../../domain/shared/decider';
import type { StoredEvent } from '../../ports/event-store';
import { iso, jsonOrNull, types } from '../db';
import { CALL_EVENT_TYPES } from '../../domain/call/events';
import type { Row, View } from '../rows';
import type { TableDef } from '../tables';

/** ch_calls: one row per call, every field of the contract's `Call` but charge and context. */
export const CALLS: TableDef = {
  name: 'ch_calls',
  columns: (d) => {
    const t = types(d);
    return [
      `id ${t.key} not null`,
      `merchant_id ${t.key} not null`,
      `link_id ${t.key}`,
      `state ${t.key} not null`,
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

const CALL_TYPES = new Set<string>(CALL_EVENT_TYPES);

/**
 * call-history: the searchable call list and the per-call timeline for analysts. The call row is
 * the fold of the call's stream; every call event (DtmfCommandRecognized included) is a timeline row.
 */
export const callHistoryView = (): View => ({
  name: 'call-history',
  tables: [CALLS, TIMELINE],
  prefetch: (stored) =>
    CALL_TYPES.has(stored.type) && stored.type !== 'CallDownloaded' ? [{ table: 'ch_calls', key: [(stored.data as { callId: string }).callId] }] : [],
  apply: (rows, stored, warn) => {
    if (!CALL_TYPES.has(stored.type)) return;
    const event = stored as StoredEvent<never> & CallEvent;
    const callId = (event.data as { callId: string }).callId;
    const before = event.type === 'CallDownloaded' ? null : rows.get('ch_calls', [callId]);
    const after = evolveCallRow(before, event, stored.position);
    if (after === null) return warn({ callId, type: event.type, position: stored.position }, 'call-history: event for an unknown call');
    rows.put('ch_calls', after);
    rows.insertOnce('ch_events', {
      event_id: stored.eventId,
      call_id: callId,
      merchant_id: after.merchant_id,
      type: stored.type,
      stream_version: stored.streamVersion,
      position: stored.position,
      occurred_at: iso(stored.occurredAt),
      data: JSON.stringify(stored.data),
    });
  },
});

/** The call row after one of its events (null: an event of a call never downloaded). */
export const evolveCallRow = (row: Row | null, event: CallEvent, position: string): Row | null => {
  if (event.type === 'CallDownloaded') {
    const d = event.data;
    return {
      id: d.callId,
      merchant_id: d.merchantId,
      link_id: d.linkId,
      state: 'DOWNLOADED',
      call_center_id: null,
      destination: null,
      gateway_id: null,
      port: null,
      ani: null,
      downloaded_at: iso(d.at),
      initiated_at: null,
      ringing_at: null,
      answered_at: null,
      terminated_at: null,
      termination_cause: null,
      terminated_by: null,
      sip_status: null,
      talk_seconds: null,
      dtmf: '[]',
      last_position: position,
    };
  }
  if (row === null) return null;
  const r = { ...row, last_position: position };
  switch (event.type) {
    case 'CallInitiated': {
      const d = event.data;
      return { ...r, state: 'INITIATED', call_center_id: d.callCenterId, destination: d.destination, gateway_id: d.gatewayId, port: d.port, ani: d.ani, initiated_at: iso(d.at) };
    }
    case 'CallRinging':
      return { ...r, state: 'RINGING', ringing_at: iso(event.data.at) };
    case 'CallAnswered':
      return { ...r, state: 'ANSWERED', answered_at: iso(event.data.at) };
    case 'DtmfReceived': {
      const list = jsonOrNull<Array<{ digits: string; at: string }>>(row.dtmf) ?? [];
      return { ...r, dtmf: JSON.stringify([...list, { digits: event.data.digits, at: iso(event.data.at) }]) };
    }
    case 'DtmfCommandRecognized':
    case 'ChannelMessageSent':
    case 'CallerJoinedMedia':
      return r;
    case 'CallTerminated': {
      const d = event.data;
      return { ...r, state: 'TERMINATED', terminated_at: iso(d.at), termination_cause: d.cause, terminated_by: d.by, sip_status: d.sipStatus, talk_seconds: d.talkSeconds };
    }
    default:
      return unreachable(event);
  }
};
