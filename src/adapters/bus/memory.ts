import type { BusSubscription, EventBus, Topic } from '../../ports/bus';
import type { EventStore, StoredEvent } from '../../ports/event-store';
import { topicOf } from '../../domain/shared/streams';

interface Group {
  name: string;
  topics: ReadonlySet<Topic>;
  handler: (e: StoredEvent) => Promise<void>;
  queue: StoredEvent[];
  /** Highest position handed to the handler (dedupes catch-up against live). */
  delivered: string | null;
  live: boolean;
  running: Promise<void> | null;
  stopped: boolean;
  onError: (e: unknown) => void;
}

/**
 * The in-process bus of the embedded mode, with the delivery semantics of the Kafka adapter: every
 * group gets every event of its topics, in global order, at least once. It retains nothing, so a
 * group that subscribes with a checkpoint is first caught up from the event store, then switched to
 * live delivery without a gap: publications that arrive meanwhile are queued and deduplicated by
 * position. A failing handler is retried, then the event is logged as dead-lettered and skipped.
 */
export class MemoryBus implements EventBus {
  readonly name = 'memory';
  private readonly groups = new Set<Group>();

  constructor(
    private readonly store: EventStore,
    private readonly options: { maxAttempts?: number; onDeadLetter?: (group: string, e: StoredEvent, err: unknown) => void } = {},
  ) {}

  async publish(events: StoredEvent[]): Promise<void> {
    for (const g of this.groups) {
      for (const e of events) if (g.topics.has(topicOf(e.streamId))) g.queue.push(e);
      if (g.live) this.pump(g);
    }
  }

  async subscribe(
    group: string,
    topics: readonly Topic[],
    handler: (event: StoredEvent) => Promise<void>,
    options: { fromBeginning?: boolean; afterPosition?: string | null } = {},
  ): Promise<BusSubscription> {
    const g: Group = {
      name: group,
      topics: new Set(topics),
      handler,
      queue: [],
      delivered: null,
      live: false,
      running: null,
      stopped: false,
      onError: () => undefined,
    };
    this.groups.add(g);
    const catchUp = options.afterPosition !== undefined || options.fromBeginning;
    if (catchUp) {
      let after = options.afterPosition ?? null;
      for (;;) {
        const batch = await this.store.readAll({ after, limit: 500 });
        if (batch.length === 0) break;
        for (const e of batch) if (!g.stopped && g.topics.has(topicOf(e.streamId))) await this.deliver(g, e);
        after = batch[batch.length - 1]!.position;
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
    await Promise.all([...this.groups].map(async (g) => {
      g.stopped = true;
      await g.running;
    }));
    this.groups.clear();
  }

  private pump(g: Group): void {
    if (g.running || g.stopped) return;
    g.running = (async () => {
      while (g.queue.length > 0 && !g.stopped) {
        const e = g.queue.shift()!;
        if (g.delivered !== null && e.position <= g.delivered) continue;
        await this.deliver(g, e);
        g.delivered = e.position;
      }
    })().finally(() => {
      g.running = null;
      if (g.queue.length > 0 && !g.stopped) this.pump(g);
    });
  }

  private async deliver(g: Group, e: StoredEvent): Promise<void> {
    const max = this.options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        await g.handler(e);
        return;
      } catch (err) {
        if (attempt >= max) {
          this.options.onDeadLetter?.(g.name, e, err);
          return;
        }
        // Back off: a transient failure (a locked database) gets time to clear before the next try.
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }
}
