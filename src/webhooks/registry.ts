import type { EventStore, StoredEvent } from '../ports/event-store';
import { follow, type StoreFollower } from '../app/follow';
import { categoryOf } from '../domain/shared/streams';
import { webhookEndpointDecider, type WebhookEndpointConfig, type WebhookEndpointState } from '../domain/webhook/endpoint';
import type { WebhookEvent } from '../domain/webhook/events';

/**
 * Every webhook endpoint, folded in memory from the event store's global order (endpoints are few
 * and small). It knows the position it has read up to, so the delivery planner can ask "which
 * endpoints were subscribed when this event was stored?" and wait until it can answer: Kafka
 * orders per partition only, so an endpoint's registration may reach the webhook consumer after the
 * first call events that follow it; the store's order settles it.
 */
export class WebhookRegistry {
  private readonly states = new Map<string, { state: WebhookEndpointState; version: number }>();
  private follower: StoreFollower | null = null;

  constructor(private readonly store: EventStore) {}

  /**
   * Reads every endpoint so far (from its snapshot and the events after it), then follows the store.
   * Resolves once caught up with the store's head.
   */
  async start(onError?: (e: unknown) => void): Promise<void> {
    this.follower = await follow<Array<[string, { state: WebhookEndpointState; version: number }]>>(this.store, {
      name: 'webhook-registry',
      label: 'webhook registry',
      scope: 'instance',
      checkpoint: {
        from: 'snapshot',
        state: {
          kind: 'webhook-registry@1',
          save: () => [...this.states],
          restore: (entries) => {
            for (const [id, s] of entries) this.states.set(id, s);
          },
        },
      },
      handle: (e) => this.apply(e),
      onError,
    });
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
  }

  /**
   * Folds an event of a webhook stream (idempotent by stream version: the service applies what it
   * just appended, for read-your-writes, and the subscription brings the same event again).
   */
  apply(e: StoredEvent): void {
    if (!e.streamId.startsWith('webhook-') || categoryOf(e.streamId) !== 'webhook') return;
    const id = e.streamId.slice('webhook-'.length);
    const current = this.states.get(id) ?? { state: webhookEndpointDecider.initialState, version: 0 };
    if (e.streamVersion <= current.version) return;
    this.states.set(id, { state: webhookEndpointDecider.evolve(current.state, { type: e.type, data: e.data } as WebhookEvent), version: e.streamVersion });
  }

  /** Resolves once every event up to `position` has been folded. */
  caughtUpTo(position: string): Promise<void> {
    if (!this.follower) throw new Error('webhook registry not started');
    return this.follower.waitFor(position);
  }

  get(endpointId: string): WebhookEndpointConfig | null {
    const s = this.states.get(endpointId)?.state;
    return s && s.status === 'Present' ? s.endpoint : null;
  }

  list(merchantId: string | null): WebhookEndpointConfig[] {
    const out: WebhookEndpointConfig[] = [];
    for (const { state } of this.states.values()) if (state.status === 'Present' && (merchantId === null || state.endpoint.merchantId === merchantId)) out.push(state.endpoint);
    return out.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.endpointId < b.endpointId ? -1 : 1));
  }

  /**
   * Endpoints of `merchantId` that receive `type`: active ones, and failing ones too (their
   * deliveries are queued and held until the merchant enables the endpoint again: nothing is lost).
   * A disabled endpoint receives nothing.
   */
  subscribers(merchantId: string, type: string): WebhookEndpointConfig[] {
    return this.list(merchantId).filter((e) => e.status !== 'DISABLED' && e.eventTypes.includes(type));
  }

  /** Endpoints whose deliveries are held (disabled or failing): the sender skips them. */
  held(): string[] {
    const out: string[] = [];
    for (const [id, { state }] of this.states) if (state.status === 'Present' && state.endpoint.status !== 'ACTIVE') out.push(id);
    return out;
  }
}
