import type { CallEvent, CallStatus, Party, TerminationCause } from '../domain/call/events';
import { unreachable, type Fold } from '../domain/shared/decider';

/**
 * The call as mutations return it, folded from the call's own stream (read-your-writes: a mutation's
 * answer never lags behind the events it just stored). Queries read the call-history projection.
 */
export interface CallView {
  id: string;
  merchantId: string;
  linkId: string | null;
  /** The widget's region hint at download (routing prefers centers there); not in the API. */
  callerRegion?: string | null;
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

export const evolveCallView = (view: CallView | null, event: CallEvent): CallView | null => {
  if (event.type === 'CallDownloaded') {
    const d = event.data;
    return {
      id: d.callId,
      merchantId: d.merchantId,
      linkId: d.linkId,
      callerRegion: d.callerRegion ?? null,
      state: 'DOWNLOADED',
      callCenterId: null,
      destination: null,
      gatewayId: null,
      port: null,
      ani: null,
      downloadedAt: d.at,
      initiatedAt: null,
      ringingAt: null,
      answeredAt: null,
      terminatedAt: null,
      terminationCause: null,
      terminatedBy: null,
      talkSeconds: null,
      dtmf: [],
    };
  }
  if (view === null) return null;
  switch (event.type) {
    case 'CallInitiated': {
      const d = event.data;
      return { ...view, state: 'INITIATED', callCenterId: d.callCenterId, destination: d.destination, gatewayId: d.gatewayId, port: d.port, ani: d.ani, initiatedAt: d.at };
    }
    case 'CallRinging':
      return { ...view, state: 'RINGING', ringingAt: event.data.at };
    case 'CallAnswered':
      return { ...view, state: 'ANSWERED', answeredAt: event.data.at };
    case 'DtmfReceived':
      return { ...view, dtmf: [...view.dtmf, { digits: event.data.digits, at: event.data.at }] };
    case 'DtmfCommandRecognized':
    case 'ChannelMessageSent':
    case 'CallerJoinedMedia':
      return view;
    case 'CallTerminated': {
      const d = event.data;
      return { ...view, state: 'TERMINATED', terminatedAt: d.at, terminationCause: d.cause, terminatedBy: d.by, talkSeconds: d.talkSeconds };
    }
    default:
      return unreachable(event);
  }
};

/** The call view as a fold, so that the command handler's cache keeps it per call. */
export const callViewFold: Fold<CallView | null, CallEvent> = { name: 'call-view@1', evolve: evolveCallView, initialState: null };

export const callViewOf = (events: Iterable<CallEvent>): CallView | null => {
  let view: CallView | null = null;
  for (const e of events) view = evolveCallView(view, e);
  return view;
};
