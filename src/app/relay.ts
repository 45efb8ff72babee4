import { PublisherFencedError, type BusPublisher, type EventBus } from '../ports/bus';
import { tracedBatch } from '../observability/tracing';
import type { EventStore, StoredEvent, Subscription } from '../ports/event-store';
import type { CheckpointStore } from '../ports/checkpoint';

/**
 * Follows the event store's global order from a stored checkpoint and publishes each event to the
 * bus. The checkpoint is saved only after the bus accepted the events, so a crash republishes a few
 * events rather than losing any: consumers are idempotent (at-least-once, exactly-once effect).
 * Events are published in small batches to amortise the broker round trip.
 */
export class Relay {
  private sub: Subscription | null = null;
  private pending: StoredEvent[] = [];
  private flushing: Promise<void> | null = null;
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
   */
  async start(options: { after?: string | null } = {}): Promise<void> {
    const after = 'after' in options ? (options.after ?? null) : ((await this.publisher?.start()) ?? (await this.checkpoints.load(this.name)));
    this.last = after;
    if (after !== null) this.bus.markWatermark(after);
    // The store being away pauses the subscription (it reads again with backoff); it never ends it.
    this.sub = this.store.subscribe({ after, onError: (e) => this.onError(e, 'store') }, async (e) => {
      this.pending.push(e);
      // Publish once per burst: the handler returns at once and the flush batches what piled up.
      if (!this.flushing) this.flushing = this.flush();
      if (this.pending.length >= 500) await this.flushing;
    });
    this.sub.done.catch((e) => this.onError(e, 'store'));
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0 && !this.stopped) {
      const batch = this.pending.slice(0, 500);
      const publisher = this.publisher;
      try {
        // Tracing on: a span per command the batch carries, continuing its trace from the envelope.
        await tracedBatch('relay.publish', batch, { attributes: { 'webdial.bus': this.bus.name } }, (events) =>
          publisher ? publisher.publish(events as StoredEvent[]) : this.bus.publish(events as StoredEvent[]),
        );
      } catch (e) {
        // Fenced: a newer relay owns the job (this instance lost its lease); it publishes from its own position.
        if (e instanceof PublisherFencedError) {
          this.onError(e, 'bus');
          this.stopped = true;
          break;
        }
        // The bus is down (e.g. a broker restart): keep the events and try again; nothing is dropped.
        this.onError(e, 'bus');
        await new Promise((r) => setTimeout(r, 500));
        // With the once-only publisher the outcome is unknown: what committed is not published again.
        if (publisher) {
          const at = await publisher.start().catch(() => undefined);
          if (at) {
            this.pending = this.pending.filter((x) => x.position > at);
            if (this.last === null || at > this.last) this.last = at;
          }
        }
        continue;
      }
      this.pending.splice(0, batch.length);
      this.last = batch[batch.length - 1].position;
      await this.checkpoints.save(this.name, this.last).catch((e) => this.onError(e, 'checkpoint'));
    }
    this.flushing = null;
  }

  async stop(): Promise<void> {
    await this.sub?.stop();
    // Unpublished events stay behind the checkpoint and are published again by the next start.
    this.stopped = true;
    await this.flushing;
    await this.publisher?.close();
  }
}
