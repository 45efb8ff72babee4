import type { EventBus } from '../ports/bus';
import { tracedBatch } from '../observability/tracing';
import type { EventStore, StoredEvent, Subscription } from '../ports/event-store';

/** Where the relay keeps the last position it published. */
export interface CheckpointStore {
  load(name: string): Promise<string | null>;
  save(name: string, position: string): Promise<void>;
}

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
  ) {}

  /** The last position the bus accepted. */
  get position(): string | null {
    return this.last;
  }

  async start(options: { from?: 'checkpoint' | 'head' } = {}): Promise<void> {
    let after = await this.checkpoints.load(this.name);
    if (options.from === 'head') after = await this.store.headPosition();
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
      try {
        // Tracing on: a span per command the batch carries, continuing its trace from the envelope.
        await tracedBatch('relay.publish', batch, { attributes: { 'webdial.bus': this.bus.name } }, (events) => this.bus.publish(events as StoredEvent[]));
      } catch (e) {
        // The bus is down (e.g. a broker restart): keep the events and try again; nothing is dropped.
        this.onError(e, 'bus');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      this.pending.splice(0, batch.length);
      this.last = batch[batch.length - 1]!.position;
      await this.checkpoints.save(this.name, this.last).catch((e) => this.onError(e, 'checkpoint'));
    }
    this.flushing = null;
  }

  async stop(): Promise<void> {
    await this.sub?.stop();
    // Unpublished events stay behind the checkpoint and are published again by the next start.
    this.stopped = true;
    await this.flushing;
  }
}

/**
 * Checkpoints in a small JSON file, replaced atomically. Saves are coalesced: at most one write in
 * flight, and the newest position wins (a crash republishes what followed the last write: the
 * consumers dedupe). Owned by one process (the relay of its data directory).
 */
export class FileCheckpointStore implements CheckpointStore {
  private all: Record<string, string> | null = null;
  private writing: Promise<void> | null = null;
  private dirty = false;

  constructor(private readonly path: string) {}

  private async read(): Promise<Record<string, string>> {
    if (this.all) return this.all;
    const { readFile } = await import('node:fs/promises');
    try {
      this.all = JSON.parse(await readFile(this.path, 'utf8')) as Record<string, string>;
    } catch {
      this.all = {};
    }
    return this.all;
  }

  async load(name: string): Promise<string | null> {
    return (await this.read())[name] ?? null;
  }

  async save(name: string, position: string): Promise<void> {
    (await this.read())[name] = position;
    this.dirty = true;
    this.writing ??= this.write().finally(() => (this.writing = null));
  }

  private async write(): Promise<void> {
    const { writeFile, rename } = await import('node:fs/promises');
    while (this.dirty) {
      this.dirty = false;
      const tmp = `${this.path}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(this.all));
      await rename(tmp, this.path);
    }
  }

  /** Resolves once the newest position is on disk. */
  async flush(): Promise<void> {
    await this.writing;
  }
}

/** For a bus that keeps nothing (in-process): the relay starts at the store's head, nothing to save. */
export const noCheckpoints: CheckpointStore = { load: async () => null, save: async () => undefined };
