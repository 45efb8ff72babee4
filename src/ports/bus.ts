import type { StoredEvent } from './event-store';

export type Topic = 'webdial.calls' | 'webdial.merchants' | 'webdial.gateways';
export const ALL_TOPICS: readonly Topic[] = ['webdial.calls', 'webdial.merchants', 'webdial.gateways'];

export interface BusSubscription {
  stop(): Promise<void>;
}

/**
 * The event bus port (in-process and Kafka adapters). The relay is its only publisher; projections
 * and GraphQL subscriptions consume. Delivery is at least once and in order per stream (the key);
 * consumers make effects idempotent.
 */
export interface EventBus {
  readonly name: string;
  /** Resolves once every event is durably accepted (Kafka: acks=-1, idempotent producer). */
  publish(events: StoredEvent[]): Promise<void>;
  /**
   * Starts a consumer group. Each group gets every event of its topics. The handler is awaited
   * before the event counts as consumed; a handler that throws for the same event again and again
   * sends it to the dead-letter path and the group goes on.
   * `fromBeginning`: a new group starts at the oldest retained event (otherwise at the newest).
   * `afterPosition`: the consumer's own checkpoint; a bus without retention (in-process) catches the
   * group up from the event store after it, a bus with committed offsets (Kafka) may ignore it.
   */
  subscribe(
    group: string,
    topics: readonly Topic[],
    handler: (event: StoredEvent) => Promise<void>,
    options?: { fromBeginning?: boolean; afterPosition?: string | null },
  ): Promise<BusSubscription>;
  close(): Promise<void>;
}
