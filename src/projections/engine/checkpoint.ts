import type { StoredEvent } from '../../ports/event-store';
import { num, strOrNull, type Sql } from '../../adapters/sql/db';
import { BatchRows, prefetchRows, runWrites, type RowProjection, type RowRef, type Write } from './rows';
import type { Tables } from './tables';
import type { Logger } from './common';
import { projectionLocksQuery, type ProjectionLocks } from './locks';

/** What one batch did to one projection. */
export interface BatchOutcome {
  /** Events whose effect was written now, in order. */
  applied: StoredEvent[];
  /** Already applied before (a redelivery): skipped. */
  duplicates: number;
  /** Events of streams whose versions jumped: not applied, the stream is blocked (see below). */
  blocked: Array<{ streamId: string; expected: number; got: number; position: string }>;
  /** Events the view cannot apply: recorded as dead letters, not applied. */
  deadLettered: StoredEvent[];
  /** SQL statements the batch's rows took (the benchmark explains its cost with it). */
  statements: number;
}

/** The view threw for this event: it can never be applied (a retry would throw again). */
export class UnappliableEventError extends Error {
  constructor(
    readonly event: StoredEvent,
    override readonly cause: unknown,
    /** The projection (its checkpoint key) whose view refused it. */
    readonly projection = '',
  ) {
    super(`${event.type}@${event.position} (${event.streamId} v${event.streamVersion}) cannot be applied: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'UnappliableEventError';
  }
}

const inList = (n: number) => Array.from({ length: n }, () => '?').join(', ');
const CHUNK = 500;

/** What the caller of {@link applyBatchIn} adds to the batch's statements. */
export interface BatchOptions {
  /** Statements written with the batch's rows and versions (the sources' watermarks). */
  also?: readonly Write[];
  /** The projections' advisory lock (PostgreSQL), taken before the batch reads or writes anything. */
  lock?: ProjectionLocks;
}

/** One projection a batch is applied to. */
export interface BatchTarget {
  view: RowProjection;
  /** Its row key in the shared checkpoint tables: its name, or `<name>__next` during a rebuild. */
  key: string;
  tables: Tables;
  /** Events found unappliable in an earlier attempt of this batch (see applyBatchIn). */
  skip?: ReadonlySet<string>;
  /** The rebuild's in-memory versions (see applyBatchIn). */
  versions?: Map<string, number>;
}

/**
 * Applies a batch to several projections inside the caller's transaction, exactly once in effect.
 *
 * Kafka orders events per stream (the message key), not across streams, so the dedupe key is
 * (projection, stream) → last stream version applied, read for the whole batch and every
 * projection in one query, and written back in one multi-row upsert. An event at or below that
 * version is a redelivery and is skipped. A version that jumps (last + 1 < version) means events
 * of that stream never reached this projection: the stream is **blocked** — flagged, recorded in
 * `projection_blocked`, logged as an error, and none of its events is applied any more (never
 * applied over a hole) until a rebuild refolds it.
 *
 * The rows the batch touches, for every projection, are read first (one query per table on
 * SQLite, one in all on PostgreSQL: prefetchRows), each view applies its events to them in memory,
 * and they are written back with the versions and `also` (the caller's watermarks) in a few
 * multi-row statements, joined into one on PostgreSQL (runWrites): a batch of the usual size is
 * four round trips after BEGIN (lock, versions, rows read, everything written) and COMMIT,
 * whatever its events and projections. `skip` holds events
 * found unappliable in an earlier attempt of this batch: they are recorded as dead letters here,
 * and count as consumed (their version is taken), so that the stream goes on after them.
 *
 * `versions` (a rebuild's private table set, which no one else writes) is read instead of the
 * stored versions, and updated by `commit()` once the caller's transaction committed: see rebuild.ts.
 */
export const applyBatchIn = async (
  tx: Sql,
  targets: readonly BatchTarget[],
  events: readonly StoredEvent[],
  log: Logger,
  opts: BatchOptions = {},
): Promise<Map<string, BatchOutcome> & { commit: () => void }> => {
  const streamIds = [...new Set(events.map((e) => e.streamId))].sort();
  const stored = targets.filter((t) => !t.versions);
  // The projections' lock before anything else: inside the versions statement on PostgreSQL when
  // there is one (one round trip less; see below), else on its own.
  const lock = opts.lock && opts.lock.names.length > 0 && tx.dialect === 'postgres' ? projectionLocksQuery(opts.lock.schema, opts.lock.names, opts.lock.mode) : null;
  if (lock && (stored.length === 0 || streamIds.length === 0)) await tx.run(lock.sql, lock.params);
  const also = opts.also ?? [];
  const last = new Map<string, Map<string, number>>(targets.map((t) => [t.key, new Map()]));
  const blockedBefore = new Map<string, Set<string>>(targets.map((t) => [t.key, new Set()]));
  for (const t of targets) if (t.versions) for (const s of streamIds) last.get(t.key)!.set(s, t.versions.get(s) ?? 0);
  if (stored.length > 0) {
    const keys = stored.map((t) => t.key).sort();
    for (let i = 0; i < streamIds.length; i += CHUNK) {
      const chunk = streamIds.slice(i, i + CHUNK);
      // PostgreSQL: two transactions may apply the same stream at once (a zombie consumer after a
      // rebalance, two instances on one read database). Each (projection, stream) row is created
      // if absent and locked, in one order, so the second waits for the first and then sees its
      // version. SQLite needs none of it: a write transaction there excludes every other.
      // On PostgreSQL one statement creates the absent rows and locks every row (an upsert that
      // changes nothing still takes the row lock), in the order of its values, and returns them.
      // The first one takes the projections' advisory lock first: an uncorrelated subquery in the
      // WHERE is an InitPlan of the plan's one-time filter, run once before the first row is read.
      const first = lock !== null && i === 0;
      const rows =
        tx.dialect === 'postgres'
          ? await tx.all<{ projection: string; stream_id: string; version: unknown; blocked: unknown }>(
              `insert into ${tx.table('projection_stream')} as s (projection, stream_id, version)
               select v.p, v.s, 0 from (values ${keys.flatMap(() => chunk.map(() => '(?, ?)')).join(', ')}) as v(p, s)${first ? `\n               where (select count(*) from (${lock.sql}) as l) >= 0` : ''}
               on conflict (projection, stream_id) do update set version = s.version
               returning s.projection, s.stream_id, s.version, s.blocked`,
              [...keys.flatMap((k) => chunk.flatMap((id) => [k, id])), ...(first ? lock.params : [])],
            )
          : await tx.all<{ projection: string; stream_id: string; version: unknown; blocked: unknown }>(
              `select projection, stream_id, version, blocked from ${tx.table('projection_stream')}
               where projection in (${inList(keys.length)}) and stream_id in (${inList(chunk.length)})`,
              [...keys, ...chunk],
            );
      for (const r of rows) {
        last.get(String(r.projection))!.set(String(r.stream_id), num(r.version));
        if (num(r.blocked) === 1) blockedBefore.get(String(r.projection))!.add(String(r.stream_id));
      }
    }
  }

  const out = new Map<string, BatchOutcome>() as Map<string, BatchOutcome> & { commit: () => void };
  const touchedBy = new Map<string, Map<string, number>>();
  const plans: Array<{ target: BatchTarget; outcome: BatchOutcome; rows: BatchRows; refs: RowRef[] }> = [];
  for (const t of targets) {
    const outcome: BatchOutcome = { applied: [], duplicates: 0, blocked: [], deadLettered: [], statements: 0 };
    const versions = last.get(t.key)!;
    const blocked = blockedBefore.get(t.key)!;
    const touched = new Map<string, number>();
    for (const e of events) {
      if (blocked.has(e.streamId)) continue;
      const v = touched.get(e.streamId) ?? versions.get(e.streamId) ?? 0;
      if (e.streamVersion <= v) {
        outcome.duplicates++;
        continue;
      }
      if (e.streamVersion > v + 1) {
        blocked.add(e.streamId);
        outcome.blocked.push({ streamId: e.streamId, expected: v + 1, got: e.streamVersion, position: e.position });
        continue;
      }
      touched.set(e.streamId, e.streamVersion);
      if (t.skip?.has(e.eventId)) outcome.deadLettered.push(e);
      else outcome.applied.push(e);
    }
    const refs = outcome.applied.flatMap((e) => {
      try {
        return t.view.prefetch(e);
      } catch (err) {
        throw new UnappliableEventError(e, err, t.key);
      }
    });
    plans.push({ target: t, outcome, rows: new BatchRows(tx, t.tables, t.view.tables), refs });
    touchedBy.set(t.key, touched);
    out.set(t.key, outcome);
  }
  // Every projection's rows in one go (one round trip on PostgreSQL), then each view in memory.
  await prefetchRows(tx, plans);
  const writes: Write[] = [];
  for (const { target: t, outcome, rows } of plans) {
    const warn = (fields: object, msg: string) => log.warn({ projection: t.key, ...fields }, msg);
    for (const e of outcome.applied) {
      try {
        t.view.apply(rows, e, warn);
      } catch (err) {
        throw new UnappliableEventError(e, err, t.key);
      }
    }
    writes.push(...rows.writes());
    outcome.statements = rows.statements;
  }

  // The rows, the streams' versions and the caller's `also` (the watermarks): on PostgreSQL one
  // statement for a batch of the usual size (see runWrites), and in any case one transaction.
  const changed = [...touchedBy].flatMap(([key, m]) => [...m].map(([stream, version]) => [key, stream, version] as const));
  for (let i = 0; i < changed.length; i += CHUNK) {
    const chunk = changed.slice(i, i + CHUNK);
    writes.push({
      table: tx.table('projection_stream'),
      sql: `insert into ${tx.table('projection_stream')} as s (projection, stream_id, version) values ${chunk.map(() => '(?, ?, ?)').join(', ')}
       on conflict (projection, stream_id) do update set version = excluded.version where s.version < excluded.version`,
      params: chunk.flat(),
    });
  }
  await runWrites(tx, [...writes, ...also]);
  for (const [key, outcome] of out) {
    for (const b of outcome.blocked) {
      log.error(
        { projection: key, streamId: b.streamId, lastApplied: b.expected - 1, got: b.got, position: b.position },
        `projection ${key} blocked stream ${b.streamId}: version ${b.got} arrived after ${b.expected - 1} (events lost upstream?); its events are not applied until a rebuild (webdial projections rebuild ${key.replace(/__next$/, '')})`,
      );
      await tx.run(
        `insert into ${tx.table('projection_stream')} as s (projection, stream_id, version, blocked) values (?, ?, ?, 1)
         on conflict (projection, stream_id) do update set blocked = 1`,
        [key, b.streamId, b.expected - 1],
      );
      await tx.run(
        `insert into ${tx.table('projection_blocked')} (projection, stream_id, expected_version, got_version, position, at) values (?, ?, ?, ?, ?, ?)
         on conflict (projection, stream_id) do nothing`,
        [key, b.streamId, b.expected, b.got, b.position, new Date().toISOString()],
      );
    }
    for (const e of outcome.deadLettered) await recordDeadLetter(tx, { projection: key, event: e, error: 'the view cannot apply this event' });
  }
  out.commit = () => {
    for (const t of targets) if (t.versions) for (const [s, v] of touchedBy.get(t.key) ?? []) t.versions.set(s, v);
  };
  return out;
};

/**
 * Raises the sources' watermarks of several projections (never lowers one), in one statement (a batch's own source and
 * the marker-only sources coalesced into it). A source given twice counts with its highest position.
 */
export const advanceSourceWatermarks = async (tx: Sql, keys: readonly string[], marks: readonly { source: string; watermark: string }[]): Promise<void> => {
  const w = sourceWatermarksWrite(tx, keys, marks);
  if (w) await tx.run(w.sql, w.params);
};

/** {@link advanceSourceWatermarks} as a statement to run with a batch's rows (applyBatchIn's `also`); null: nothing to raise. */
export const sourceWatermarksWrite = (tx: Sql, keys: readonly string[], marks: readonly { source: string; watermark: string }[]): Write | null => {
  const highest = new Map<string, string>();
  for (const m of marks) if ((highest.get(m.source) ?? '') < m.watermark) highest.set(m.source, m.watermark);
  if (highest.size === 0 || keys.length === 0) return null;
  const rows = keys.flatMap((k) => [...highest].map(([source, position]) => [k, source, position]));
  return {
    table: tx.table('projection_watermark'),
    sql: `insert into ${tx.table('projection_watermark')} as w (projection, source, position) values ${rows.map(() => '(?, ?, ?)').join(', ')}
     on conflict (projection, source) do update set position = excluded.position where w.position < excluded.position`,
    params: rows.flat(),
  };
};

/** Raises the projection's base checkpoint (what a rebuild replayed) to `position`. */
export const advanceCheckpoint = async (tx: Sql, key: string, position: string): Promise<void> => {
  await tx.run(
    `insert into ${tx.table('projection_checkpoint')} as c (projection, position) values (?, ?)
     on conflict (projection) do update set position = excluded.position
     where c.position < excluded.position`,
    [key, position],
  );
};

/**
 * Declares the sources a projection consumes (the bus's partitions): a source without a
 * watermark holds the checkpoint back, and sources that no longer exist stop counting.
 */
export const expectSources = async (tx: Sql, key: string, sources: readonly string[]): Promise<void> => {
  if (sources.length === 0) throw new Error('a projection consumes at least one source');
  await tx.run(`delete from ${tx.table('projection_watermark')} where projection = ? and source not in (${inList(sources.length)})`, [key, ...sources]);
  for (const s of sources)
    await tx.run(`insert into ${tx.table('projection_watermark')} (projection, source, position) values (?, ?, '') on conflict (projection, source) do nothing`, [key, s]);
};

/**
 * How far the projection has applied the store's global order: every event at or before the
 * returned position is applied. The lowest watermark over its sources (null while one has none),
 * or the base a rebuild left, whichever is higher.
 */
export const readCheckpoint = async (sql: Sql, key: string): Promise<string | null> => {
  const base = await sql.all<{ position: unknown }>(`select position from ${sql.table('projection_checkpoint')} where projection = ?`, [key]);
  const marks = await sql.all<{ position: unknown }>(`select position from ${sql.table('projection_watermark')} where projection = ?`, [key]);
  const low = marks.length === 0 || marks.some((m) => !m.position) ? null : marks.map((m) => String(m.position)).sort()[0];
  const b = base.length ? strOrNull(base[0].position) : null;
  if (b === null) return low;
  if (low === null) return b;
  return low > b ? low : b;
};

/** {@link readCheckpoint} of several projections at once (two queries in all). */
export const readCheckpoints = async (sql: Sql, keys: readonly string[]): Promise<Map<string, string | null>> => {
  const base = new Map<string, string>();
  for (const r of await sql.all<{ projection: unknown; position: unknown }>(`select projection, position from ${sql.table('projection_checkpoint')} where projection in (${inList(keys.length)})`, [...keys]))
    if (r.position) base.set(String(r.projection), String(r.position));
  const marks = new Map<string, string[]>();
  for (const r of await sql.all<{ projection: unknown; position: unknown }>(`select projection, position from ${sql.table('projection_watermark')} where projection in (${inList(keys.length)})`, [...keys]))
    marks.set(String(r.projection), [...(marks.get(String(r.projection)) ?? []), String(r.position ?? '')]);
  const out = new Map<string, string | null>();
  for (const k of keys) {
    const m = marks.get(k) ?? [];
    const low = m.length === 0 || m.some((p) => !p) ? null : m.sort()[0];
    const b = base.get(k) ?? null;
    out.set(k, b === null ? low : low === null ? b : low > b ? low : b);
  }
  return out;
};

/** Streams a projection has blocked on a version gap. */
export const blockedStreams = async (sql: Sql, key?: string): Promise<Array<{ projection: string; streamId: string; expected: number; got: number; position: string; at: string }>> => {
  const rows = await sql.all(`select * from ${sql.table('projection_blocked')}${key ? ' where projection = ?' : ''} order by at`, key ? [key] : []);
  return rows.map((r) => ({ projection: String(r.projection), streamId: String(r.stream_id), expected: num(r.expected_version), got: num(r.got_version), position: String(r.position), at: String(r.at) }));
};

export interface DeadLetter {
  id: number;
  /** The projection (or consumer group) that could not use the message. */
  consumer: string;
  eventId: string | null;
  type: string | null;
  streamId: string | null;
  streamVersion: number | null;
  position: string | null;
  merchantId: string | null;
  /** Where a message that could not even be decoded was (topic/partition@offset). */
  origin: string | null;
  error: string;
  at: string;
  replayedAt: string | null;
}

/** Records a dead letter: an event (or an undecodable message) a consumer set aside. */
export const recordDeadLetter = async (
  tx: Sql,
  d: { projection: string; event?: StoredEvent; origin?: string; error: string; payload?: string },
): Promise<void> => {
  const e = d.event;
  await tx.run(
    `insert into ${tx.table('dead_letters')} (consumer, event_id, type, stream_id, stream_version, position, merchant_id, origin, error, payload, at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [d.projection, e?.eventId ?? null, e?.type ?? null, e?.streamId ?? null, e?.streamVersion ?? null, e?.position ?? null, e?.merchantId ?? null, d.origin ?? null, d.error.slice(0, 2000), d.payload ?? (e ? JSON.stringify(e) : null), new Date().toISOString()],
  );
};

/** Forgets every checkpoint row of `key` (used before a rebuild starts filling fresh tables). */
export const clearCheckpoints = async (tx: Sql, key: string): Promise<void> => {
  await tx.run(`delete from ${tx.table('projection_stream')} where projection = ?`, [key]);
  await tx.run(`delete from ${tx.table('projection_checkpoint')} where projection = ?`, [key]);
  await tx.run(`delete from ${tx.table('projection_blocked')} where projection = ?`, [key]);
};

/** Moves the checkpoint rows of `from` (a rebuild) onto `to` (the live name), replacing its own. */
export const moveCheckpoints = async (tx: Sql, from: string, to: string): Promise<void> => {
  await clearCheckpoints(tx, to);
  await tx.run(`update ${tx.table('projection_stream')} set projection = ? where projection = ?`, [to, from]);
  await tx.run(`update ${tx.table('projection_checkpoint')} set projection = ? where projection = ?`, [to, from]);
};
