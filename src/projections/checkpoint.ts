import type { StoredEvent } from '../ports/event-store';
import { num, strOrNull, type Sql } from './db';
import type { Tables } from './tables';
import type { Logger, View } from './view';

export type ApplyOutcome = 'applied' | 'duplicate';

/**
 * Applies one event to one projection inside the caller's transaction, exactly once in effect.
 *
 * Kafka orders events per stream (the message key), not across streams, so the dedupe key is
 * (projection, stream) → last stream version applied. The claim is one conditional upsert: it
 * succeeds only when the event's version is above the stored one, and on PostgreSQL it holds the
 * row lock until commit, so two racing redeliveries of one event cannot both pass. A version that
 * jumps (last + 1 < version) means events of that stream never reached this projection: that is
 * logged as an error (the event is still applied: refusing it would block the stream forever).
 *
 * `key` is the projection's row key in the shared checkpoint tables: its name for the live tables,
 * `<name>__next` while a rebuild fills fresh ones.
 */
export const applyEvent = async (
  tx: Sql,
  view: View,
  key: string,
  tables: Tables,
  event: StoredEvent,
  log: Logger,
): Promise<ApplyOutcome> => {
  const streams = tx.table('projection_stream');
  const before = await tx.all<{ version: unknown }>(
    `select version from ${streams} where projection = ? and stream_id = ?`,
    [key, event.streamId],
  );
  const claimed = await tx.all(
    `insert into ${streams} as s (projection, stream_id, version) values (?, ?, ?)
     on conflict (projection, stream_id) do update set version = excluded.version
     where s.version < excluded.version
     returning version`,
    [key, event.streamId, event.streamVersion],
  );
  if (claimed.length === 0) return 'duplicate';

  const last = before.length ? num(before[0].version) : 0;
  if (event.streamVersion > last + 1) {
    log.error(
      { projection: key, streamId: event.streamId, lastApplied: last, got: event.streamVersion, position: event.position },
      'projection gap: stream versions were skipped (events lost upstream?)',
    );
  }
  if (view.handles(event.type)) await view.apply(tx, tables, event);
  await advanceCheckpoint(tx, key, event.position);
  return 'applied';
};

/** Raises the projection's global checkpoint to `position` (never lowers it). */
export const advanceCheckpoint = async (tx: Sql, key: string, position: string): Promise<void> => {
  await tx.run(
    `insert into ${tx.table('projection_checkpoint')} as c (projection, position) values (?, ?)
     on conflict (projection) do update set position = excluded.position
     where c.position < excluded.position`,
    [key, position],
  );
};

export const readCheckpoint = async (sql: Sql, key: string): Promise<string | null> => {
  const rows = await sql.all<{ position: unknown }>(
    `select position from ${sql.table('projection_checkpoint')} where projection = ?`,
    [key],
  );
  return rows.length ? strOrNull(rows[0].position) : null;
};

/** Forgets every checkpoint row of `key` (used before a rebuild starts filling fresh tables). */
export const clearCheckpoints = async (tx: Sql, key: string): Promise<void> => {
  await tx.run(`delete from ${tx.table('projection_stream')} where projection = ?`, [key]);
  await tx.run(`delete from ${tx.table('projection_checkpoint')} where projection = ?`, [key]);
};

/** Moves the checkpoint rows of `from` (a rebuild) onto `to` (the live name), replacing its own. */
export const moveCheckpoints = async (tx: Sql, from: string, to: string): Promise<void> => {
  await clearCheckpoints(tx, to);
  await tx.run(`update ${tx.table('projection_stream')} set projection = ? where projection = ?`, [to, from]);
  await tx.run(`update ${tx.table('projection_checkpoint')} set projection = ? where projection = ?`, [to, from]);
};

/**
 * The rebuild's fast path: applies a batch to a table set that no one else writes (a rebuild's
 * `<name>__next`), so the stream versions live in memory (`versions`, authoritative because the
 * fresh tables started empty) and are written once per batch with the checkpoint, in the same
 * transaction. `versions` is only updated when the returned `commit` is called after the commit.
 */
export const applyBatchPrivate = async (
  tx: Sql,
  view: View,
  key: string,
  tables: Tables,
  events: readonly StoredEvent[],
  versions: ReadonlyMap<string, number>,
  log: Logger,
): Promise<() => void> => {
  const touched = new Map<string, number>();
  let maxPosition: string | null = null;
  for (const e of events) {
    const last = touched.get(e.streamId) ?? versions.get(e.streamId) ?? 0;
    if (e.streamVersion <= last) continue;
    if (e.streamVersion > last + 1)
      log.error({ projection: key, streamId: e.streamId, lastApplied: last, got: e.streamVersion, position: e.position }, 'projection gap: stream versions were skipped (events lost upstream?)');
    if (view.handles(e.type)) await view.apply(tx, tables, e);
    touched.set(e.streamId, e.streamVersion);
    if (maxPosition === null || maxPosition < e.position) maxPosition = e.position;
  }
  const rows = [...touched.entries()];
  for (let i = 0; i < rows.length; i += 200) {
    const chunk = rows.slice(i, i + 200);
    await tx.run(
      `insert into ${tx.table('projection_stream')} as s (projection, stream_id, version) values ${chunk.map(() => '(?, ?, ?)').join(', ')}
       on conflict (projection, stream_id) do update set version = excluded.version where s.version < excluded.version`,
      chunk.flatMap(([stream, version]) => [key, stream, version]),
    );
  }
  if (maxPosition !== null) await advanceCheckpoint(tx, key, maxPosition);
  return () => {
    for (const [stream, version] of touched) (versions as Map<string, number>).set(stream, version);
  };
};
