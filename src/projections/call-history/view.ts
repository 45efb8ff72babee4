import type { CallDirection, CallEvent, CallMedia, CallStatus, Party, TerminationCause } from '../../domain/call/events';
import { CALL_EVENT_TYPES, directionOf, STATUS_AFTER } from '../../domain/call/events';
import { unreachable } from '../../domain/shared/decider';
import type { StoredEvent } from '../../ports/event-store';
import { iso, jsonOrNull, numOrNull, strOrNull } from '../../adapters/sql/values';
import type { View } from '../engine/projection-of';

/** A call as call-history stores it (ch_calls, but the envelope's last_position): every field of the contract's `Call` but charge and context. */
export type CallRow = {
  id: string;
  merchant_id: string;
  /** OUTBOUND (a click) or INBOUND (a phone called one of the merchant's numbers). */
  direction: CallDirection;
  /** The number an INBOUND call dialled; null for OUTBOUND. */
  did: string | null;
  /** A CALLBACK call's media (migration 18): BROWSER (rang in the consoles) or PSTN (a PSTN center dialled); null for other calls, and for tries placed before. */
  callback_media: CallMedia | null;
  link_id: string | null;
  state: CallStatus;
  call_center_id: string | null;
  destination: string | null;
  gateway_id: string | null;
  port: number | null;
  ani: string | null;
  downloaded_at: string;
  initiated_at: string | null;
  ringing_at: string | null;
  answered_at: string | null;
  terminated_at: string | null;
  termination_cause: TerminationCause | null;
  terminated_by: Party | null;
  sip_status: number | null;
  talk_seconds: number | null;
  /** JSON: the digits reported, in order, as [{ digits, at }]. */
  dtmf: string;
};

/**
 * The call row after one of its events: the one fold of what a call is, for the analysts' list
 * (call-history), the mutations' answers (the command handler folds it per call) and the queries.
 */
/** A call's row when it begins (downloaded, or arrived by phone), before any later stage. */
const begun = (callId: string, merchantId: string, at: string): CallRow => ({
  id: callId,
  merchant_id: merchantId,
  direction: 'OUTBOUND',
  did: null,
  callback_media: null,
  link_id: null,
  state: STATUS_AFTER.CallDownloaded!,
  call_center_id: null,
  destination: null,
  gateway_id: null,
  port: null,
  ani: null,
  downloaded_at: iso(at),
  initiated_at: null,
  ringing_at: null,
  answered_at: null,
  terminated_at: null,
  termination_cause: null,
  terminated_by: null,
  sip_status: null,
  talk_seconds: null,
  dtmf: '[]',
});

const evolve = (row: CallRow | null, event: CallEvent): CallRow | null => {
  if (event.type === 'CallDownloaded') return { ...begun(event.data.callId, event.data.merchantId, event.data.at), link_id: event.data.linkId };
  if (event.type === 'InboundCallReceived') {
    // An arrival seen again changes nothing (the decider decides it once; a replay may repeat it).
    if (row !== null) return row;
    const d = event.data;
    // The call began when it arrived: it is listed and paged by this instant, like a download.
    return {
      ...begun(d.callId, d.merchantId, d.at),
      direction: 'INBOUND',
      did: d.did,
      link_id: d.linkId,
      state: STATUS_AFTER.InboundCallReceived!,
      call_center_id: d.callCenterId,
      destination: d.did,
      ani: d.ani,
      initiated_at: iso(d.at),
    };
  }
  if (event.type === 'CallbackCallPlaced') {
    if (row !== null) return row;
    const d = event.data;
    // Issue 25: a callback's try, listed from when it was placed; it "dials" the shopper's number.
    return {
      ...begun(d.callId, d.merchantId, d.at),
      direction: 'CALLBACK',
      callback_media: d.media,
      link_id: d.linkId,
      state: STATUS_AFTER.CallbackCallPlaced!,
      call_center_id: d.callCenterId,
      destination: d.number,
      gateway_id: d.gatewayId,
      port: d.port,
      ani: d.ani,
      initiated_at: iso(d.at),
    };
  }
  if (row === null) return null;
  switch (event.type) {
    case 'CallInitiated': {
      const d = event.data;
      return { ...row, state: STATUS_AFTER.CallInitiated!, call_center_id: d.callCenterId, destination: d.destination, gateway_id: d.gatewayId, port: d.port, ani: d.ani, initiated_at: iso(d.at) };
    }
    case 'CallRinging':
      return { ...row, state: STATUS_AFTER.CallRinging!, ringing_at: iso(event.data.at) };
    case 'CallAnswered':
      return { ...row, state: STATUS_AFTER.CallAnswered!, answered_at: iso(event.data.at) };
    case 'DtmfReceived': {
      const list = jsonOrNull<Array<{ digits: string; at: string }>>(row.dtmf) ?? [];
      return { ...row, dtmf: JSON.stringify([...list, { digits: event.data.digits, at: iso(event.data.at) }]) };
    }
    case 'DtmfCommandRecognized':
    case 'ChannelMessageSent':
    case 'CallerJoinedMedia':
    case 'CallerMediaSettingsApplied':
      return row;
    case 'CallTerminated': {
      const d = event.data;
      return { ...row, state: STATUS_AFTER.CallTerminated!, terminated_at: iso(d.at), termination_cause: d.cause, terminated_by: d.by, sip_status: d.sipStatus, talk_seconds: d.talkSeconds };
    }
    default:
      return unreachable(event);
  }
};

/** The call's View (name: its shape's version, where folded rows are kept: the command handler's cache). */
export const callView: View<CallRow, CallEvent> = { name: 'call-view@3', evolve, initialState: null, handles: new Set(CALL_EVENT_TYPES), creates: new Set(['CallDownloaded', 'InboundCallReceived']) };

/**
 * What call-history reads: a call's events with the store's envelope (the row keeps the position of
 * its newest event, the timeline each event's id, version, position and instant).
 */
export type CallHistoryEvent = CallEvent & Pick<StoredEvent, 'eventId' | 'streamVersion' | 'position' | 'occurredAt'>;

/** A call as ch_calls stores it: the call's row and the position of the newest event that reached it. */
export type CallHistoryRow = CallRow & { last_position: string };

/**
 * ch_calls's View: the call's View, and the position of the event (every event of the call) that last
 * reached the row. Its own name: the command side folds `callView`, which knows no position.
 */
export const callHistoryView: View<CallHistoryRow, CallHistoryEvent> = {
  name: 'call-history@1',
  initialState: null,
  handles: callView.handles,
  creates: callView.creates,
  evolve: (row, event) => {
    const after = callView.evolve(row, event);
    return after === null ? null : { ...after, last_position: event.position };
  },
};

/** The contract's `Call` (but charge and context), as the API returns it. */
export interface CallView {
  id: string;
  merchantId: string;
  direction: CallDirection;
  did: string | null;
  /** A CALLBACK call's media (BROWSER, PSTN); null for other calls and for tries recorded before migration 18 (BROWSER then). */
  callbackMedia: CallMedia | null;
  linkId: string | null;
  state: CallStatus;
  callCenterId: string | null;
  destination: string | null;
  gatewayId: string | null;
  port: number | null;
  ani: string | null;
  downloadedAt: string;
  initiatedAt: string | null;
  ringingAt: string | null;
  answeredAt: string | null;
  terminatedAt: string | null;
  terminationCause: TerminationCause | null;
  terminatedBy: Party | null;
  talkSeconds: number | null;
  dtmf: Array<{ digits: string; at: string }>;
}

/** A call row (as folded, or as read back from ch_calls) as the API's `Call`. */
export const toCall = (r: Record<string, unknown>): CallView => ({
  id: String(r.id),
  merchantId: String(r.merchant_id),
  // Rows written before migration 12 have no direction: every call was OUTBOUND then.
  direction: directionOf(r.direction),
  did: strOrNull(r.did),
  callbackMedia: strOrNull(r.callback_media) as CallMedia | null,
  linkId: strOrNull(r.link_id),
  state: String(r.state) as CallStatus,
  callCenterId: strOrNull(r.call_center_id),
  destination: strOrNull(r.destination),
  gatewayId: strOrNull(r.gateway_id),
  port: numOrNull(r.port),
  ani: strOrNull(r.ani),
  downloadedAt: String(r.downloaded_at),
  initiatedAt: strOrNull(r.initiated_at),
  ringingAt: strOrNull(r.ringing_at),
  answeredAt: strOrNull(r.answered_at),
  terminatedAt: strOrNull(r.terminated_at),
  terminationCause: strOrNull(r.termination_cause) as TerminationCause | null,
  terminatedBy: strOrNull(r.terminated_by) as Party | null,
  talkSeconds: numOrNull(r.talk_seconds),
  dtmf: jsonOrNull<Array<{ digits: string; at: string }>>(r.dtmf) ?? [],
});
