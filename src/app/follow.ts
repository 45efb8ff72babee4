import type { EventStore, StoredEvent, Subscription } from '../ports/event-store';

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

export type Resume<S = unknown> =
  /** From the first event (a fold small enough to redo, or a test). */
  | { from: 'beginning' }
  /** From the store's head at start: only what is stored from now on (the event hub, metrics). */
  | { from: 'head' }
  /** From the newest snapshot of the state plus the tail after it: restart in O(1) of history. */
  | { from: 'snapshot'; state: FollowerState<S>; everyMs?: number };

export interface FollowSpec<S = unknown> {
  /** Names the follower's snapshot stream (`$follower-<name>`). */
  name: string;
  /** Names it in logs (default: the name). */
  label?: string;
  /** Every instance runs an instance follower; cluster jobs are run by ./cluster.ts's `lead`. */
  scope: 'instance';
  checkpoint: Resume<S>;
  /** Folds one event. A throw skips the event (reported to onError): one bad event must not stop the fold. */
  handle(e: StoredEvent): void | Promise<void>;
  /** Told about each failed read (the follower reads again with backoff) and each event it skipped. */
  onError?: (e: unknown) => void;
}

/** A running follower of the event store. */
export interface Follower {
  readonly name: string;
  /** The last position it has folded (null: nothing yet). */
  readonly position: string | null;
  /** Resolves once it has folded `position`. */
  waitFor(position: string): Promise<void>;
  /** Stops it; a snapshot follower saves its state first. */
  stop(): Promise<void>;
}

interface SnapshotBody<S> {
  position: string;
  state: S;
}

/** The stream id under which a follower's snapshots are kept (not a stream of events). */
export const snapshotStreamOf = (name: string): string => `$follower-${name}`;

/**
 * Follows the event store for one instance: catch-up then live, from where its `checkpoint` says,
 * and resolves once it has folded everything stored when it started (so the instance serves only an
 * exact state). A snapshot follower writes its state every `everyMs` (5 s) while events arrive and
 * on stop; its version is the number of events it has folded since the beginning, the same on every
 * instance, so the store keeps the newest one whoever wrote it.
 */
export const follow = async <S>(store: EventStore, spec: FollowSpec<S>): Promise<Follower> => {
  const onError = spec.onError ?? (() => undefined);
  const label = spec.label ?? spec.name;
  const resume = spec.checkpoint;
  let position: string | null = null;
  let count = 0;
  if (resume.from === 'head') position = await store.headPosition();
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
  const head = await store.headPosition();
  const waiters: Array<{ position: string; resolve: () => void }> = [];
  const advance = (p: string) => {
    if (position === null || p > position) position = p;
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].position <= position) waiters.splice(i, 1)[0].resolve();
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

  const sub: Subscription = store.subscribe({ after: position, onError }, async (e) => {
    try {
      await spec.handle(e);
    } catch (err) {
      onError(new Error(`${label} cannot follow ${e.type}@${e.position} (${e.streamId}): ${(err as Error).message}; skipped`, { cause: err }));
    }
    count++;
    advance(e.position);
    if (Date.now() - savedAt >= everyMs) void snapshot();
  });
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
      await snapshot();
      for (const w of waiters.splice(0)) w.resolve();
    },
  };
};
