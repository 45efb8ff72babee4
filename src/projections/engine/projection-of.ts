import type { Fold } from '../../domain/shared/decider';
import type { StoredEvent } from '../../ports/event-store';
import type { ProjectionName } from './common';
import type { Row, RowProjection, RowRef, RowStore } from './rows';
import type { TableDef } from './tables';

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

/** A row's key: the values of its table's primary key, in order. */
export type RowKey = ReadonlyArray<string | number>;

/**
 * A table whose rows are a View's, declared in one object as Emmett declares
 * `pongoSingleStreamProjection({ evolve, collectionName, getDocumentId })`: which View, which table, and
 * which row an event is about.
 */
export interface ViewTable<R extends Row, E extends { type: string }> {
  readonly view: View<R, E>;
  readonly table: TableDef;
  /** The key of the row `event` is about (null: none). */
  readonly key: (event: E) => RowKey | null;
  /**
   * One event about several rows, as the events each row sees (default: the event itself). GatewayCreated
   * is about every port it declares: each port row sees it with its own port only.
   */
  readonly each?: (event: E) => E[];
  /**
   * Counters kept beside the rows (added up by the database, never read back): what each event adds,
   * from the row as it was before the event. gp_busy: a release adds the seizure's busy time to its hours.
   */
  readonly counts?: { readonly table: TableDef; readonly columns: readonly string[]; readonly add: (before: R | null, event: E) => Row[] };
  /**
   * Records made from the row as it was before an event (and as it is after it), written once (the first
   * with a key stays) and never read back: bl_charges, a call rated from billing's call row when it ends;
   * ch_events, the call's timeline, one record per event. `of` returns the record, null for none, or why
   * there is none (logged as a warning).
   */
  readonly records?: { readonly table: TableDef; readonly of: (before: R | null, event: E, after: R) => Row | string | null };
  /**
   * Not every key has a row, and an event for a row never created is expected, not warned: crm_ani, where
   * a browser call holds no caller ID (no row), yet its end is an event the View handles.
   */
  readonly optional?: boolean;
}

/** A declared table with its row type erased, so that one projection can hold tables of different rows. */
export interface DeclaredTable<E extends { type: string }> {
  readonly tables: readonly TableDef[];
  readonly handles: ReadonlySet<string>;
  prefetch(event: E): RowRef[];
  apply(rows: RowStore, event: E, warn: (fields: object, msg: string) => void): void;
}

/** Declares a View's table (see {@link ViewTable}). */
export const viewTable = <R extends Row, E extends { type: string }>(d: ViewTable<R, E>): DeclaredTable<E> => {
  const rowEvents = d.each ?? ((e: E) => [e]);
  return {
    tables: [d.table, ...(d.counts ? [d.counts.table] : []), ...(d.records ? [d.records.table] : [])],
    handles: d.view.handles,
    prefetch: (event) => {
      if (!readsBefore(d.view, event.type)) return [];
      return rowEvents(event).flatMap((e) => {
        const key = d.key(e);
        return key === null ? [] : [{ table: d.table.name, key }];
      });
    },
    apply: (rows, event, warn) => {
      for (const e of rowEvents(event)) {
        const key = d.key(e);
        if (key === null) continue;
        // The row as the View wrote it (BatchRows reads numbers back as numbers, text as text).
        const before = readsBefore(d.view, e.type) ? (rows.get(d.table.name, key) as R | null) : null;
        const after = d.view.evolve(before, e);
        if (after === null) {
          if (before === null && !d.view.creates.has(e.type) && !d.optional) warn({ table: d.table.name, key, type: e.type }, `${d.view.name}: event for a row never created`);
          continue;
        }
        if (d.counts) for (const c of d.counts.add(before, e)) rows.add(d.counts.table.name, c, d.counts.columns);
        const record = d.records ? d.records.of(before, e, after) : null;
        if (typeof record === 'string') warn({ table: d.table.name, key, type: e.type }, record);
        else if (record !== null && d.records) rows.insertOnce(d.records.table.name, record);
        if (after !== before) rows.put(d.table.name, after);
      }
    },
  };
};

/**
 * Whether a stored event is one of the events a table handles. The store keeps each type's data in
 * that type's shape (upcast on read), so a handled type is that event: the one place the read side
 * trusts the store's typing.
 */
const isOf = <E extends { type: string }>(handles: ReadonlySet<string>, stored: StoredEvent): stored is StoredEvent & E => handles.has(stored.type);

/** A projection made of declared tables: every event a table's View handles goes to it; the others write nothing. */
export const projectionOf = <E extends { type: string }>(
  name: ProjectionName,
  tables: ReadonlyArray<DeclaredTable<E>>,
  options: Pick<RowProjection, 'logged'> = {},
): RowProjection => ({
  ...options,
  name,
  tables: tables.flatMap((t) => t.tables),
  prefetch: (stored) => tables.flatMap((t) => (isOf<E>(t.handles, stored) ? t.prefetch(stored) : [])),
  apply: (rows, stored, warn) => {
    for (const t of tables) if (isOf<E>(t.handles, stored)) t.apply(rows, stored, warn);
  },
});
