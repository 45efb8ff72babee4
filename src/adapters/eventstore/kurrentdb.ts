import {
  ANY,
  BACKWARDS,
  CancelledError,
  DeadlineExceededError,
  END,
  FORWARDS,
  jsonEvent,
  KurrentDBClient,
  NO_STREAM,
  START,
  streamNameFilter,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError as KurrentWrongExpectedVersion,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type AppendStreamState,
  type Position,
  type ReadPosition,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import type {
  AppendResult,
  EventStore,
  EventStoreStats,
  ExpectedVersion,
  NewEvent,
  StoredEvent,
  SubscribeOptions,
  Snapshot,
  Subscription,
} from '../../ports/event-store';
import { asUnavailable, DependencyUnavailableError, reconnectDelayMs } from '../../ports/dependency';
import { WrongExpectedVersionError } from '../../ports/event-store';
import { backoff, checkExpected, checkLimit, checkNewEvents, pad } from './common';
import { productionUpcasters, type UpcasterRegistry } from './upcasting';

export interface KurrentDbEventStoreOptions {
  /**
   * Every webdial stream is stored as `<prefix><streamId>`. The prefix is how $all reads and
   * subscriptions are filtered to our events (no system events, no other application's streams).
   * Default 'webdial:'; tests use a random one.
   */
  streamPrefix?: string;
  upcasters?: UpcasterRegistry;
}

/** What webdial keeps in a KurrentDB event's metadata (the envelope fields KurrentDB has no slot for). */
interface Metadata {
  occurredAt: string;
  merchantId: string | null;
  correlationId: string;
  causationId: string | null;
  schemaVersion: number;
  /** KurrentDB's own correlation fields, so its projections and UI can follow them. */
  $correlationId: string;
  $causationId?: string;
  /** W3C trace context of the command (tracing on). */
  traceparent?: string;
}

/** `<commit, 20 digits>:<prepare, 20 digits>`: string order = $all order. */
export const formatKurrentPosition = (p: Position): string => `${pad(p.commit)}:${pad(p.prepare)}`;

const parsePosition = (position: string): Position => {
  const m = /^(\d{20}):(\d{20})$/.exec(position);
  if (!m) throw new RangeError(`not a KurrentDB event store position: ${position}`);
  return { commit: BigInt(m[1]), prepare: BigInt(m[2]) };
};

/**
 * What the client raises when the node cannot be reached or went away: its UnavailableError (gRPC half
 * after reconnecting, and the native bridge), CancelledError (a call cut by the dying connection),
 * DeadlineExceededError, and a raw gRPC status 14 UNAVAILABLE (a call made while no connection can be
 * established). All become DependencyUnavailableError('eventStore'), as the other adapters' do; anything
 * else is returned as it is.
 */
export const kurrentUnavailable = (e: unknown): unknown =>
  e instanceof UnavailableError || e instanceof CancelledError || e instanceof DeadlineExceededError || (e as { code?: unknown } | null)?.code === 14
    ? new DependencyUnavailableError('eventStore', e)
    : asUnavailable('eventStore', e);

const guard = <T>(p: Promise<T>): Promise<T> =>
  p.catch((e: unknown) => {
    throw kurrentUnavailable(e);
  });

/**
 * The KurrentDB event store. Our stream version N is KurrentDB revision N-1 (revisions start at 0),
 * so expected version 0 maps to NO_STREAM and N to revision N-1. The global order is $all, whose
 * positions KurrentDB assigns at commit: a reader never sees a gap, so no extra scheme is needed.
 */
export class KurrentDbEventStore implements EventStore {
  readonly name = 'kurrentdb';
  private readonly prefix: string;
  private readonly upcasters: UpcasterRegistry;
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;

  constructor(private readonly client: KurrentDBClient, options: KurrentDbEventStoreOptions = {}) {
    this.prefix = options.streamPrefix ?? 'webdial:';
    this.upcasters = options.upcasters ?? productionUpcasters;
    if (this.prefix.length === 0 || this.prefix.startsWith('$')) throw new RangeError('streamPrefix must be non-empty and not a system prefix');
  }

  /** Connects and checks the server answers (reads one event of $all). */
  static async open(connectionString: string, options: KurrentDbEventStoreOptions = {}): Promise<KurrentDbEventStore> {
    const client = KurrentDBClient.connectionString(connectionString);
    const store = new KurrentDbEventStore(client, options);
    try {
      for await (const _ of client.readAll({ maxCount: 1, direction: BACKWARDS, fromPosition: END })) break;
    } catch (e) {
      await client.dispose().catch(() => undefined);
      throw new Error(`KurrentDB at KURRENTDB_URL is not reachable: ${(e as Error).message}`);
    }
    return store;
  }

  append(streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    return guard(this.appendNow(streamId, events, expected));
  }

  private async appendNow(streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    this.assertOpen();
    checkExpected(expected);
    checkNewEvents(streamId, events);
    if (events.length === 0) {
      const actual = await this.currentVersion(streamId);
      if (expected !== 'any' && expected !== actual) throw new WrongExpectedVersionError(streamId, expected, actual);
      return { nextVersion: actual, events: [] };
    }
    const streamState: AppendStreamState = expected === 'any' ? ANY : expected === 0 ? NO_STREAM : BigInt(expected - 1);
    const data = events.map((e) =>
      jsonEvent({
        id: e.eventId,
        type: e.type,
        data: (e.data ?? null) as never,
        metadata: this.metadataOf(e) as never,
      }),
    );
    let nextRevision: bigint;
    try {
      nextRevision = (await this.client.appendToStream(this.prefix + streamId, data, { streamState })).nextExpectedRevision;
    } catch (e) {
      if (e instanceof KurrentWrongExpectedVersion) {
        const actual = typeof e.actualState === 'bigint' ? Number(e.actualState) + 1 : 0;
        throw new WrongExpectedVersionError(streamId, expected, actual);
      }
      throw e;
    }
    const nextVersion = Number(nextRevision) + 1;
    // The append answers with the last position only; read the batch back for each event's own. The batch
    // holds versions nextVersion - n + 1 .. nextVersion.
    const stored = await this.readStream(streamId, { fromVersion: nextVersion - events.length + 1 });
    return { nextVersion, events: stored.slice(0, events.length) };
  }

  readStream(streamId: string, options: { fromVersion?: number } = {}): Promise<StoredEvent[]> {
    return guard(this.readStreamNow(streamId, options));
  }

  private async readStreamNow(streamId: string, options: { fromVersion?: number }): Promise<StoredEvent[]> {
    this.assertOpen();
    const from = Math.max(1, options.fromVersion ?? 1);
    const out: StoredEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(this.prefix + streamId, { fromRevision: BigInt(from - 1), direction: FORWARDS })) {
        const e = this.toEvent(resolved);
        if (e) out.push(e);
      }
    } catch (e) {
      if (e instanceof StreamNotFoundError) return [];
      throw e;
    }
    return out;
  }

  readAll(options: { after?: string | null; limit?: number } = {}): Promise<StoredEvent[]> {
    return guard(this.readAllNow(options));
  }

  private async readAllNow(options: { after?: string | null; limit?: number }): Promise<StoredEvent[]> {
    this.assertOpen();
    const limit = checkLimit(options.limit);
    const after = options.after ?? null;
    const fromPosition: ReadPosition = after === null ? START : parsePosition(after);
    const out: StoredEvent[] = [];
    // fromPosition is inclusive: ask for one more and drop the checkpoint's own event.
    for await (const resolved of this.client.readAll({
      fromPosition,
      maxCount: limit + 1,
      direction: FORWARDS,
      filter: streamNameFilter({ prefixes: [this.prefix] }),
    })) {
      const e = this.toEvent(resolved);
      if (!e || (after !== null && e.position <= after)) continue;
      out.push(e);
      if (out.length === limit) break;
    }
    return out;
  }

  /**
   * A catch-up subscription to $all filtered by our stream prefix; the checkpoint is our position
   * string. When the gRPC stream fails (the server restarted, the connection dropped), the error is
   * reported (`options.onError`) and a new subscription starts from the last delivered position
   * after a backoff; only a handler error ends it.
   */
  subscribe(options: SubscribeOptions, handler: (event: StoredEvent) => Promise<void>): Subscription {
    this.assertOpen();
    if (options.after) parsePosition(options.after); // a malformed position throws here, not later
    let stopped = false;
    let current: AllStreamSubscription | null = null;
    let wakeSelf: (() => void) | null = null;
    class HandlerFailed extends Error {
      constructor(readonly error: unknown) {
        super('subscription handler failed');
      }
    }
    const run = async () => {
      let checkpoint = options.after ?? null;
      for (let failures = 0; !stopped; ) {
        const kurrent = this.client.subscribeToAll({
          fromPosition: checkpoint === null ? START : parsePosition(checkpoint),
          filter: streamNameFilter({ prefixes: [this.prefix] }),
        });
        current = kurrent;
        try {
          // for-await gives back-pressure: the next event is read only after the handler finished.
          for await (const resolved of kurrent) {
            if (stopped) return;
            failures = 0;
            const e = this.toEvent(resolved);
            if (!e || (checkpoint !== null && e.position <= checkpoint)) continue;
            try {
              if (!options.types || options.types.has(e.type)) await handler(e);
            } catch (err) {
              throw new HandlerFailed(err);
            }
            checkpoint = e.position;
          }
          if (stopped) return;
          throw new Error('the KurrentDB subscription ended');
        } catch (err) {
          if (err instanceof HandlerFailed) throw err.error;
          if (stopped) return;
          failures++;
          options.onError?.(kurrentUnavailable(err), failures);
          await backoff(reconnectDelayMs(failures), (w) => (wakeSelf = w));
        } finally {
          await kurrent.unsubscribe().catch(() => undefined);
        }
      }
    };
    const done = run();
    done.catch(() => undefined);
    const sub: Subscription = {
      done,
      stop: async () => {
        stopped = true;
        wakeSelf?.();
        await current?.unsubscribe().catch(() => undefined);
        await done.catch(() => undefined);
      },
    };
    this.subscriptions.add(sub);
    void done.finally(() => this.subscriptions.delete(sub)).catch(() => undefined);
    return sub;
  }

  /** Walks our part of $all (KurrentDB keeps no count per prefix): fine for an operator command. */
  stats(): Promise<EventStoreStats> {
    return guard(this.statsNow());
  }

  private async statsNow(): Promise<EventStoreStats> {
    this.assertOpen();
    let events = 0;
    let last: string | null = null;
    const streams = new Set<string>();
    for await (const resolved of this.client.readAll({ fromPosition: START, direction: FORWARDS, filter: streamNameFilter({ prefixes: [this.prefix] }) })) {
      const r = resolved.event;
      if (!r?.position || !r.streamId.startsWith(this.prefix)) continue;
      events++;
      streams.add(r.streamId);
      last = formatKurrentPosition(r.position);
    }
    return { events, streams: streams.size, lastPosition: last };
  }

  /** The last of our events in $all, read backwards: no walk. */
  headPosition(): Promise<string | null> {
    return guard(this.headPositionNow());
  }

  private async headPositionNow(): Promise<string | null> {
    this.assertOpen();
    for await (const resolved of this.client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1, filter: streamNameFilter({ prefixes: [this.prefix] }) })) {
      const e = this.toEvent(resolved);
      if (e) return e.position;
    }
    return null;
  }

  isPosition(position: string): boolean {
    return /^\d{20}:\d{20}$/.test(position);
  }

  ping(): Promise<void> {
    return guard(this.pingNow());
  }

  private async pingNow(): Promise<void> {
    this.assertOpen();
    for await (const _ of this.client.readAll({ maxCount: 1, direction: BACKWARDS, fromPosition: END })) break;
  }

  /**
   * Snapshots live in streams of their own, `<prefix without ':'>-snapshot:<kind>:<streamId>`, outside
   * the prefix that $all reads are filtered to, and capped at one event ($maxCount 1).
   */
  private snapshotStream(streamId: string, kind: string): string {
    return `${this.prefix.replace(/:$/, '')}-snapshot:${kind}:${streamId}`;
  }

  readSnapshot(streamId: string, kind: string): Promise<Snapshot | null> {
    return guard(this.readSnapshotNow(streamId, kind));
  }

  private async readSnapshotNow(streamId: string, kind: string): Promise<Snapshot | null> {
    this.assertOpen();
    return (await this.lastSnapshot(this.snapshotStream(streamId, kind)))?.snapshot ?? null;
  }

  /**
   * Appends with the snapshot stream's current revision as the expected one, so that two writers racing
   * (two instances, or two folds in one) cannot put an older snapshot over a newer one: the loser re-reads
   * and stops if what is there is already as new.
   */
  writeSnapshot(streamId: string, kind: string, snapshot: Snapshot): Promise<void> {
    return guard(this.writeSnapshotNow(streamId, kind, snapshot));
  }

  private async writeSnapshotNow(streamId: string, kind: string, snapshot: Snapshot): Promise<void> {
    this.assertOpen();
    const stream = this.snapshotStream(streamId, kind);
    for (;;) {
      const current = await this.lastSnapshot(stream);
      if (current?.snapshot && current.snapshot.version >= snapshot.version) return;
      if (!current) await this.client.setStreamMetadata(stream, { maxCount: 1 });
      try {
        await this.client.appendToStream(stream, jsonEvent({ type: 'Snapshot', data: { version: snapshot.version, state: snapshot.state } as never }), {
          streamState: current ? current.revision : NO_STREAM,
        });
        return;
      } catch (e) {
        if (!(e instanceof KurrentWrongExpectedVersion)) throw e;
      }
    }
  }

  /**
   * The revision of the snapshot stream's last event ($maxCount 1 keeps only it) and the snapshot it holds
   * (null when unreadable); null when the stream has no event.
   */
  private async lastSnapshot(stream: string): Promise<{ revision: bigint; snapshot: Snapshot | null } | null> {
    try {
      for await (const resolved of this.client.readStream(stream, { fromRevision: END, direction: BACKWARDS, maxCount: 1 })) {
        if (!resolved.event) continue;
        const d = resolved.event.data as { version?: unknown; state?: unknown } | undefined;
        return { revision: resolved.event.revision, snapshot: d && typeof d.version === 'number' ? { version: d.version, state: d.state } : null };
      }
    } catch (e) {
      if (e instanceof StreamNotFoundError) return null;
      throw e;
    }
    return null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    await this.client.dispose();
  }

  private async currentVersion(streamId: string): Promise<number> {
    try {
      for await (const resolved of this.client.readStream(this.prefix + streamId, { fromRevision: END, direction: BACKWARDS, maxCount: 1 })) {
        if (resolved.event) return Number(resolved.event.revision) + 1;
      }
    } catch (e) {
      if (e instanceof StreamNotFoundError) return 0;
      throw e;
    }
    return 0;
  }

  private metadataOf(e: NewEvent): Metadata {
    return {
      occurredAt: e.occurredAt,
      merchantId: e.merchantId,
      correlationId: e.correlationId,
      causationId: e.causationId,
      schemaVersion: e.schemaVersion ?? this.upcasters.currentVersion(e.type),
      $correlationId: e.correlationId,
      ...(e.causationId ? { $causationId: e.causationId } : {}),
      ...(e.traceparent ? { traceparent: e.traceparent } : {}),
    };
  }

  /** null for anything that is not one of our JSON events (links, system events, other prefixes). */
  private toEvent(resolved: ResolvedEvent | AllStreamResolvedEvent): StoredEvent | null {
    const r = resolved.event;
    if (!r || !r.isJson || !r.streamId.startsWith(this.prefix) || !r.position) return null;
    const m = (r.metadata ?? {}) as Partial<Metadata>;
    return this.upcasters.upcast({
      eventId: r.id,
      type: r.type,
      streamId: r.streamId.slice(this.prefix.length),
      streamVersion: Number(r.revision) + 1,
      position: formatKurrentPosition(r.position),
      occurredAt: m.occurredAt ?? r.created.toISOString(),
      recordedAt: r.created.toISOString(),
      merchantId: m.merchantId ?? null,
      correlationId: m.correlationId ?? '',
      causationId: m.causationId ?? null,
      schemaVersion: m.schemaVersion ?? 1,
      data: r.data,
      ...(typeof m.traceparent === 'string' ? { traceparent: m.traceparent } : {}),
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('KurrentDB event store is closed');
  }
}
