import { randomBytes } from 'node:crypto';
import type { StoredEvent } from '../../ports/event-store';
import { advanceCheckpoint, applyBatchIn, clearCheckpoints, moveCheckpoints, UnappliableEventError } from './checkpoint';
import type { Db, Sql } from '../../adapters/sql/db';
import { withRetry } from '../../adapters/sql/retry';
import { lockProjections } from './locks';
import { createTableSql, tablesFor } from './tables';
import type { LoggedWrite, RowProjection } from './rows';
import type { Logger } from './common';

export type ReadAll = (after: string | null, limit: number) => Promise<StoredEvent[]>;

export interface RebuildResult {
  projections: string[];
  events: number;
  /** Events applied inside the swap transaction (appended while the replay ran). */
  caughtUpInSwap: number;
  rerates: number;
  seconds: number;
  eventsPerSecond: number;
  lastPosition: string | null;
}

const NEXT = '__next' as const;

/**
 * Rebuilds projections from the event store without stopping the service:
 * 1. creates a fresh table set (`<table>__next`) and empty checkpoints (`<name>__next`);
 * 2. replays every stored event into it, in batches, one transaction per batch (live queries keep
 *    reading the old tables, and live appliers keep writing them);
 * 3. in ONE transaction: takes the projection's lock exclusively (postgres), applies what was
 *    appended meanwhile, drops the old tables, renames the fresh ones and moves the checkpoints.
 * Writes a read model logged outside the stream (`RowProjection.logged`: billing's re-ratings) are
 * replayed at the position where they were applied.
 */
export const rebuildViews = async (
  db: Db,
  views: readonly RowProjection[],
  readAll: ReadAll,
  totalEvents: number,
  onProgress: (done: number, total: number) => void | Promise<void>,
  log: Logger,
  batchSize = 2000,
): Promise<RebuildResult> => {
  const started = Date.now();
  const token = randomBytes(4).toString('hex');
  const next = tablesFor(db.sql, NEXT);

  await db.transaction(async (tx) => {
    for (const v of views) {
      await claimRebuild(tx, v.name, token);
      for (const def of v.tables) {
        await tx.run(`drop table if exists ${tx.table(def.name + NEXT)}`);
        for (const stmt of createTableSql(tx, def, NEXT, token)) await tx.run(stmt);
      }
      await clearCheckpoints(tx, v.name + NEXT);
    }
  });

  // Each projection's logged writes, consumed by index so that a retried (rolled back) batch replays them again.
  const logs = new Map<string, LoggedWrite[]>();
  for (const v of views) if (v.logged) logs.set(v.name, await v.logged(db.sql, 0));
  let loggedIdx = new Map<string, number>();
  // Per projection, stream → last version applied to the fresh tables (authoritative: they started empty).
  const versions = new Map(views.map((v) => [v.name, new Map<string, number>()]));
  // Applies a batch to every view; returns the new re-rating index and a commit hook for the
  // in-memory versions (called only once the transaction committed, so a retried batch is exact).
  // Events a view cannot apply: dead-lettered, and the batch applied again without them.
  const skip = new Set<string>();
  const applyBatch = async (tx: Sql, batch: StoredEvent[], from: ReadonlyMap<string, number>, logged: ReadonlyMap<string, readonly LoggedWrite[]> = logs) => {
    for (const v of views) await assertOwner(tx, v.name, token);
    const idx = new Map(from);
    const commits: Array<() => void> = [];
    // A projection with logged writes still to replay goes alone, in event order, each write between
    // the events it came between; the others (and one with nothing logged) go together.
    const replaying = views.filter((v) => (logged.get(v.name)?.length ?? 0) > (from.get(v.name) ?? 0));
    const others = views.filter((v) => !replaying.includes(v));
    if (others.length > 0)
      commits.push((await applyBatchIn(tx, others.map((v) => ({ view: v, key: v.name + NEXT, tables: next, versions: versions.get(v.name)!, skip })), batch, log)).commit);
    for (const v of replaying) {
      const writes = logged.get(v.name)!;
      let i = idx.get(v.name) ?? 0;
      const working = new Map(versions.get(v.name));
      const pending: StoredEvent[] = [];
      const flush = async () => {
        if (pending.length === 0) return;
        (await applyBatchIn(tx, [{ view: v, key: v.name + NEXT, tables: next, versions: working, skip }], pending.splice(0), log)).commit();
      };
      for (const e of batch) {
        while (i < writes.length && (writes[i].atPosition === null || writes[i].atPosition! < e.position)) {
          await flush();
          await writes[i++].apply(tx, next);
        }
        pending.push(e);
      }
      await flush();
      if (batch.length === 0) while (i < writes.length) await writes[i++].apply(tx, next);
      idx.set(v.name, i);
      commits.push(() => versions.set(v.name, working));
    }
    const last = batch.at(-1)?.position;
    if (last) for (const v of views) await advanceCheckpoint(tx, v.name + NEXT, last);
    return { idx, commit: () => commits.forEach((c) => c()) };
  };
  /** Runs `work` again without each event a view refused (recorded as a dead letter). */
  const skipping = async <T>(work: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await work();
      } catch (e) {
        if (!(e instanceof UnappliableEventError) || skip.has(e.event.eventId)) throw e;
        log.error({ eventId: e.event.eventId, type: e.event.type, position: e.event.position }, `rebuild: dead-lettered: ${e.message}`);
        skip.add(e.event.eventId);
      }
    }
  };

  let after: string | null = null;
  let done = 0;
  for (;;) {
    const batch = await readAll(after, batchSize);
    if (batch.length === 0) break;
    const applied = await skipping(() => withRetry(() => db.transaction((tx) => applyBatch(tx, batch, loggedIdx))));
    applied.commit();
    loggedIdx = applied.idx;
    after = batch[batch.length - 1].position;
    done += batch.length;
    await onProgress(done, Math.max(totalEvents, done));
  }

  const saved = new Map([...versions].map(([name, m]) => [name, new Map(m)]));
  const swap = await skipping(() => withRetry(() =>
    db.transaction(async (tx) => {
      // A retried swap starts again from the versions the replay committed.
      for (const [name, m] of saved) versions.set(name, new Map(m));
      await lockProjections(tx, db.schema, views.map((v) => v.name), 'exclusive');
      for (const v of views) await assertOwner(tx, v.name, token);
      let last = after;
      let caughtUp = 0;
      let idx: ReadonlyMap<string, number> = loggedIdx;
      // Writes logged while the replay ran are in the logs now; the exclusive lock keeps new ones out.
      // (One logged during the replay at a position already replayed is applied here, slightly late.)
      const all = new Map<string, LoggedWrite[]>();
      for (const v of views) {
        const known = logs.get(v.name);
        if (known && v.logged) all.set(v.name, [...known, ...(await v.logged(tx, known.at(-1)?.seq ?? 0))]);
      }
      for (;;) {
        const batch = await readAll(last, batchSize);
        if (batch.length === 0) break;
        const applied = await applyBatch(tx, batch, idx, all);
        applied.commit();
        idx = applied.idx;
        last = batch[batch.length - 1].position;
        caughtUp += batch.length;
      }
      if (all.size > 0) idx = (await applyBatch(tx, [], idx, all)).idx;
      for (const v of views) {
        for (const def of v.tables) {
          await tx.run(`drop table if exists ${tx.table(def.name)}`);
          await tx.run(`alter table ${tx.table(def.name + NEXT)} rename to "${def.name}"`);
        }
        await moveCheckpoints(tx, v.name + NEXT, v.name);
        await tx.run(`delete from ${tx.table('projection_rebuild')} where projection = ?`, [v.name]);
      }
      return { caughtUp, last, idx };
    }),
  ));
  const caughtUp = swap.caughtUp;
  after = swap.last;
  const replayed = [...swap.idx.values()].reduce((n, i) => n + i, 0);
  done += caughtUp;
  await onProgress(done, Math.max(totalEvents, done));

  const seconds = (Date.now() - started) / 1000;
  return {
    projections: views.map((v) => v.name),
    events: done,
    caughtUpInSwap: caughtUp,
    rerates: replayed,
    seconds,
    eventsPerSecond: seconds > 0 ? Math.round(done / seconds) : done,
    lastPosition: after,
  };
};

/**
 * A second rebuild of the same projection (another terminal, a retried job) recreates the fresh
 * tables under its own token; the first one then stops at its next batch with a clear error instead
 * of mixing its rows into the other's tables. A rebuild that crashed leaves a row the next one replaces.
 */
const claimRebuild = async (tx: Sql, name: string, token: string) => {
  await tx.run(
    `insert into ${tx.table('projection_rebuild')} (projection, token, started_at) values (?, ?, ?)
     on conflict (projection) do update set token = excluded.token, started_at = excluded.started_at`,
    [name, token, new Date().toISOString()],
  );
};

const assertOwner = async (tx: Sql, name: string, token: string) => {
  const rows = await tx.all<{ token: string }>(`select token from ${tx.table('projection_rebuild')} where projection = ?`, [name]);
  if (rows.length === 0 || rows[0].token !== token)
    throw new Error(`rebuild of ${name} was taken over by another rebuild (or finished elsewhere); this one stops without swapping`);
};
