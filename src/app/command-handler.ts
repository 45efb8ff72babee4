import type { Decider, Fold } from '../domain/shared/decider';
import type { EventStore, NewEvent, StoredEvent } from '../ports/event-store';
import { WrongExpectedVersionError } from '../ports/event-store';
import { CURRENT_SCHEMA_VERSION, type WebdialEventType } from '../domain/events';
import type { IdGenerator } from './ids';
import { notePosition } from './consistency';
import type { Span } from '@opentelemetry/api';
import { currentTraceparent, inSpan } from '../observability/tracing';

/** The active span's context for the envelope (absent while tracing is off). */
const withTraceparent = (): { traceparent?: string } => {
  const traceparent = currentTraceparent();
  return traceparent ? { traceparent } : {};
};

/** Who caused a command: carried into every event's envelope. */
export interface CommandMetadata {
  correlationId: string;
  causationId: string | null;
  /** The merchant the stream belongs to (null for admin-level streams such as gateways). */
  merchantId: string | null;
}

export interface HandleResult<S, E> {
  /** State after the new events. */
  state: S;
  /** The domain events decided (may be empty: an idempotent repeat). */
  events: E[];
  stored: StoredEvent[];
  /** The stream's version after the command (what `loadAtLeast` can ask for). */
  version: number;
}

/** A folded state and the stream version it includes. */
export interface Folded<S> {
  state: S;
  version: number;
}

interface Entry {
  state: unknown;
  version: number;
  /** Store position of the newest event folded in (null when unknown: from a snapshot). */
  position: string | null;
  /** Version of the newest snapshot known to be stored (0: none). */
  snapshotVersion: number;
  terminal: boolean;
}

export interface CommandHandlerOptions {
  /** Attempts after a version conflict before the conflict reaches the caller. Default 5. */
  maxRetries?: number;
  /** Folded states kept in memory, least recently used dropped first. Default 50,000. */
  cacheEntries?: number;
  /** A snapshot is written once a stream's state is this many events past its newest snapshot. Default 100. */
  snapshotEvery?: number;
  /** A snapshot write failed: logged by the caller; the command is not affected. */
  onSnapshotError?: (e: unknown, streamId: string) => void;
}

/**
 * The one generic command handler (STYLE §7): fold the stream, decide, append with the expected
 * version; on a version conflict fold the new events and decide again (another writer got there
 * first), up to `maxRetries`. Domain errors propagate unchanged; resolvers hold no business rules.
 *
 * Cost per command does not grow with the stream (docs/performance.md): folded states are kept in a
 * per-process cache of (state, version), and loading reads only the events after the cached version.
 * A stream this process has not seen starts from its newest snapshot (written every `snapshotEvery`
 * events), so even after a restart a stream of a million events is never read from the start.
 *
 * Concurrency stays exact across processes because the cache is never trusted for a write: an
 * append carries the version the decision was made on, and the store refuses it when another
 * process appended meanwhile. A decision made on the cached state without reading first is only
 * kept when it produced events (the append verifies it); a refusal or a no-op is decided again on
 * a state freshly caught up with the store, so a stale cache can never refuse or skip a command.
 */
export class CommandHandler {
  private readonly cache = new Map<string, Entry>();
  /** Every fold this handler has cached a state of, by name: kept current by the commands' own appends. */
  private readonly folds = new Map<string, Fold<unknown, { type: string; data: unknown }>>();
  /** The stream categories each fold has been used on: a stream created here starts cached in them. */
  private readonly categories = new Map<string, Set<string>>();
  private readonly maxRetries: number;
  private readonly cacheEntries: number;
  private readonly snapshotEvery: number;

  constructor(
    private readonly store: EventStore,
    private readonly ids: IdGenerator,
    private readonly options: CommandHandlerOptions = {},
  ) {
    this.maxRetries = options.maxRetries ?? 5;
    this.cacheEntries = options.cacheEntries ?? 50_000;
    this.snapshotEvery = options.snapshotEvery ?? 100;
  }

  /** The stream's state now: the cached fold caught up with the store (one indexed read). */
  async load<S, E extends { type: string; data: unknown }>(fold: Fold<S, E>, streamId: string): Promise<Folded<S>> {
    this.register(fold, streamId);
    const key = keyOf(fold, streamId);
    const entry = this.cache.get(key) ?? (await this.fromSnapshot(fold, streamId));
    const fresh = entry.terminal ? entry : await this.catchUp(fold, streamId, entry);
    this.remember(key, fresh);
    notePosition(fresh.position);
    return { state: fresh.state as S, version: fresh.version };
  }

  /**
   * The state at `version` or later: the cached one when it is that new (no read), else {@link load}.
   * A mutation answers with it after its own command: it reflects that command, whatever else came.
   */
  async loadAtLeast<S, E extends { type: string; data: unknown }>(fold: Fold<S, E>, streamId: string, version: number): Promise<Folded<S>> {
    const entry = this.cache.get(keyOf(fold, streamId));
    if (entry && entry.version >= version) {
      notePosition(entry.position);
      return { state: entry.state as S, version: entry.version };
    }
    return this.load(fold, streamId);
  }

  /**
   * The cached state without asking the store, or null when this process holds none. For facts
   * that never change once recorded (whose call this is), where any cached version will do.
   */
  peek<S, E>(fold: Fold<S, E>, streamId: string): Folded<S> | null {
    const entry = this.cache.get(keyOf(fold, streamId));
    return entry ? { state: entry.state as S, version: entry.version } : null;
  }

  handle<S, C, E extends { type: string; data: unknown }>(
    decider: Decider<S, C, E>,
    streamId: string,
    command: C | ((state: S) => C),
    meta: CommandMetadata,
  ): Promise<HandleResult<S, E>> {
    // A span per command (tracing on): the events' envelopes carry the append span's context.
    return inSpan(`command ${decider.name}`, { attributes: { 'webdial.stream_id': streamId, 'webdial.correlation_id': meta.correlationId } }, (span) =>
      this.handleTraced(decider, streamId, command, meta, span),
    );
  }

  private async handleTraced<S, C, E extends { type: string; data: unknown }>(
    decider: Decider<S, C, E>,
    streamId: string,
    command: C | ((state: S) => C),
    meta: CommandMetadata,
    span: Span | undefined,
  ): Promise<HandleResult<S, E>> {
    const key = keyOf(decider, streamId);
    this.register(decider, streamId);
    const cached = this.cache.get(key);
    // Without a cached state the first decision is made on a fresh fold.
    let fresh = cached === undefined;
    let entry: Entry = cached ?? (await this.catchUp(decider, streamId, await this.fromSnapshot(decider, streamId)));
    for (let attempt = 0; ; ) {
      const state = entry.state as S;
      let events: E[];
      try {
        const cmd = typeof command === 'function' ? (command as (s: S) => C)(state) : command;
        span?.updateName(`command ${(cmd as { type?: string }).type ?? decider.name}`);
        events = decider.decide(cmd, state);
      } catch (e) {
        if (fresh) throw e;
        // Refused on a cached state: decide again on the store's.
        entry = await this.catchUp(decider, streamId, entry);
        fresh = true;
        continue;
      }
      if (events.length === 0) {
        if (!fresh) {
          const caught: Entry = await this.catchUp(decider, streamId, entry);
          fresh = true;
          if (caught.version !== entry.version) {
            entry = caught;
            continue;
          }
        }
        this.remember(key, entry);
        notePosition(entry.position);
        return { state, events, stored: [], version: entry.version };
      }
      try {
        const result = await inSpan('eventstore.append', { attributes: { 'webdial.stream_id': streamId, 'webdial.events': events.length } }, () =>
          this.store.append(streamId, events.map((e) => this.toNew(e, meta)), entry.version),
        );
        let next = state;
        for (const e of events) next = decider.evolve(next, e);
        const position = result.events.at(-1)?.position ?? entry.position;
        this.remember(key, this.snapshotIfDue(decider, streamId, { ...entry, state: next, version: result.nextVersion, position, terminal: decider.isTerminal?.(next) ?? false }));
        this.advanceOthers(decider.name, streamId, entry.version, events, result.nextVersion, position);
        notePosition(position);
        return { state: next, events, stored: result.events, version: result.nextVersion };
      } catch (e) {
        if (!(e instanceof WrongExpectedVersionError) || attempt >= this.maxRetries) throw e;
        attempt++;
        entry = await this.catchUp(decider, streamId, entry);
        fresh = true;
      }
    }
  }

  private register(fold: Fold<unknown, never>, streamId: string): void {
    if (!this.folds.has(fold.name)) this.folds.set(fold.name, fold);
    const category = streamId.slice(0, streamId.indexOf('-'));
    const known = this.categories.get(fold.name);
    if (!known) this.categories.set(fold.name, new Set([category]));
    else if (!known.has(category)) known.add(category);
  }

  /**
   * Other folds of the stream that were exactly at `from` take the appended events too: no read
   * later. A stream this append created (from 0) has nothing else in it: every fold used on streams
   * of its category starts cached with these events (a mutation's answer after a download reads nothing).
   */
  private advanceOthers(except: string, streamId: string, from: number, events: ReadonlyArray<{ type: string; data: unknown }>, to: number, position: string | null): void {
    const category = streamId.slice(0, streamId.indexOf('-'));
    for (const [name, fold] of this.folds) {
      if (name === except) continue;
      const key = `${name}|${streamId}`;
      const cached = this.cache.get(key);
      const entry: Entry | undefined =
        cached ?? (from === 0 && this.categories.get(name)?.has(category) ? { state: fold.initialState, version: 0, position: null, snapshotVersion: 0, terminal: false } : undefined);
      if (!entry || entry.version !== from) continue;
      let state = entry.state;
      for (const e of events) state = fold.evolve(state, e);
      this.remember(key, { ...entry, state, version: to, position });
    }
  }

  /** Folds the events after the entry's version into it (and snapshots when due). */
  private async catchUp<S, E extends { type: string; data: unknown }>(fold: Fold<S, E>, streamId: string, entry: Entry): Promise<Entry> {
    const events = await this.store.readStream(streamId, { fromVersion: entry.version + 1 });
    if (events.length === 0) return entry;
    let state = entry.state as S;
    for (const e of events) state = fold.evolve(state, { type: e.type, data: e.data } as E);
    const newest = events[events.length - 1];
    const terminal = (fold as Partial<Decider<S, unknown, E>>).isTerminal?.(state) ?? false;
    return this.snapshotIfDue(fold, streamId, { ...entry, state, version: newest.streamVersion, position: newest.position, terminal });
  }

  private async fromSnapshot<S, E>(fold: Fold<S, E>, streamId: string): Promise<Entry> {
    const snap = await this.store.readSnapshot(streamId, fold.name).catch(() => null);
    if (snap && Number.isInteger(snap.version) && snap.version > 0)
      return { state: snap.state, version: snap.version, position: null, snapshotVersion: snap.version, terminal: false };
    return { state: fold.initialState, version: 0, position: null, snapshotVersion: 0, terminal: false };
  }

  /** Writes a snapshot in the background when the state is far enough past the last one. */
  private snapshotIfDue<S, E>(fold: Fold<S, E>, streamId: string, entry: Entry): Entry {
    if (entry.version - entry.snapshotVersion < this.snapshotEvery) return entry;
    this.store
      .writeSnapshot(streamId, fold.name, { version: entry.version, state: entry.state })
      .catch((e) => this.options.onSnapshotError?.(e, streamId));
    return { ...entry, snapshotVersion: entry.version };
  }

  private remember(key: string, entry: Entry): void {
    const known = this.cache.get(key);
    // A slow reader must not put back an older state than a concurrent command left.
    if (known && known.version > entry.version) entry = known;
    // Map order is insertion order: re-inserting marks the entry as most recently used.
    this.cache.delete(key);
    this.cache.set(key, entry);
    if (this.cache.size > this.cacheEntries) this.cache.delete(this.cache.keys().next().value!);
  }

  private toNew(e: { type: string; data: unknown }, meta: CommandMetadata): NewEvent {
    const at = (e.data as { at?: string }).at;
    return {
      eventId: this.ids.eventId(),
      type: e.type,
      data: e.data,
      occurredAt: at ?? new Date().toISOString(),
      merchantId: meta.merchantId,
      correlationId: meta.correlationId,
      causationId: meta.causationId,
      schemaVersion: CURRENT_SCHEMA_VERSION[e.type as WebdialEventType] ?? 1,
      ...withTraceparent(),
    };
  }
}

const keyOf = (fold: { name: string }, streamId: string) => `${fold.name}|${streamId}`;
