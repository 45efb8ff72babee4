import type { Fold } from '../domain/shared/decider';
import type { Row, RowStore } from './rows';

/**
 * A read model's View, in fmodel's vocabulary: what one row becomes after one event. Pure (no I/O,
 * no clock) and specified with given/when/then (src/projections/testing/view-spec.ts).
 *
 * `evolve(null, e)` is the row the event creates, or null when it creates none; an event for a row
 * that was never created leaves it null (the projection warns); an event the view does not handle
 * returns the row as it was. The same View drives the projection, through the row store, and the
 * command side's read-your-writes answers, folded over the stream by the command handler's cache:
 * one definition of what the row says.
 */
export interface View<R extends Row, E extends { type: string }> extends Fold<R | null, E> {
  /** The event types that can change a row: the projection looks no row up for the others. */
  readonly handles: ReadonlySet<string>;
  /** Of those, the types whose row does not depend on the one before (it is created): nothing to read first. */
  readonly creates: ReadonlySet<string>;
}

/** Whether the projection must read the row before applying `type` through `view`. */
export const readsBefore = (view: View<Row, { type: string }>, type: string): boolean => view.handles.has(type) && !view.creates.has(type);

/** Folds a list of events into a row, from none. */
export const rowOf = <R extends Row, E extends { type: string }>(view: View<R, E>, events: Iterable<E>): R | null => {
  let row: R | null = view.initialState;
  for (const e of events) row = view.evolve(row, e);
  return row;
};

/**
 * Applies one event to the row `key` of `table` (prefetched unless the event creates it) through `view` and writes what it
 * becomes; returns it (null: there is no such row, and nothing is written).
 */
export const applyView = <R extends Row, E extends { type: string }>(rows: RowStore, table: string, key: ReadonlyArray<string | number>, view: View<R, E>, event: E): R | null => {
  const before = view.creates.has(event.type) ? null : (rows.get(table, key) as R | null);
  const after = view.evolve(before, event);
  if (after !== null && after !== before) rows.put(table, after);
  return after;
};
