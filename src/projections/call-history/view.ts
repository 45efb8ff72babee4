import type { CallEvent } from '../../domain/call/events';
import { unreachable } from '../../domain/shared/decider';
import type { StoredEvent } from '../../ports/event-store';
import { iso, jsonOrNull, types, type Sql } from '../db';
import { CALL_EVENT_TYPES } from '../../domain/call/events';
import type { TableDef, Tables } from '../tables';
import type { Logger, View } from '../view';

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
  primaryKey: ['event_id'],
  indexes: [{ name: 'call', columns: ['call_id', 'stream_version'] }],
};

const CALL_TYPES = new Set<string>(CALL_EVENT_TYPES);

/**
 * call-history: the searchable call list and the per-call timeline for analysts. The call row is
 * the fold of the call's stream; every call event (DtmfCommandRecognized included) is a timeline row.
 */
export const callHistoryView = (log: Logger): View => ({
  name: 'call-history',
  topics: ['webdial.calls'],
  tables: [CALLS, TIMELINE],
  handles: (type) => CALL_TYPES.has(type),
  apply: async (tx, t, stored) => {
    const event = stored as StoredEvent<never> & CallEvent;
    const callId = (event.data as { callId: string }).callId;
    const merchantId = await writeCall(tx, t, event, stored, log);
    if (merchantId === null) return;
    await tx.run(
      `insert into ${t('ch_events')} (event_id, call_id, merchant_id, type, stream_version, position, occurred_at, data)
       values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (event_id) do nothing`,
      [stored.eventId, callId, merchantId, stored.type, stored.streamVersion, stored.position, iso(stored.occurredAt), JSON.stringify(stored.data)],
    );
  },
});

/** Updates the call row for one event; returns the call's merchant, or null for an unknown call. */
const writeCall = async (tx: Sql, t: Tables, event: CallEvent, stored: StoredEvent, log: Logger): Promise<string | null> => {
  const calls = t('ch_calls');
  const pos = stored.position;
  if (event.type === 'CallDownloaded') {
    const d = event.data;
    await tx.run(
      `insert into ${calls} (id, merchant_id, link_id, state, downloaded_at, dtmf, last_position)
       values (?, ?, ?, 'DOWNLOADED', ?, '[]', ?) on conflict (id) do nothing`,
      [d.callId, d.merchantId, d.linkId, iso(d.at), pos],
    );
    return d.merchantId;
  }
  // One statement per event: the update says (RETURNING) whether the call exists and whose it is.
  let merchantId: string | null = null;
  const set = async (assignments: string, params: unknown[]) => {
    const rows = await tx.all<{ merchant_id: string }>(
      `update ${calls} set ${assignments}, last_position = ? where id = ? returning merchant_id`,
      [...params, pos, event.data.callId],
    );
    merchantId = rows.length ? String(rows[0].merchant_id) : null;
  };
  switch (event.type) {
    case 'CallInitiated': {
      const d = event.data;
      await set(`state = 'INITIATED', call_center_id = ?, destination = ?, gateway_id = ?, port = ?, ani = ?, initiated_at = ?`, [
        d.callCenterId,
        d.destination,
        d.gatewayId,
        d.port,
        d.ani,
        iso(d.at),
      ]);
      break;
    }
    case 'CallRinging':
      await set(`state = 'RINGING', ringing_at = ?`, [iso(event.data.at)]);
      break;
    case 'CallAnswered':
      await set(`state = 'ANSWERED', answered_at = ?`, [iso(event.data.at)]);
      break;
    case 'DtmfReceived': {
      const rows = await tx.all<{ dtmf: string }>(`select dtmf from ${calls} where id = ?`, [event.data.callId]);
      const list = rows.length ? (jsonOrNull<Array<{ digits: string; at: string }>>(rows[0].dtmf) ?? []) : [];
      list.push({ digits: event.data.digits, at: iso(event.data.at) });
      await set(`dtmf = ?`, [JSON.stringify(list)]);
      break;
    }
    case 'DtmfCommandRecognized':
    case 'ChannelMessageSent':
    case 'CallerJoinedMedia':
      await set(`state = state`, []);
      break;
    case 'CallTerminated': {
      const d = event.data;
      await set(`state = 'TERMINATED', terminated_at = ?, termination_cause = ?, terminated_by = ?, sip_status = ?, talk_seconds = ?`, [
        iso(d.at),
        d.cause,
        d.by,
        d.sipStatus,
        d.talkSeconds,
      ]);
      break;
    }
    default:
      return unreachable(event);
  }
  if (merchantId === null)
    log.error({ callId: event.data.callId, type: event.type, position: pos }, 'call-history: event for an unknown call');
  return merchantId;
};
