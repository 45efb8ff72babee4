import { PublisherFencedError, retryDelayMs, topicOf, type BusPublisher, type BusSubscription, type EventBatch, type EventBus, type SubscribeOptions, type Topic } from '../../ports/bus';
import type { EventStore, StoredEvent } from '../../ports/event-store';

/** Events handed to a handler at once, at most. */
const BATCH = 500;

interface Group {
  name: string;
  topics: ReadonlySet<Topic>;
  handler: (batch: EventBatch) => Promise<void>;
  options: SubscribeOptions;
  /** Published events not yet delivered, every topic (the watermark moves over all of them). */
  queue: StoredEvent[];
  /** Highest position delivered (dedupes catch-up against live). */
  delivered: string | null;
  live: boolean;
  running: Promise<void> | null;
  stopped: boolean;
  /** When the last live batch was handed over (performance.now()), null before the first. */
  lastDelivery: number | null;
}

/**
 * The in-process bus of the embedded mode, with the delivery semantics of the Kafka adapter: every
 * group gets every event of its topics, in global order, at least once, in batches. It retains
 * nothing, so a group that subscribes with a checkpoint is first caught up from the event store,
 * then switched to live delivery without a gap: publications that arrive meanwhile are queued and
 * deduplicated by position. One source, `memory`, whose watermark is the last position handed over.
 * A failing handler gets the same batch again with backoff, until it succeeds or the group stops.
 */
export class MemoryBus implements EventBus {
  readonly name = 'memory';
  private readonly groups = new Set<Group>();

  /**
   * `lingerMs`: how long a group that was just handed a batch waits for more events before taking
   * a small one (fewer than BATCH / 10): under load the consumer's commits then carry dozens of
   * events instead of a few, at a latency cost of at most this. Default 5 ms; 0 disables it.
   */
  constructor(
    private readonly store: EventStore,
    private readonly options: { lingerMs?: number } = {},
  ) {}

  async publish(events: StoredEvent[]): Promise<void> {
    for (const g of this.groups) {
      g.queue.push(...events);
      if (g.live) this.pump(g);
    }
  }

  /**
   * In-process, a publish is whole or nothing by itself: the publisher only keeps its name's
   * checkpoint and epoch here (for this process's life, like everything the bus holds), so that a
   * newer publisher of the name fences the older one as on Kafka.
   */
  publisher(name: string): BusPublisher {
    const names = this.publishers;
    let epoch = 0;
    return {
      name,
      start: async () => {
        const state = names.get(name) ?? { epoch: 0, position: null };
        epoch = state.epoch + 1;
        names.set(name, { ...state, epoch });
        return state.position;
      },
      publish: async (events) => {
        const state = names.get(name);
        if (epoch === 0) throw new Error(`publisher ${name}: start() it before publishing`);
        if (!state || state.epoch !== epoch) throw new PublisherFencedError(name);
        if (events.length === 0) return;
        // publish() queues the events before it returns: the checkpoint moves in the same step.
        const queued = this.publish(events);
        state.position = events[events.length - 1].position;
        await queued;
      },
      close: async () => {
        epoch = 0;
      },
    };
  }
  private readonly publishers = new Map<string, { epoch: number; position: string | null }>();

  /** Nothing to do: the in-process bus's one source is watermarked by the events it hands over. */
  markWatermark(): void {}

  async sources(): Promise<string[]> {
    return ['memory'];
  }

  async ping(): Promise<void> {}

  async subscribe(group: string, topics: readonly Topic[], handler: (batch: EventBatch) => Promise<void>, options: SubscribeOptions = {}): Promise<BusSubscription> {
    const g: Group = { name: group, topics: new Set(topics), handler, options, queue: [], delivered: null, live: false, running: null, stopped: false, lastDelivery: null };
    this.groups.add(g);
    if (options.afterPosition !== undefined || options.fromBeginning) {
      let after = options.afterPosition ?? null;
      while (!g.stopped) {
        const batch = await this.store.readAll({ after, limit: BATCH });
        if (batch.length === 0) break;
        after = batch[batch.length - 1].position;
        await this.deliver(g, batch, after);
        g.delivered = after;
      }
    }
    g.live = true;
    this.pump(g);
    return {
      stop: async () => {
        g.stopped = true;
        this.groups.delete(g);
        await g.running;
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.groups].map(async (g) => {
        g.stopped = true;
        await g.running;
      }),
    );
    this.groups.clear();
  }

  private pump(g: Group): void {
    if (g.running || g.stopped) return;
    g.running = (async () => {
      const linger = this.options.lingerMs ?? 5;
      while (g.queue.length > 0 && !g.stopped) {
        if (linger > 0 && g.queue.length < BATCH / 10 && g.lastDelivery !== null && performance.now() - g.lastDelivery < linger)
          await new Promise((r) => setTimeout(r, linger));
        const taken = g.queue.splice(0, BATCH).filter((e) => g.delivered === null || e.position > g.delivered);
        if (taken.length === 0) continue;
        const watermark = taken[taken.length - 1].position;
        await this.deliver(g, taken, watermark);
        g.delivered = watermark;
        g.lastDelivery = performance.now();
      }
    })().finally(() => {
      g.running = null;
      if (g.queue.length > 0 && !g.stopped) this.pump(g);
    });
  }

  /** Hands the group's events of `events` over, retrying with backoff until the handler succeeds. */
  private async deliver(g: Group, events: readonly StoredEvent[], watermark: string): Promise<void> {
    const batch: EventBatch = { events: events.filter((e) => g.topics.has(topicOf(e.streamId))), source: 'memory', watermark };
    for (let attempt = 1; !g.stopped; attempt++) {
      try {
        await g.handler(batch);
        return;
      } catch (err) {
        g.options.onRetry?.(err, attempt, batch);
        await new Promise((r) => setTimeout(r, retryDelayMs(attempt)));
      }
    }
  }
}
