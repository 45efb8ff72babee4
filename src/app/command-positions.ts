import { notePosition } from './consistency';
import type { Handle, Load } from './command-handler';

/**
 * Read your own writes (./consistency.ts): a command notes the store position its answer includes
 * (what it appended, or the state its no-op was decided on), so the request's response carries it.
 */
export const withPositions =
  (handle: Handle): Handle =>
  async (decider, streamId, command, meta, answer) => {
    const result = await handle(decider, streamId, command, meta, answer);
    notePosition(result.position);
    return result;
  };

/** The same for a load: a mutation's answer built from a loaded state includes its position. */
export const withLoadPositions =
  (load: Load): Load =>
  async (fold, streamId, atLeast) => {
    const loaded = await load(fold, streamId, atLeast);
    notePosition(loaded.position);
    return loaded;
  };
