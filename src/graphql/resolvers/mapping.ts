import type { StoredEvent } from '../../ports/event-store';
import type { CallEvent } from '../calls/types';

/** A stored call event as the contract's CallEvent. */
export const storedToCallEvent = (e: StoredEvent): CallEvent => ({
  eventId: e.eventId,
  callId: (e.data as { callId: string }).callId,
  merchantId: e.merchantId ?? '',
  type: e.type,
  position: e.position,
  occurredAt: e.occurredAt,
  data: e.data,
});
