import type { CallDirection, CallEvent, CallMedia, CallStatus } from '../../domain/call/events';
import { directionOf, STATUS_AFTER } from '../../domain/call/events';
import { iso, jsonOrNull, strOrNull } from '../../adapters/sql/values';
import type { TransferDialled } from '../../domain/transfer/transfer';
import { rowOf, type View } from '../engine/projection-of';

/** A call's context as crm-context stores it (crm_contexts): the contract's CallContext, which is also the screen pop. */
export type ContextRow = {
  call_id: string;
  merchant_id: string;
  /** OUTBOUND (a click) or INBOUND (a phone called the merchant's number `did`; `ani` is the caller's number). */
  direction: CallDirection;
  did: string | null;
  /** A CALLBACK call's media (migration 18): BROWSER (rings in the consoles) or PSTN (a PSTN center dialled); null otherwise. */
  callback_media: CallMedia | null;
  link_id: string | null;
  customer_id: string | null;
  session_id: string | null;
  page_url: string | null;
  referrer: string | null;
  /** JSON of what the page sent (null: nothing). */
  context: string | null;
  ani: string | null;
  call_center_id: string | null;
  state: CallStatus;
};

const CONTEXT_TYPES: ReadonlySet<string> = new Set<CallEvent['type']>(['CallDownloaded', 'InboundCallReceived', 'CallbackCallPlaced', 'CallInitiated', 'CallRinging', 'CallAnswered', 'CallTerminated']);

/** What a CRM shows before the agent says hello: who calls, from which page, with what, on which caller ID. */
export const contextView: View<ContextRow, CallEvent> = {
  name: 'call-context@2',
  initialState: null,
  handles: CONTEXT_TYPES,
  creates: new Set(['CallDownloaded', 'InboundCallReceived', 'CallbackCallPlaced']),
  evolve: (row, event) => {
    if (event.type === 'CallDownloaded') {
      const d = event.data;
      return {
        call_id: d.callId,
        merchant_id: d.merchantId,
        direction: 'OUTBOUND',
        did: null,
        callback_media: null,
        link_id: d.linkId,
        customer_id: d.customerId,
        session_id: d.sessionId,
        page_url: d.pageUrl,
        referrer: d.referrer,
        context: d.context === undefined ? null : JSON.stringify(d.context),
        ani: null,
        call_center_id: null,
        state: STATUS_AFTER.CallDownloaded!,
      };
    }
    if (event.type === 'InboundCallReceived') {
      if (row !== null) return row;
      const d = event.data;
      // No page and no shop ids: who calls is the caller's number (the pop looks it up in earlier calls).
      return {
        call_id: d.callId,
        merchant_id: d.merchantId,
        direction: 'INBOUND',
        did: d.did,
        callback_media: null,
        link_id: d.linkId,
        customer_id: null,
        session_id: null,
        page_url: null,
        referrer: null,
        context: null,
        ani: d.ani,
        call_center_id: d.callCenterId,
        state: STATUS_AFTER.InboundCallReceived!,
      };
    }
    if (event.type === 'CallbackCallPlaced') {
      if (row !== null) return row;
      const d = event.data;
      // Issue 25: the screen pop of a callback's try shows the click it was booked from (page, cart, shop ids).
      return {
        call_id: d.callId,
        merchant_id: d.merchantId,
        direction: 'CALLBACK',
        did: null,
        callback_media: d.media,
        link_id: d.linkId,
        customer_id: d.customerId,
        session_id: d.sessionId,
        page_url: d.pageUrl,
        referrer: d.referrer,
        context: d.context === undefined || d.context === null ? null : JSON.stringify(d.context),
        ani: d.ani,
        call_center_id: d.callCenterId,
        state: STATUS_AFTER.CallbackCallPlaced!,
      };
    }
    if (row === null) return null;
    if (event.type === 'CallInitiated') return { ...row, state: STATUS_AFTER.CallInitiated!, ani: event.data.ani, call_center_id: event.data.callCenterId };
    const state = STATUS_AFTER[event.type];
    return state === undefined ? row : { ...row, state };
  },
};

/**
 * ANI occupancy: the interval [initiated, terminated) during which a call held the port's caller ID
 * (crm_ani). `to_at` is null while the call is live. A browser call holds no caller ID: no row (until a
 * transfer dials a PSTN center for it: then the transfer's port's, from the dial). An
 * inbound call holds its caller's number from its arrival, so that the look-up by caller ID finds the
 * phone call that rings now.
 */
/** What crm-context's ANI intervals follow: the call's events, and the dial of a transfer to a PSTN center. */
export type CrmEvent = CallEvent | TransferDialled;

export type AniRow = { call_id: string; ani: string; merchant_id: string; from_at: string; to_at: string | null };

export const aniView: View<AniRow, CrmEvent> = {
  name: 'ani-interval@3',
  initialState: null,
  handles: new Set<CrmEvent['type']>(['InboundCallReceived', 'CallbackCallPlaced', 'CallInitiated', 'TransferDialled', 'CallTerminated']),
  creates: new Set(['InboundCallReceived', 'CallbackCallPlaced', 'CallInitiated', 'TransferDialled']),
  evolve: (row, event) => {
    // Issue 25: a browser call transferred to a PSTN center holds the transfer's port's caller ID from
    // the dial (the center's CRM looks the call up by it). A later dial (the first one failed) holds its own.
    if (event.type === 'TransferDialled') {
      const d = event.data;
      return { call_id: d.callId, ani: d.line.ani, merchant_id: d.merchantId, from_at: iso(d.at), to_at: null };
    }
    if (event.type === 'InboundCallReceived') {
      const d = event.data;
      return row ?? { call_id: d.callId, ani: d.ani, merchant_id: d.merchantId, from_at: iso(d.at), to_at: null };
    }
    // Issue 25: a callback's try holds its port's caller ID from its placement (a look-up by that number finds it).
    if (event.type === 'CallbackCallPlaced') {
      const d = event.data;
      // A callback to the browser holds no port: no caller ID to look up.
      if (d.ani === null) return row;
      return row ?? { call_id: d.callId, ani: d.ani, merchant_id: d.merchantId, from_at: iso(d.at), to_at: null };
    }
    if (event.type === 'CallInitiated') {
      const d = event.data;
      return d.ani === null ? null : { call_id: d.callId, ani: d.ani, merchant_id: d.merchantId, from_at: iso(d.at), to_at: null };
    }
    if (event.type === 'CallTerminated' && row !== null && row.to_at === null) return { ...row, to_at: iso(event.data.at) };
    return row;
  },
};

/** The contract's CallContext, which is also the screen-pop payload. */
export interface CallContextView {
  callId: string;
  merchantId: string;
  direction: CallDirection;
  did: string | null;
  /** A CALLBACK call's media; null for other calls and for tries recorded before migration 18 (BROWSER then). */
  callbackMedia: CallMedia | null;
  linkId: string | null;
  customerId: string | null;
  sessionId: string | null;
  pageUrl: string | null;
  referrer: string | null;
  context: unknown;
  ani: string | null;
  callCenterId: string | null;
  state: CallStatus;
}

/** A context row (as folded, or as read back from crm_contexts) as the API's CallContext. */
export const toContext = (r: Record<string, unknown>): CallContextView => ({
  callId: String(r.call_id),
  merchantId: String(r.merchant_id),
  // Rows written before migration 12 have no direction: every call was OUTBOUND then.
  direction: directionOf(r.direction),
  did: strOrNull(r.did),
  callbackMedia: strOrNull(r.callback_media) as CallMedia | null,
  linkId: strOrNull(r.link_id),
  customerId: strOrNull(r.customer_id),
  sessionId: strOrNull(r.session_id),
  pageUrl: strOrNull(r.page_url),
  referrer: strOrNull(r.referrer),
  context: jsonOrNull(r.context),
  ani: strOrNull(r.ani),
  callCenterId: strOrNull(r.call_center_id),
  state: String(r.state) as CallStatus,
});

/**
 * The screen pop of a call as its events say (the call's stream, in order), through the same View
 * as the read side: for a pop frozen at an event (a webhook sent later shows the call as it was when
 * it rang), or when the read side cannot answer in time. Null for a call never downloaded.
 */
export const screenPopOf = (events: Iterable<CallEvent>): CallContextView | null => {
  const row = rowOf(contextView, events);
  return row === null ? null : toContext(row);
};
