import { CALL_EVENT_TYPES } from './call/events';
import { QUEUE_EVENT_TYPES } from './queue/queue';
import { CALLBACK_EVENT_TYPES } from './callback/callback';
import { TRANSFER_EVENT_TYPES } from './transfer/transfer';

/**
 * What a call's followers see (`callEvents`, CRM webhooks, the analysts' replay): the call's own
 * events, and the events of issue 25's streams that concern one call: its waits in a queue
 * (`queue-`), its transfers (`transfer-`) and the callbacks booked from it (`callback-`). Each names
 * the call it concerns: `callId` on the call's, the queue's and the transfer's events; `originCallId`
 * (the click the callback was booked from) on a callback's.
 */
export const CALL_FEED_EVENT_TYPES: readonly string[] = [...CALL_EVENT_TYPES, ...QUEUE_EVENT_TYPES, ...TRANSFER_EVENT_TYPES, ...CALLBACK_EVENT_TYPES];

const FEED = new Set<string>(CALL_FEED_EVENT_TYPES);
const CALLBACK = new Set<string>(CALLBACK_EVENT_TYPES);

export const isCallFeedEvent = (type: string): boolean => FEED.has(type);

/** The call an event of the feed concerns (its `CallEvent.callId`); null for any other event, or a callback booked from no call. */
export const feedCallIdOf = (type: string, data: unknown): string | null => {
  if (!FEED.has(type) || typeof data !== 'object' || data === null) return null;
  const id = CALLBACK.has(type) ? (data as { originCallId?: unknown }).originCallId : (data as { callId?: unknown }).callId;
  return typeof id === 'string' ? id : null;
};
