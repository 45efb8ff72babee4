import type { EventStore } from '../ports/event-store';
import type { CallEvent, CallStatus } from '../domain/call/events';
import { callStreamId } from '../domain/shared/streams';
import { callViewOf } from './call-view';

/** What a CRM is shown when a call rings: who calls, from which page, with what context. */
export interface ScreenPop {
  callId: string;
  merchantId: string;
  linkId: string | null;
  customerId: string | null;
  sessionId: string | null;
  pageUrl: string;
  referrer: string | null;
  context: unknown;
  ani: string | null;
  callCenterId: string | null;
  state: CallStatus;
}

/**
 * The screen pop of a call, folded from the call's own stream (read-your-writes: the crm-context
 * projection may still be a step behind the ringing event). `upToVersion` freezes it at an event
 * (a webhook sent later shows the call as it was when it rang).
 */
export const screenPopOf = async (store: EventStore, callId: string, upToVersion?: number): Promise<ScreenPop> => {
  const stored = await store.readStream(callStreamId(callId));
  const events = stored.filter((e) => upToVersion === undefined || e.streamVersion <= upToVersion).map((e) => ({ type: e.type, data: e.data }) as CallEvent);
  const view = callViewOf(events)!;
  const dl = (events[0] as Extract<CallEvent, { type: 'CallDownloaded' }>).data;
  return {
    callId,
    merchantId: view.merchantId,
    linkId: view.linkId,
    customerId: dl.customerId,
    sessionId: dl.sessionId,
    pageUrl: dl.pageUrl,
    referrer: dl.referrer,
    context: dl.context,
    ani: view.ani,
    callCenterId: view.callCenterId,
    state: view.state,
  };
};
