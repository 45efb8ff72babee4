import type { Decider, Fold } from '../domain/shared/decider';
import type { EventStore, StoredEvent } from '../ports/event-store';

type AnyEvent = { type: string; data: unknown };

/** A folded state, the stream version it includes and the store position of its newest event. */
export interface CachedState<S = unknown> {
  state: S;
  version: number;
  /** Store position of the newest event folded in (null when unknown: from a snapshot). */
  position: string | null;
  /** Version of the newest snapshot known to be stored (0: none). */
  snapshotVersion: number;
  /** No command can change the state any more (Decider.isTerminal): loading reads nothing. */
  terminal: boolean;
}

export interface StreamCacheOptions {
  /** Folded states kept in memory, least recently used dropped first. Default 50,000. */
  cacheEntries?: number;
  /** A snapshot is written once a stream's state is this many events past its newest snapshot. Default 100. */
  snapshotEvery?: number;
  /** A snapshot write failed: logged by the caller; the command is not affected. */
  onSnapshotError?: (e: unknown, streamId: string) => void;
}

/**
 * What the command handler loads through (docs/performance.md): a per-process LRU of folded states
 * keyed by (fold name, stream), caught up with one indexed read of the events after the cached
 * version. A stream this process has not seen starts from its newest snapshot (written in the
 * background every `snapshotEvery` events), so even after a restart a long stream is never read
 * from the start. The cache is never trusted for a write: the handler's append carries the version.
 *
 * An append through the handler advances every other fold of the stream that was at the appended
 * from-version (no read later); a stream the append created starts cached in every fold used on
 * its category (a mutation's answer after a download reads nothing).
 */
export class StreamCache {
  private readonly entries = new Map<string, CachedState>();
  /** Every fold a state has been cached of, by name. */
  private readonly folds = new Map<string, Fold<unknown, AnyEvent>>();
  /** The stream categories each fold has been used on. */
  private readonly categories = new Map<string, Set<string>>();
  private readonly cacheEntries: number;
  private readonly snapshotEvery: number;

  constructor(
    private readonly store: Pick<EventStore, 'readStream' | 'readSnapshot' | 'writeSnapshot'>,
    private readonly options: StreamCacheOptions = {},
  ) {
    this.cacheEntries = options.cacheEntries ?? 50_000;
    this.snapshotEvery = options.snapshotEvery ?? 100;
  }

  /**
   * The stream's state now: the cached fold (or the newest snapshot) caught up with the store. A
   * terminal state reads nothing. Folds `alongside` (a command's answering View) are caught up by
   * the same read: one trip to the store for all of them.
   */
  async load<S, E extends AnyEvent>(fold: Fold<S, E>, streamId: string, alongside: ReadonlyArray<Fold<unknown, E>> = []): Promise<CachedState<S>> {
    const folds: ReadonlyArray<Fold<unknown, E>> = [fold, ...alongside];
    const entries = await Promise.all(folds.map(async (f) => (this.register(f, streamId), this.cached(f, streamId) ?? (await this.fromSnapshot(f, streamId)))));
    const behind = entries.filter((e) => !e.terminal);
    const events = behind.length === 0 ? [] : await this.store.readStream(streamId, { fromVersion: Math.min(...behind.map((e) => e.version)) + 1 });
    const loaded = folds.map((f, i) => {
      const entry = entries[i];
      return this.remember(f, streamId, entry.terminal ? entry : this.folded(f, streamId, entry, events));
    });
    return loaded[0] as CachedState<S>;
  }

  /** The cached state, without asking the store (undefined: none in this process). Does not mark it used. */
  cached<S>(fold: Fold<S, never>, streamId: string): CachedState<S> | undefined {
    return this.entries.get(keyOf(fold, streamId)) as CachedState<S> | undefined;
  }

  /** Folds the events stored after the entry's version into it (and snapshots when due). */
  async catchUp<S, E extends AnyEvent>(fold: Fold<S, E>, streamId: string, entry: CachedState<S>): Promise<CachedState<S>> {
    return this.folded(fold, streamId, entry, await this.store.readStream(streamId, { fromVersion: entry.version + 1 }));
  }

  /** The entry with the events after its version folded in (and snapshotted when due). */
  private folded<S, E extends AnyEvent>(fold: Fold<S, E>, streamId: string, entry: CachedState<S>, read: readonly StoredEvent[]): CachedState<S> {
    const events = read.filter((e) => e.streamVersion > entry.version);
    if (events.length === 0) return entry;
    let state = entry.state;
    for (const e of events) state = fold.evolve(state, { type: e.type, data: e.data } as E);
    const newest = events[events.length - 1];
    const terminal = (fold as Partial<Decider<S, unknown, E>>).isTerminal?.(state) ?? false;
    return this.snapshotIfDue(fold, streamId, { ...entry, state, version: newest.streamVersion, position: newest.position, terminal });
  }

  /**
   * Keeps the entry as the fold's newest (most recently used); a slow reader never puts back an
   * older state than a concurrent command left. Returns what is cached now.
   */
  remember<S>(fold: Fold<S, never>, streamId: string, entry: CachedState<S>): CachedState<S> {
    this.register(fold, streamId);
    const key = keyOf(fold, streamId);
    const known = this.entries.get(key) as CachedState<S> | undefined;
    const kept = known && known.version > entry.version ? known : entry;
    // Map order is insertion order: re-inserting marks the entry as most recently used.
    this.entries.delete(key);
    this.entries.set(key, kept);
    if (this.entries.size > this.cacheEntries) this.entries.delete(this.entries.keys().next().value!);
    return kept;
  }

  /**
   * The handler appended `events` to the stream, taking it from `from` to `to` (whose newest event is
   * at `position`), and `next` is the decider's state after them: it is cached (snapshotted when due),
   * and every other fold of the stream that was exactly at `from` takes the events too.
   */
  appended<S, E extends AnyEvent>(decider: Decider<S, unknown, E>, streamId: string, from: CachedState<S>, events: readonly E[], next: S, to: number, position: string | null): void {
    const terminal = decider.isTerminal?.(next) ?? false;
    this.remember(decider, streamId, this.snapshotIfDue(decider, streamId, { ...from, state: next, version: to, position, terminal }));
    const category = categoryOf(streamId);
    for (const [name, fold] of this.folds) {
      if (name === decider.name) continue;
      const key = `${name}|${streamId}`;
      const entry = this.entries.get(key) ?? (from.version === 0 && this.categories.get(name)?.has(category) ? initial(fold) : undefined);
      if (!entry || entry.version !== from.version) continue;
      let state = entry.state;
      for (const e of events) state = fold.evolve(state, e);
      this.remember(fold, streamId, { ...entry, state, version: to, position });
    }
  }

  private register(fold: Fold<unknown, never>, streamId: string): void {
    if (!this.folds.has(fold.name)) this.folds.set(fold.name, fold);
    const known = this.categories.get(fold.name);
    if (!known) this.categories.set(fold.name, new Set([categoryOf(streamId)]));
    else known.add(categoryOf(streamId));
  }

  private async fromSnapshot<S>(fold: Fold<S, never>, streamId: string): Promise<CachedState<S>> {
    const snap = await this.store.readSnapshot(streamId, fold.name).catch(() => null);
    if (snap && Number.isInteger(snap.version) && snap.version > 0)
      return { state: snap.state as S, version: snap.version, position: null, snapshotVersion: snap.version, terminal: false };
    return initial(fold);
  }

  /** Writes a snapshot in the background when the state is far enough past the last one. */
  private snapshotIfDue<S>(fold: Fold<S, never>, streamId: string, entry: CachedState<S>): CachedState<S> {
    if (entry.version - entry.snapshotVersion < this.snapshotEvery) return entry;
    this.store
      .writeSnapshot(streamId, fold.name, { version: entry.version, state: entry.state })
      .catch((e: unknown) => this.options.onSnapshotError?.(e, streamId));
    return { ...entry, snapshotVersion: entry.version };
  }
}

const keyOf = (fold: { name: string }, streamId: string) => `${fold.name}|${streamId}`;
const categoryOf = (streamId: string) => streamId.slice(0, streamId.indexOf('-'));
const initial = <S>(fold: Fold<S, never>): CachedState<S> => ({ state: fold.initialState, version: 0, position: null, snapshotVersion: 0, terminal: false });
