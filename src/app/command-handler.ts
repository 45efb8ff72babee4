import { fold, type Decider, type Fold } from '../domain/shared/decider';
import { CURRENT_SCHEMA_VERSION, type WebdialEventType } from '../domain/events';
import type { EventStore, NewEvent, StoredEvent } from '../ports/event-store';
import { WrongExpectedVersionError } from '../ports/event-store';
import type { IdGenerator } from './ids';
import { StreamCache, type CachedState, type StreamCacheOptions } from './stream-cache';
import { tracedAppend, withTracing } from './command-tracing';
import { withLoadPositions, withPositions } from './command-positions';

type AnyEvent = { type: string; data: unknown };

/** Who caused a command: carried into every event's envelope. */
export interface CommandMetadata {
  correlationId: string;
  causationId: string | null;
  /**
   * The merchant the stream belongs to (null for admin-level streams such as gateways). A decider
   * that knows its stream's merchant (`Decider.merchantOf`) fills it from the state: leave it out.
   */
  merchantId?: string | null;
}

export interface HandleResult<S, E, V = undefined> {
  /** State after the new events. */
  state: S;
  /** The domain events decided (may be empty: an idempotent repeat). */
  events: E[];
  stored: StoredEvent[];
  /** The stream's version after the command (what `loadAtLeast` can ask for). */
  version: number;
  /** Store position of the newest event the state includes (null: unknown, e.g. from a snapshot). */
  position: string | null;
  /** The answering View's state at `version` or later, when one was asked for (read with the command's own load). */
  answer: V;
}

/** A folded state and the stream version it includes. */
export interface Folded<S> {
  state: S;
  version: number;
  /** Store position of the newest event folded in (null: unknown). */
  position: string | null;
}

/** One command on one stream: what the core is, and what each wrapper (tracing, positions) takes and gives. */
export type Handle = <S, C, E extends AnyEvent, V = undefined>(
  decider: Decider<S, C, E>,
  streamId: string,
  command: C | ((state: S) => C),
  meta: CommandMetadata,
  answer?: Fold<V, E>,
) => Promise<HandleResult<S, E, V>>;
/** A stream's state now, through the cache; with `atLeast`, a cached state that new will do (no read). */
export type Load = <S, E extends AnyEvent>(fold: Fold<S, E>, streamId: string, atLeast?: number) => Promise<Folded<S>>;

/**
 * The core (STYLE §7, Oskar's decider handler): load → decide → append with the expected version →
 * on a version conflict catch up and decide again, up to `maxRetries`. Domain errors propagate.
 * A decision on a cached state made without reading first (`fresh` false) is kept only when it
 * produced events, which the append verifies; a refusal or a no-op is decided again on a state
 * caught up with the store, so a stale cache never refuses or skips a command.
 */
export const handleCommand =
  (cache: StreamCache, append: EventStore['append'], ids: IdGenerator, maxRetries: number): Handle =>
  async (decider, streamId, command, meta, answer) => {
    const cached = cache.cached(decider, streamId);
    let fresh = cached === undefined;
    let entry = cached ?? (await cache.load(decider, streamId, answer ? [answer as Fold<unknown, never>] : []));
    // The answering View at the command's version: cached (advanced by the append) unless another writer came between.
    const answerAt = async (version: number) => {
      const view = answer && cache.cached(answer, streamId);
      return (answer && (view && view.version >= version ? view : await cache.load(answer, streamId)).state) as never;
    };
    for (let attempt = 0; ; ) {
      const { state, version } = entry;
      let events;
      try {
        events = decider.decide(typeof command === 'function' ? (command as (s: typeof state) => never)(state) : command, state);
      } catch (e) {
        if (fresh) throw e;
        [entry, fresh] = [await cache.catchUp(decider, streamId, entry), true];
        continue;
      }
      if (events.length === 0 && !fresh) {
        // A no-op on a cached state: decided again when the store has more.
        const caught = await cache.catchUp(decider, streamId, entry);
        [entry, fresh] = [caught, true];
        if (caught.version !== version) continue;
      }
      if (events.length === 0) {
        cache.remember(decider, streamId, entry);
        return { state, events, stored: [], version: entry.version, position: entry.position, answer: await answerAt(entry.version) };
      }
      const next = fold((s, e) => decider.evolve(s, e), state, events);
      const merchantId = decider.merchantOf?.(next) ?? meta.merchantId ?? null;
      try {
        const result = await append(streamId, events.map((e) => envelope(e, ids, { ...meta, merchantId })), version);
        const position = result.events.at(-1)?.position ?? entry.position;
        cache.appended(decider, streamId, entry, events, next, result.nextVersion, position);
        return { state: next, events, stored: result.events, version: result.nextVersion, position, answer: await answerAt(result.nextVersion) };
      } catch (e) {
        if (!(e instanceof WrongExpectedVersionError) || attempt++ >= maxRetries) throw e;
        [entry, fresh] = [await cache.catchUp(decider, streamId, entry), true];
      }
    }
  };

/** The event's envelope: who caused it, whose stream it is, when (the event's own `at`), its schema. */
const envelope = (e: AnyEvent, ids: IdGenerator, meta: CommandMetadata): NewEvent => ({
  eventId: ids.eventId(),
  type: e.type,
  data: e.data,
  occurredAt: (e.data as { at?: string }).at ?? new Date().toISOString(),
  merchantId: meta.merchantId ?? null,
  correlationId: meta.correlationId,
  causationId: meta.causationId,
  schemaVersion: CURRENT_SCHEMA_VERSION[e.type as WebdialEventType] ?? 1,
});

export interface CommandHandlerOptions extends StreamCacheOptions {
  /** Attempts after a version conflict before the conflict reaches the caller. Default 5. */
  maxRetries?: number;
}

/**
 * The one generic command handler the use cases receive: the core ({@link handleCommand}) loading
 * through a {@link StreamCache} (LRU of folded states, snapshots: docs/performance.md), wrapped,
 * Emmett-middleware style, in tracing (./command-tracing.ts) and read-your-writes position notes
 * (./command-positions.ts). Each piece has its own spec.
 */
export class CommandHandler {
  /** Decide and append one command (see {@link handleCommand}). */
  handle: Handle;
  /** The stream's state now: the cached fold caught up with the store (one indexed read). */
  readonly load: Load;
  private readonly cache: StreamCache;

  constructor(store: EventStore, ids: IdGenerator, options: CommandHandlerOptions = {}) {
    this.cache = new StreamCache(store, options);
    const core = handleCommand(this.cache, tracedAppend(store.append.bind(store)), ids, options.maxRetries ?? 5);
    this.handle = withTracing(withPositions(core));
    this.load = withLoadPositions(async (fold, streamId, atLeast) => {
      const cached = atLeast === undefined ? undefined : this.cache.cached(fold, streamId);
      return folded(cached && cached.version >= (atLeast ?? 0) ? cached : await this.cache.load(fold, streamId));
    });
  }

  /**
   * The state at `version` or later: the cached one when it is that new (no read), else {@link load}.
   * A mutation answers with it after its own command: it reflects that command, whatever else came.
   */
  loadAtLeast<S, E extends AnyEvent>(fold: Fold<S, E>, streamId: string, version: number): Promise<Folded<S>> {
    return this.load(fold, streamId, version);
  }

  /**
   * The cached state without asking the store, or null when this process holds none. For facts
   * that never change once recorded (whose call this is), where any cached version will do.
   */
  peek<S, E>(fold: Fold<S, E>, streamId: string): Folded<S> | null {
    const entry = this.cache.cached(fold, streamId);
    return entry ? folded(entry) : null;
  }
}

const folded = <S>({ state, version, position }: CachedState<S>): Folded<S> => ({ state, version, position });
