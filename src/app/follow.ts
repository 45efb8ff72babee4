import { randomUUID } from 'node:crypto';
import type { BusSubscription, EventBatch, EventBus, Topic } from '../ports/bus';
import type { CheckpointStore } from '../ports/checkpoint';
import type { EventStore, StoredEvent, Subscription } from '../ports/event-store';

/**
 * Every process that follows events (the live index, the call supervisor, the relay, the call
 * effects, the subscriptions hub, the projections, the webhook planner, the counters) follows them
 * through `follow(source, spec)`: one place for where it starts, how far it got, how a failed
 * handler is treated, and how it stops. The processes themselves are a table in the composition root
 * (./processes.ts runs it: `cluster` processes under a lease, `instance` ones on every instance).
 *
 * - A **store** follower reads the store's global order, catch-up then live.
 * - A **bus** follower is a consumer group of the bus's topics: at least once, in order per stream,
 *   a failed batch handed over again with backoff (the bus's promise).
 */

/**
 * `instance`: every instance runs it, for itself (its in-memory state, its own subscribers).
 * `cluster`: the cluster runs it once. A store follower of the cluster runs on the one instance that
 * holds its lease (./processes.ts); a bus follower of the cluster is one consumer group that every
 * instance joins, and the bus hands each partition to one member (the group is the lease).
 */
export type Scope = 'instance' | 'cluster';

/** A consumer group of the bus: `group` is its name (an `instance` follower's gets the instance's own suffix). */
export interface BusSource {
  bus: Pick<EventBus, 'subscribe'>;
  topics: readonly Topic[];
  group: string;
}

export type Source = EventStore | BusSource;

const isBus = (s: Source): s is BusSource => 'bus' in s && 'group' in s;

/**
 * What a follower keeps in memory and how it is snapshotted: `save` returns a JSON value of the
 * state, `restore` puts one back. `kind` names the state's shape (`live-state@1`): a follower whose
 * state changes shape bumps it, and older snapshots are ignored (it folds from the beginning once).
 */
export interface FollowerState<S> {
  kind: string;
  save(): S;
  restore(state: S): void;
}

/** Where a store follower starts, and what it keeps of how far it got. */
export type Resume<S = unknown> =
  /** From the first event (a fold small enough to redo, or a test). */
  | { from: 'beginning' }
  /** From the store's head at start: only what is stored from now on (the counters). */
  | { from: 'head' }
  /** Right after a position its owner read (null: the beginning), keeping nothing. */
  | { from: 'position'; after: string | null }
  /** From the newest snapshot of the state plus the tail after it: restart in O(1) of history. */
  | { from: 'snapshot'; state: FollowerState<S>; everyMs?: number }
  /**
   * From a saved position (a cluster job's: its lease's, fenced), saved again each time the follower
   * moves past an event and everything before it is handled. A crash repeats what was handled since
   * the last save: the handler must be idempotent.
   */
  | { from: 'saved'; checkpoints: CheckpointStore };

/** Where a bus follower's group starts. */
export interface GroupResume {
  from: 'group';
  /** A group with no committed offsets starts at the oldest retained event (otherwise at the newest). */
  fromBeginning: boolean;
  /** The position its owner already holds: a bus without retention (in-process) catches the group up from the store after it. */
  after?: string | null;
}

interface Common {
  /** Names the follower (its snapshot stream `$follower-<name>`, its checkpoint, its logs). */
  name: string;
  /** Names it in logs (default: the name). */
  label?: string;
  scope: Scope;
}

/** Handled one event at a time, in order (`concurrency` 1), or up to `concurrency` at once. */
interface OneByOne {
  /**
   * Handles one event. A throw skips the event (told to onError): one bad event must not stop the
   * fold. A handler that must not skip (a release of a port) retries inside until it is done, and
   * throws FollowerStopped when it is stopped first: the position stays before that event.
   */
  handle(e: StoredEvent): void | Promise<void>;
  /**
   * Events handled at once, at most (default 1). Above 1, their handlers run concurrently and the
   * position moves past an event only once it and everything before it are handled.
   */
  concurrency?: number;
  handleBatch?: never;
}

/** Handed what arrived while the previous batch ran (at most `maxBatch`, 500): a publisher's round trip amortised. */
interface Batched {
  /**
   * Handles consecutive events of the store's order. A throw stops the follower where it is (the
   * batch not counted): the handler retries what can be retried itself, and throws only when it must
   * not go on (fenced by a newer owner, or stopping).
   */
  handleBatch(events: StoredEvent[]): Promise<void>;
  maxBatch?: number;
  handle?: never;
  concurrency?: never;
}

export type StoreFollowSpec<S = unknown> = Common & {
  checkpoint: Resume<S>;
  /** Told about each failed read (the follower reads again with backoff) and each event it skipped. */
  onError?: (e: unknown) => void;
  /**
   * Resolve start() only once everything stored when it started is handled (default: for an
   * `instance` follower; an instance serves only an exact state). A cluster job starts at once.
   */
  catchUp?: boolean;
} & (OneByOne | Batched);

export interface BusFollowSpec extends Common {
  checkpoint: GroupResume;
  /** A batch of one source (Kafka: one fetch's partitions), with its watermark. A throw hands it over again, with backoff. */
  handleBatch(batch: EventBatch): Promise<void>;
  /** Handler calls at once, at most (see SubscribeOptions.concurrency). */
  concurrency?: number;
  /** Told each time a batch failed and will be handed over again. */
  onRetry?: (error: unknown, attempt: number, batch: EventBatch) => void;
}

/** A running follower. */
export interface Follower {
  readonly name: string;
  /** Stops it: nothing new is handed over, what is in hand finishes, and where it got to is saved. */
  stop(): Promise<void>;
}

/** A running follower of the store. */
export interface StoreFollower extends Follower {
  /** The last position it has handled, with everything before it (null: nothing yet). */
  readonly position: string | null;
  /** Resolves once it has handled `position`. */
  waitFor(position: string): Promise<void>;
}

interface SnapshotBody<S> {
  position: string;
  state: S;
}

/** The stream id under which a follower's snapshots are kept (not a stream of events). */
export const snapshotStreamOf = (name: string): string => `$follower-${name}`;

/** Thrown by a batch handler that was stopped with events in hand: they are not counted. */
export class FollowerStopped extends Error {
  constructor(name: string) {
    super(`${name}: stopped`);
    this.name = 'FollowerStopped';
  }
}

export function follow<S>(source: EventStore, spec: StoreFollowSpec<S>): Promise<StoreFollower>;
export function follow(source: BusSource, spec: BusFollowSpec): Promise<Follower>;
export function follow<S>(source: Source, spec: StoreFollowSpec<S> | BusFollowSpec): Promise<Follower> {
  return isBus(source) ? followBus(source, spec as BusFollowSpec) : followStore(source, spec as StoreFollowSpec<S>);
}

/**
 * A consumer group of the bus. An `instance` follower's group is its own (the name gets a random
 * suffix: a restarted instance is a new group, from `checkpoint.after`); a `cluster` follower's
 * group is shared by every instance.
 */
const followBus = async (source: BusSource, spec: BusFollowSpec): Promise<Follower> => {
  const group = spec.scope === 'instance' ? `${source.group}.${randomUUID()}` : source.group;
  const sub: BusSubscription = await source.bus.subscribe(group, source.topics, (batch) => spec.handleBatch(batch), {
    fromBeginning: spec.checkpoint.fromBeginning,
    afterPosition: spec.checkpoint.after ?? null,
    ...(spec.concurrency !== undefined ? { concurrency: spec.concurrency } : {}),
    ...(spec.onRetry ? { onRetry: spec.onRetry } : {}),
  });
  return { name: spec.name, stop: () => sub.stop() };
};

/**
 * Follows the event store: catch-up then live, from where its `checkpoint` says. An `instance`
 * follower resolves once it has handled everything stored when it started (so the instance serves
 * only an exact state). A snapshot follower writes its state every `everyMs` (5 s) while events
 * arrive and on stop; its version is the number of events it has folded since the beginning, the
 * same on every instance, so the store keeps the newest one whoever wrote it.
 */
const followStore = async <S>(store: EventStore, spec: StoreFollowSpec<S>): Promise<StoreFollower> => {
  const onError = spec.onError ?? (() => undefined);
  const label = spec.label ?? spec.name;
  const resume = spec.checkpoint;
  const concurrency = spec.handle ? Math.max(1, spec.concurrency ?? 1) : 1;
  if (resume.from === 'snapshot' && (concurrency > 1 || spec.handleBatch)) throw new Error(`${label}: a snapshot is of a state folded one event at a time`);
  let position: string | null = null;
  let count = 0;
  if (resume.from === 'head') position = await store.headPosition();
  if (resume.from === 'position') position = resume.after;
  if (resume.from === 'saved') position = await resume.checkpoints.load(spec.name);
  if (resume.from === 'snapshot') {
    const snap = await store.readSnapshot(snapshotStreamOf(spec.name), resume.state.kind).catch((e: unknown) => {
      onError(new Error(`${label}: snapshot unreadable (${(e as Error).message}); folding from the beginning`, { cause: e }));
      return null;
    });
    if (snap) {
      const body = snap.state as SnapshotBody<S>;
      resume.state.restore(body.state);
      position = body.position;
      count = snap.version;
    }
  }
  const head = (spec.catchUp ?? spec.scope === 'instance') ? await store.headPosition() : null;
  const waiters: Array<{ position: string; resolve: () => void }> = [];
  /** Everything up to `p` is handled. */
  const advance = (p: string) => {
    if (position === null || p > position) position = p;
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].position <= position) waiters.splice(i, 1)[0].resolve();
    if (resume.from === 'saved') void resume.checkpoints.save(spec.name, position).catch((e: unknown) => onError(e));
  };
  const waitFor = (p: string): Promise<void> => (position !== null && position >= p ? Promise.resolve() : new Promise((resolve) => waiters.push({ position: p, resolve })));

  let saved = count;
  let savedAt = Date.now();
  let saving: Promise<void> | null = null;
  const snapshot = (): Promise<void> => {
    if (resume.from !== 'snapshot' || position === null || count === saved) return saving ?? Promise.resolve();
    const body: SnapshotBody<S> = { position, state: resume.state.save() };
    const version = count;
    saved = count;
    savedAt = Date.now();
    // One write at a time; a failed one only means a longer tail on the next start.
    const write = (saving ?? Promise.resolve())
      .then(() => store.writeSnapshot(snapshotStreamOf(spec.name), resume.state.kind, { version, state: body }))
      .catch((e: unknown) => onError(new Error(`${label}: snapshot not written (${(e as Error).message})`, { cause: e })));
    saving = write.finally(() => {
      if (saving === write) saving = null;
    });
    return saving;
  };
  const everyMs = resume.from === 'snapshot' ? (resume.everyMs ?? 5_000) : Infinity;

  const one = async (e: StoredEvent) => {
    try {
      await spec.handle!(e);
    } catch (err) {
      if (err instanceof FollowerStopped) throw err;
      onError(new Error(`${label} cannot follow ${e.type}@${e.position} (${e.streamId}): ${(err as Error).message}; skipped`, { cause: err }));
    }
  };

  let stopped = false;
  let consume: (e: StoredEvent) => Promise<void>;
  /** Resolves once whatever is in hand is done (stop waits on it). */
  let inHand: () => Promise<unknown>;
  if (spec.handleBatch) {
    // Batches: what piles up while one runs is the next; the subscription waits when `maxBatch` pile up.
    const maxBatch = spec.maxBatch ?? 500;
    const handleBatch = (events: StoredEvent[]) => spec.handleBatch(events);
    let queue: StoredEvent[] = [];
    let running: Promise<void> | null = null;
    const drain = async () => {
      while (queue.length > 0 && !stopped) {
        const batch = queue.slice(0, maxBatch);
        try {
          await handleBatch(batch);
        } catch (err) {
          // Stopped, or fenced: where it got to stays as it was; the next owner starts from there.
          if (!(err instanceof FollowerStopped)) onError(new Error(`${label}: stopped following (${(err as Error).message})`, { cause: err }));
          stopped = true;
          queue = [];
          break;
        }
        queue.splice(0, batch.length);
        count += batch.length;
        advance(batch[batch.length - 1].position);
      }
      running = null;
    };
    consume = async (e) => {
      if (stopped) return;
      queue.push(e);
      running ??= drain();
      if (queue.length >= maxBatch) await running;
    };
    inHand = async () => running;
  } else if (concurrency > 1) {
    // Up to `concurrency` at once; the position moves past an event once it and all before it are done.
    const pending: Array<{ position: string; done: boolean }> = [];
    const inFlight = new Set<Promise<void>>();
    const moveOn = () => {
      let last: string | null = null;
      while (pending[0]?.done) {
        last = pending.shift()!.position;
        count++;
      }
      if (last !== null) advance(last);
    };
    consume = async (e) => {
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      const entry = { position: e.position, done: false };
      pending.push(entry);
      // A handler stopped before it was done (FollowerStopped) leaves the position before its event.
      const run = one(e).then(
        () => {
          entry.done = true;
          moveOn();
        },
        () => undefined,
      );
      inFlight.add(run);
      void run.finally(() => inFlight.delete(run));
    };
    inHand = () => Promise.all(inFlight);
  } else {
    consume = async (e) => {
      if (stopped) return;
      try {
        await one(e);
      } catch {
        stopped = true; // FollowerStopped: where it got to stays as it was
        return;
      }
      count++;
      advance(e.position);
      if (Date.now() - savedAt >= everyMs) void snapshot();
    };
    inHand = async () => undefined;
  }

  const sub: Subscription = store.subscribe({ after: position, onError }, consume);
  sub.done.catch(onError);
  if (head !== null) await waitFor(head);
  return {
    name: spec.name,
    get position() {
      return position;
    },
    waitFor,
    stop: async () => {
      await sub.stop();
      stopped = true;
      await inHand();
      await snapshot();
      if (resume.from === 'saved') await resume.checkpoints.flush();
      for (const w of waiters.splice(0)) w.resolve();
    },
  };
};
