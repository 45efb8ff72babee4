/**
 * Where a follower of the event store keeps the last position it has dealt with: the relay (the
 * last position the bus accepted) and the call effects' process manager (the last position whose
 * effects are done). Positions are the event store's own, opaque and ordered.
 *
 * A follower saves a position only after the work up to it is done, so a crash repeats a little
 * work and never skips any: followers are idempotent. `save` may coalesce writes (the newest
 * position wins); `flush` resolves once the newest position is durable.
 */
export interface CheckpointStore {
  /** The saved position of `name`, or null when none was saved. */
  load(name: string): Promise<string | null>;
  save(name: string, position: string): Promise<void>;
  /** Resolves once every saved position is durable. */
  flush(): Promise<void>;
}

/** For a follower that keeps nothing (the relay of the in-process bus starts at the store's head). */
export const noCheckpoints: CheckpointStore = { load: async () => null, save: async () => undefined, flush: async () => undefined };
