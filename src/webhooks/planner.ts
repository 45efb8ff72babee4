import { createHash } from 'node:crypto';
import type { StoredEvent } from '../ports/event-store';
import { feedCallIdOf } from '../domain/call-feed';
import type { WebhookEndpointConfig } from '../domain/webhook/endpoint';
import type { NewDelivery } from './deliveries';

/**
 * The `webhook-id` of an event for an endpoint: derived, not drawn, so that the same event planned
 * again (a redelivery after a crash, a second instance) gets the same id and the outbox keeps one row.
 */
export const webhookIdOf = (endpointId: string, eventId: string, type: string): string =>
  `msg_${createHash('sha256').update(`${endpointId}\n${eventId}\n${type}`).digest('base64url').slice(0, 27)}`;

/** Standard Webhooks payload: `{ type, timestamp, data }`. */
export const webhookBody = (type: string, timestamp: string, data: unknown): string => JSON.stringify({ type, timestamp, data });

/**
 * A call event's payload: the contract's CallEvent plus `sequence` (its stream's version, for ordering
 * checks: the call's, or for a queue's, transfer's or callback's event that stream's).
 */
export const callEventPayload = (e: StoredEvent) => ({
  eventId: e.eventId,
  callId: feedCallIdOf(e.type, e.data),
  merchantId: e.merchantId,
  type: e.type,
  sequence: e.streamVersion,
  position: e.position,
  occurredAt: e.occurredAt,
  correlationId: e.correlationId,
  data: e.data,
});

export interface PlannerDeps {
  /** Endpoints of the merchant that receive the type, as of the event's position. */
  subscribers(merchantId: string, type: string): WebhookEndpointConfig[];
  /** The screen pop of a call at its ringing event (the `screenPops` subscription's payload). */
  screenPop(ringing: StoredEvent): Promise<unknown>;
}

/**
 * The webhook worker's core: a batch of stored events → the outbox rows to add. Only the events of a
 * merchant's call feed qualify (src/domain/call-feed.ts: the calls', and their queues', transfers' and callbacks'); each goes to that merchant's endpoints that chose its type, and a ringing
 * event also makes a `ScreenPop` for endpoints that chose that. A lane's `seq` is the call's stream
 * version (×2, +1 for the pop, which follows its ringing event).
 */
export const planDeliveries = async (events: readonly StoredEvent[], deps: PlannerDeps): Promise<NewDelivery[]> => {
  const rows: NewDelivery[] = [];
  for (const e of events) {
    if (feedCallIdOf(e.type, e.data) === null || !e.merchantId) continue;
    const merchantId = e.merchantId;
    const row = (endpoint: WebhookEndpointConfig, type: string, seq: number, body: string): NewDelivery => ({
      id: webhookIdOf(endpoint.endpointId, e.eventId, type),
      endpointId: endpoint.endpointId,
      merchantId,
      streamId: e.streamId,
      seq,
      eventId: e.eventId,
      eventType: type,
      position: e.position,
      body,
      recordedAt: e.recordedAt,
    });
    const direct = deps.subscribers(merchantId, e.type);
    if (direct.length > 0) {
      const body = webhookBody(e.type, e.occurredAt, callEventPayload(e));
      for (const ep of direct) rows.push(row(ep, e.type, e.streamVersion * 2, body));
    }
    if (e.type === 'CallRinging') {
      const pops = deps.subscribers(merchantId, 'ScreenPop');
      if (pops.length > 0) {
        const body = webhookBody('ScreenPop', e.occurredAt, await deps.screenPop(e));
        for (const ep of pops) rows.push(row(ep, 'ScreenPop', e.streamVersion * 2 + 1, body));
      }
    }
  }
  return rows;
};
