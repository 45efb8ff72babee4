/**
 * Given/when/then for the read side (test support, not a test file itself):
 *
 *   const given = viewSpecFor(callView);
 *   given([downloaded]).when(initiated).then({ ...row, state: 'INITIATED', ... });
 *
 *   const rows = projectionSpecFor(billingProjection());
 *   rows(events).then('bl_charges', [{ call_id: 'c1', amount_minor: 106, ... }]);
 *
 * A View is checked on one row; a projection (its `apply` over a row store) on whole tables, over an
 * in-memory RowStore, with no database: the same code the batches run, given events, then rows.
 */
import assert from 'node:assert/strict';
import type { StoredEvent } from '../../ports/event-store';
import type { Row, RowProjection, RowStore } from '../engine/rows';
import { rowOf, type View } from '../engine/projection-of';

export const viewSpecFor =
  <R extends Row, E extends { type: string }>(view: View<R, E>) =>
  (history: E[]) => ({
    when: (event: E) => ({
      /** The exact row after the event (null: none), or a check on it. */
      then(expected: R | null | ((row: R | null) => void)): void {
        const after = view.evolve(rowOf(view, history), event);
        if (typeof expected === 'function') expected(after);
        else assert.deepStrictEqual(after, expected);
      },
    }),
  });

/** A RowStore over plain maps: every row is "prefetched" (absent means absent). */
export class MemoryRows implements RowStore {
  readonly tables = new Map<string, Map<string, Row>>();

  constructor(private readonly keys: Record<string, readonly string[]>) {}

  private table(name: string): Map<string, Row> {
    if (!this.keys[name]) throw new Error(`no table ${name} in this projection`);
    const t = this.tables.get(name) ?? new Map<string, Row>();
    this.tables.set(name, t);
    return t;
  }

  private keyOf(table: string, row: Row): string {
    return this.keys[table].map((c) => String(row[c])).join('\u0000');
  }

  get(table: string, key: ReadonlyArray<string | number>): Row | null {
    return this.table(table).get(key.map(String).join('\u0000')) ?? null;
  }

  put(table: string, row: Row): void {
    this.table(table).set(this.keyOf(table, row), { ...row });
  }

  insertOnce(table: string, row: Row): void {
    const t = this.table(table);
    const k = this.keyOf(table, row);
    if (!t.has(k)) t.set(k, { ...row });
  }

  add(table: string, row: Row, columns: readonly string[]): void {
    const t = this.table(table);
    const k = this.keyOf(table, row);
    const known = t.get(k);
    if (!known) return void t.set(k, { ...row });
    for (const c of columns) known[c] = Number(known[c] ?? 0) + Number(row[c] ?? 0);
  }

  /** A table's rows in primary-key order. */
  rows(table: string): Row[] {
    return [...this.table(table).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  }
}

export const projectionSpecFor = (projection: RowProjection) => (events: readonly StoredEvent[]) => {
  const rows = new MemoryRows(Object.fromEntries(projection.tables.map((t) => [t.name, t.primaryKey])));
  const warnings: string[] = [];
  for (const e of events) projection.apply(rows, e, (_fields, msg) => warnings.push(msg));
  return {
    warnings,
    /** The table's rows (in key order) are exactly these, or pass this check. */
    then(table: string, expected: Row[] | ((rows: Row[]) => void)): void {
      const got = rows.rows(table);
      if (typeof expected === 'function') expected(got);
      else assert.deepStrictEqual(got, expected);
    },
  };
};
