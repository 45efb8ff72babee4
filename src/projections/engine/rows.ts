import type { StoredEvent } from '../../ports/event-store';
import type { Sql } from '../../adapters/sql/db';
import type { TableDef, Tables } from './tables';

/** A read-model row: column name → value, as stored (JSON columns as text). */
export type Row = Record<string, string | number | null>;

/** Which row of which table an event needs to see before it is applied. */
export interface RowRef {
  table: string;
  /** The primary key's values, in the order of the table's `primaryKey`. */
  key: ReadonlyArray<string | number>;
}

/**
 * The rows one batch of events reads and writes, in memory: a view applies its events here, with
 * no I/O, and the batch is written back in a few multi-row statements (see {@link writeRows}).
 * - `get` returns a row that was prefetched (or written earlier in this batch), null when absent;
 * - `put` writes a whole row (insert, or replace the stored one);
 * - `insertOnce` writes a row only if none with its key exists (an append-only row, never read back);
 * - `add` adds its numeric columns to the stored row's (counters), inserting it when absent.
 */
export interface RowStore {
  get(table: string, key: ReadonlyArray<string | number>): Row | null;
  put(table: string, row: Row): void;
  insertOnce(table: string, row: Row): void;
  add(table: string, row: Row, columns: readonly string[]): void;
}

/**
 * A projection over rows (STYLE §9): the rows an event touches (`prefetch`) and what it does to
 * them (`apply`, pure and synchronous over a {@link RowStore}). `apply` is only called for an event
 * not applied before, in stream order. It throws only for an event it can never apply; data it does
 * not expect (an unknown call) is left alone, and `warn` says so.
 */
export interface RowProjection {
  readonly name: import('./common').ProjectionName;
  /** Every table the view owns; rebuild recreates and swaps exactly these. */
  readonly tables: readonly TableDef[];
  prefetch(event: StoredEvent): RowRef[];
  apply(rows: RowStore, event: StoredEvent, warn: (fields: object, msg: string) => void): void;
  /**
   * Writes the read model takes outside the event stream and logs (billing's re-ratings), after the
   * log's `afterSeq`, oldest first: a rebuild replays each at the store position where it was applied.
   */
  readonly logged?: (sql: Sql, afterSeq: number) => Promise<LoggedWrite[]>;
}

/** A logged write of a read model (see RowProjection.logged). */
export interface LoggedWrite {
  /** Its place in the read model's log. */
  seq: number;
  /** The store position the read model had reached when it was applied (null: before any event). */
  atPosition: string | null;
  /** Applies it again, in `tx`, to the table set `tables`. */
  apply(tx: Sql, tables: Tables): Promise<unknown>;
}

/** A key's values as one map key (NUL cannot occur in them: ids and instants are checked text). */
const keyText = (key: ReadonlyArray<string | number>) => (key.length === 1 ? String(key[0]) : key.join('\u0000'));

/** Column name and whether it holds a number, read from a TableDef's `name type ...` definitions. */
const columnsOf = (def: TableDef, dialect: Sql['dialect']) =>
  def.columns(dialect).map((c) => {
    const [name, type] = c.trim().split(/\s+/);
    return { name: name, numeric: /int/i.test(type ?? '') };
  });

interface TableState {
  def: TableDef;
  columns: Array<{ name: string; numeric: boolean }>;
  /** Rows read from the database or written in this batch (null: known absent). */
  rows: Map<string, Row | null>;
  dirty: Set<string>;
  inserts: Map<string, Row>;
  adds: Map<string, { row: Row; columns: readonly string[] }>;
}

/** A {@link RowStore} over one table set, for one batch: prefetch, apply in memory, write back. */
export class BatchRows implements RowStore {
  private readonly tables = new Map<string, TableState>();

  constructor(
    private readonly sql: Sql,
    private readonly physical: Tables,
    defs: readonly TableDef[],
  ) {
    for (const def of defs)
      this.tables.set(def.name, { def, columns: columnsOf(def, sql.dialect), rows: new Map(), dirty: new Set(), inserts: new Map(), adds: new Map() });
  }

  private table(name: string): TableState {
    const t = this.tables.get(name);
    if (!t) throw new Error(`no table ${name} in this view`);
    return t;
  }

  /** Reads every referenced row that is not in memory yet: one query per table and chunk. */
  async prefetch(refs: readonly RowRef[]): Promise<void> {
    await prefetchRows(this.sql, [{ rows: this, refs }]);
  }

  /** The rows `refs` names that are not in memory yet, per table: what {@link prefetchRows} reads. */
  lookups(refs: readonly RowRef[]): Lookup[] {
    const wanted = new Map<string, Map<string, ReadonlyArray<string | number>>>();
    for (const r of refs) {
      const t = this.table(r.table);
      const k = keyText(r.key);
      if (t.rows.has(k)) continue;
      const m = wanted.get(r.table) ?? new Map<string, ReadonlyArray<string | number>>();
      m.set(k, r.key);
      wanted.set(r.table, m);
    }
    return [...wanted].map(([name, keys]) => {
      const t = this.table(name);
      return {
        physical: this.physical(name),
        primaryKey: t.def.primaryKey,
        keys: [...keys.values()],
        found: (raw) => {
          const row = this.normalise(t, raw);
          t.rows.set(keyText(t.def.primaryKey.map((c) => row[c] as string | number)), row);
        },
        done: () => {
          for (const k of keys.keys()) if (!t.rows.has(k)) t.rows.set(k, null);
        },
      };
    });
  }

  /** PostgreSQL hands bigint columns back as strings: numbers are numbers in memory. */
  private normalise(t: TableState, raw: Record<string, unknown>): Row {
    const row: Row = {};
    for (const c of t.columns) {
      const v = raw[c.name];
      row[c.name] = v === null || v === undefined ? null : c.numeric ? Number(v) : (v as string);
    }
    return row;
  }

  private keyOf(t: TableState, row: Row): string {
    return keyText(t.def.primaryKey.map((c) => {
      const v = row[c];
      if (v === null || v === undefined) throw new Error(`${t.def.name}: primary key column ${c} is empty`);
      return v;
    }));
  }

  get(table: string, key: ReadonlyArray<string | number>): Row | null {
    const t = this.table(table);
    const k = keyText(key);
    if (t.rows.has(k)) return t.rows.get(k)!;
    if (t.inserts.has(k)) return t.inserts.get(k)!;
    throw new Error(`${table} ${k} was read without being prefetched (a view bug)`);
  }

  put(table: string, row: Row): void {
    const t = this.table(table);
    const k = this.keyOf(t, row);
    t.rows.set(k, { ...row });
    t.dirty.add(k);
  }

  insertOnce(table: string, row: Row): void {
    const t = this.table(table);
    const k = this.keyOf(t, row);
    if (t.inserts.has(k) || t.rows.get(k)) return; // the first row with this key stays
    t.inserts.set(k, { ...row });
    if (t.rows.has(k)) t.rows.set(k, t.inserts.get(k)!); // known absent: now it is there
  }

  add(table: string, row: Row, columns: readonly string[]): void {
    const t = this.table(table);
    const k = this.keyOf(t, row);
    const known = t.adds.get(k);
    if (!known) {
      t.adds.set(k, { row: { ...row }, columns });
      return;
    }
    for (const c of columns) known.row[c] = Number(known.row[c] ?? 0) + Number(row[c] ?? 0);
  }

  /** Statements this batch wrote, for tests and the benchmark's explanation. */
  statements = 0;

  /** Writes everything the batch changed, one statement after the other (see {@link writes}). */
  async write(): Promise<void> {
    for (const w of this.writes()) await this.sql.run(w.sql, w.params);
  }

  /**
   * The statements that write everything the batch changed: per table, one multi-row statement per
   * chunk and kind, in the order they must run for that table. {@link runWrites} runs them.
   */
  writes(): Write[] {
    const out: Write[] = [];
    for (const t of this.tables.values()) {
      const names = t.columns.map((c) => c.name);
      const pk = t.def.primaryKey;
      const others = names.filter((n) => !pk.includes(n));
      const dirty = [...t.dirty].map((k) => t.rows.get(k)!).filter((r): r is Row => r !== null);
      out.push(...this.insertRows(t, names, dirty, others.length ? `do update set ${others.map((c) => `${c} = excluded.${c}`).join(', ')}` : 'do nothing'));
      out.push(...this.insertRows(t, names, [...t.inserts.values()], 'do nothing'));
      const byColumns = new Map<string, Row[]>();
      for (const { row, columns } of t.adds.values()) {
        const sig = columns.join(',');
        byColumns.set(sig, [...(byColumns.get(sig) ?? []), row]);
      }
      for (const [sig, rows] of byColumns) {
        const quoted = this.physical(t.def.name);
        out.push(...this.insertRows(t, names, rows, `do update set ${sig.split(',').map((c) => `${c} = ${quoted}.${c} + excluded.${c}`).join(', ')}`));
      }
    }
    this.statements += out.length;
    return out;
  }

  private insertRows(t: TableState, names: string[], rows: Row[], onConflict: string): Write[] {
    // PostgreSQL prepares nothing here (unnamed statements): bigger chunks, fewer statements.
    const per = Math.max(1, Math.floor((this.sql.dialect === 'postgres' ? MAX_PARAMS_POSTGRES : MAX_PARAMS) / names.length));
    const out: Write[] = [];
    const physical = this.physical(t.def.name);
    for (let i = 0; i < rows.length; i += per) {
      const chunk = rows.slice(i, i + per);
      const tuple = `(${names.map(() => '?').join(', ')})`;
      out.push({
        table: physical,
        sql: `insert into ${physical} (${names.join(', ')}) values ${chunk.map(() => tuple).join(', ')}
         on conflict (${t.def.primaryKey.join(', ')}) ${onConflict}`,
        params: chunk.flatMap((r) => names.map((n) => r[n] ?? null)),
      });
    }
    return out;
  }
}

/** The rows of one table a batch must read before it applies its events (see {@link BatchRows.lookups}). */
export interface Lookup {
  /** The table's physical name, quoted. */
  physical: string;
  primaryKey: readonly string[];
  keys: ReadonlyArray<ReadonlyArray<string | number>>;
  /** Takes one row read (as the driver returns it, or its columns from JSON). */
  found(raw: Record<string, unknown>): void;
  /** Marks the keys that were not found as absent. */
  done(): void;
}

const keyMatch = (l: Lookup, n: number): string => {
  const pk = l.primaryKey;
  const tuple = pk.length === 1 ? '?' : `(${pk.map(() => '?').join(', ')})`;
  return `${pk.length === 1 ? pk[0] : `(${pk.join(', ')})`} in (${Array.from({ length: n }, () => tuple).join(', ')})`;
};

/**
 * Reads the rows several {@link BatchRows} need (every projection of a batch) before their events
 * are applied. SQLite: one query per table and chunk (a statement there is a function call). PostgreSQL:
 * every table's rows in ONE round trip, a `union all` of one select per table returning each row
 * as JSON: the read side's transaction is a handful of round trips whatever the projections' tables,
 * and inside a busy server each round trip waits for the event loop as well as for the database.
 */
export const prefetchRows = async (sql: Sql, stores: ReadonlyArray<{ rows: BatchRows; refs: readonly RowRef[] }>): Promise<void> => {
  const lookups = stores.flatMap((s) => s.rows.lookups(s.refs));
  if (sql.dialect === 'sqlite') {
    for (const l of lookups)
      for (let i = 0; i < l.keys.length; i += CHUNK_KEYS) {
        const chunk = l.keys.slice(i, i + CHUNK_KEYS);
        for (const raw of await sql.all(`select * from ${l.physical} where ${keyMatch(l, chunk.length)}`, chunk.flat())) l.found(raw);
      }
  } else {
    // Parts of at most CHUNK_KEYS keys, as many parts per statement as MAX_COMBINED_PARAMS allows.
    const parts = lookups.flatMap((l) => {
      const out: Array<{ lookup: Lookup; keys: ReadonlyArray<ReadonlyArray<string | number>> }> = [];
      for (let i = 0; i < l.keys.length; i += CHUNK_KEYS) out.push({ lookup: l, keys: l.keys.slice(i, i + CHUNK_KEYS) });
      return out;
    });
    for (const group of combinable(parts, (p) => p.keys.length * p.lookup.primaryKey.length)) {
      const text = group.map((p, i) => `select ${i} as part, to_json(r) as data from ${p.lookup.physical} r where ${keyMatch(p.lookup, p.keys.length)}`).join('\nunion all\n');
      const rows = await sql.all<{ part: unknown; data: unknown }>(text, group.flatMap((p) => p.keys.flat()));
      for (const r of rows) group[Number(r.part)].lookup.found((typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as Record<string, unknown>);
    }
  }
  for (const l of lookups) l.done();
};

/** One write statement and the table it writes: statements of different tables may run as one. */
export interface Write {
  table: string;
  sql: string;
  params: unknown[];
}

/**
 * Runs a batch's writes in their order for each table. SQLite: one statement after the other.
 * PostgreSQL: as few round trips as possible, writes of different tables joined into ONE statement
 * as data-modifying CTEs (`with w0 as (insert ...), w1 as (insert ...) insert ...`), which all run,
 * each on its own table. Two writes of one table never share a statement (its sub-statements see
 * one snapshot and could not see each other's rows): the second opens the next statement. Returns
 * the statements it ran.
 */
export const runWrites = async (sql: Sql, writes: readonly Write[]): Promise<number> => {
  if (sql.dialect === 'sqlite') {
    for (const w of writes) await sql.run(w.sql, w.params);
    return writes.length;
  }
  const groups = combinable(writes, (w) => w.params.length, (w) => w.table);
  for (const g of groups)
    await sql.run(
      g.length === 1 ? g[0].sql : `with ${g.slice(0, -1).map((w, i) => `w${i} as (${w.sql})`).join(',\n')}\n${g[g.length - 1].sql}`,
      g.flatMap((w) => w.params),
    );
  return groups.length;
};

/**
 * Splits `items` (in order) into groups of consecutive items that may share one statement: under
 * MAX_COMBINED_PARAMS bound parameters, and no two items with the same `key`.
 */
const combinable = <T>(items: readonly T[], params: (x: T) => number, key?: (x: T) => string): T[][] => {
  const groups: T[][] = [];
  let current: T[] = [];
  let count = 0;
  let keys = new Set<string>();
  for (const x of items) {
    const n = params(x);
    if (current.length > 0 && (count + n > MAX_COMBINED_PARAMS || (key && keys.has(key(x))))) {
      groups.push(current);
      current = [];
      count = 0;
      keys = new Set();
    }
    current.push(x);
    count += n;
    if (key) keys.add(key(x));
  }
  if (current.length > 0) groups.push(current);
  return groups;
};

/**
 * Bound parameters per statement: well below SQLite's 32,766 and PostgreSQL's 65,535. Rows go in
 * chunks of a fixed size (the last one smaller), so that the same few statement texts recur and
 * stay prepared: preparing a statement of a thousand rows costs more than running it.
 */
const MAX_PARAMS = 1_000;
const CHUNK_KEYS = 500;
const MAX_PARAMS_POSTGRES = 5_000;
/** Bound parameters of one PostgreSQL statement that joins several (its limit is 65,535). */
const MAX_COMBINED_PARAMS = 20_000;
