import { PublisherFencedError, type BusPublisher, type EventBus } from '../ports/bus';
import { tracedBatch } from '../observability/tracing';
import type { EventStore, StoredEvent } from '../ports/event-store';
import type { CheckpointStore } from '../ports/checkpoint';
import { follow, FollowerStopped, type Scope, type StoreFollower } from './follow';

/**
 * Follows the event store's global order from a stored checkpoint and publishes each event to the
 * bus. The checkpoint is saved only after the bus accepted the events, so a crash republishes a few
 * events rather than losing any: consumers are idempotent (at-least-once, exactly-once effect).
 * Events are published in batches (what the store handed over while the previous publish ran, at
 * most 500) to amortise the broker round trip: a batch follower of the store (./follow.ts).
 */
export class Relay {
  private follower: StoreFollower | null = null;
  private last: string | null = null;
  private stopped = false;

  constructor(
    private readonly store: EventStore,
    private readonly bus: EventBus,
    private readonly checkpoints: CheckpointStore,
    private readonly name = 'relay',
    /** Told about each failure the relay survives: reading the store, publishing, saving its checkpoint. */
    private readonly onError: (e: unknown, where: 'store' | 'bus' | 'checkpoint') => void = () => undefined,
    /**
     * A cluster's relay publishes through the bus's once-only publisher: its events and its
     * checkpoint commit together (a kill between the two republishes nothing), and a newer relay
     * fences this one. The checkpoint store is then a fallback (the first start of a cluster, or a
     * bus that lost the publisher's position).
     */
    private readonly publisher: BusPublisher | null = null,
  ) {}

  /** The last position the bus accepted. */
  get position(): string | null {
    return this.last;
  }

  /**
   * From the stored checkpoint, or (a bus that keeps nothing, whose groups catch up from the store
   * themselves) right after `after`: the head when the process started, so that an event stored
   * while the consumers were catching up is published too (they drop what they already had).
   * `scope` says who runs it: the cluster's relay (one, leased) or the in-process bus's (each instance its own).
   */
  async start(options: { after?: string | null; scope?: Scope } = {}): Promise<void> {
    this.stopped = false;
    const after = 'after' in options ? (options.after ?? null) : ((await this.publisher?.start()) ?? (await this.checkpoints.load(this.name)));
    this.last = after;
    if (after !== null) this.bus.markWatermark(after);
    // The checkpoint is saved once the bus accepted a batch; the store being away pauses the
    // follower (it reads again with backoff), it never ends it.
    const checkpoints: CheckpointStore = {
      load: async () => after,
      save: (name, position) => this.checkpoints.save(name, position).catch((e: unknown) => this.onError(e, 'checkpoint')),
      flush: () => this.checkpoints.flush(),
    };
    this.follower = await follow(this.store, {
      name: this.name,
      scope: options.scope ?? 'cluster',
      checkpoint: { from: 'saved', checkpoints },
      // Running is enough: nothing waits for the bus to have caught up.
      catchUp: false,
      handleBatch: (events) => this.publish(events),
      onError: (e) => this.onError(e, e instanceof PublisherFencedError || (e as Error).cause instanceof PublisherFencedError ? 'bus' : 'store'),
    });
  }

  /**
   * Publishes one batch: a bus that refuses is tried again every 500 ms until it accepts (nothing is
   * dropped). Throws when the relay must not go on: fenced (a newer relay owns the job, and publishes
   * from its own position), or stopped (what it had in hand stays behind the checkpoint).
   */
  private async publish(events: StoredEvent[]): Promise<void> {
    const publisher = this.publisher;
    let batch = events;
    while (batch.length > 0) {
      if (this.stopped) throw new FollowerStopped(this.name);
      try {
        // Tracing on: a span per command the batch carries, continuing its trace from the envelope.
        await tracedBatch('relay.publish', batch, { attributes: { 'webdial.bus': this.bus.name } }, (traced) =>
          publisher ? publisher.publish(traced as StoredEvent[]) : this.bus.publish(traced as StoredEvent[]),
        );
        break;
      } catch (e) {
        if (e instanceof PublisherFencedError) throw e;
        // The bus is down (e.g. a broker restart): keep the events and try again; nothing is dropped.
        this.onError(e, 'bus');
        await new Promise((r) => setTimeout(r, 500));
        // With the once-only publisher the outcome is unknown: what committed is not published again.
        if (publisher) {
          const at = await publisher.start().catch(() => undefined);
          if (at) batch = batch.filter((x) => x.position > at);
        }
      }
    }
    this.last = events[events.length - 1].position;
  }

  async stop(): Promise<void> {
    // Unpublished events stay behind the checkpoint and are published again by the next start.
    this.stopped = true;
    await this.follower?.stop();
    await this.publisher?.close();
  }
}
