import { randomBytes } from 'node:crypto';
import type { StoredEvent } from '../ports/event-store';
import { applyEvent, clearCheckpoints, moveCheckpoints } from './checkpoint';
import type { Db, Sql } from './db';
import { loggedRerates, rerateIn, type LoggedRerate } from './billing/rerate';
import { lockProjection } from './locks';
import { createTableSql, tablesFor } from './tables';
import type { Logger, View } from './view';

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
 * Re-ratings logged by billing are replayed at the position where they were applied.
 */
export const rebuildViews = async (
  db: Db,
  views: readonly View[],
  readAll: ReadAll,
  totalEvents: number,
  onProgress: (done: number, total: number) => void | Promise<void>,
  log: Logger,
  batchSize = 500,
): Promise<RebuildResult> => {
  const started = Date.now();
  const token = randomBytes(4).toString('hex');
  const next = tablesFor(db.sql, NEXT);
  const hasBilling = views.some((v) => v.name === 'billing');

  await db.transaction(async (tx) => {
    for (const v of views) {
      for (const def of v.tables) {
        await tx.run(`drop table if exists ${tx.table(def.name + NEXT)}`);
        for (const stmt of createTableSql(tx, def, NEXT, token)) await tx.run(stmt);
      }
      await clearCheckpoints(tx, v.name + NEXT);
    }
  });

  let rerates: LoggedRerate[] = hasBilling ? await loggedRerates(db.sql) : [];
  let lastSeq = rerates.at(-1)?.seq ?? 0;
  let rerateCount = 0;
  // Applies logged re-ratings that were taken before `position` (all of them when null).
  const rerateUpTo = async (tx: Sql, position: string | null) => {
    while (rerates.length > 0 && (position === null || rerates[0].atPosition === null || rerates[0].atPosition < position)) {
      await rerateIn(tx, next, rerates.shift()!.request);
      rerateCount++;
    }
  };
  const applyBatch = async (tx: Sql, batch: StoredEvent[]) => {
    for (const e of batch) {
      if (hasBilling) await rerateUpTo(tx, e.position);
      for (const v of views) await applyEvent(tx, v, v.name + NEXT, next, e, log);
    }
  };

  let after: string | null = null;
  let done = 0;
  for (;;) {
    const batch = await readAll(after, batchSize);
    if (batch.length === 0) break;
    await db.transaction((tx) => applyBatch(tx, batch));
    after = batch[batch.length - 1].position;
    done += batch.length;
    await onProgress(done, Math.max(totalEvents, done));
  }

  let caughtUp = 0;
  await db.transaction(async (tx) => {
    for (const v of views) await lockProjection(tx, db.schema, v.name, 'exclusive');
    for (;;) {
      const batch = await readAll(after, batchSize);
      if (batch.length === 0) break;
      await applyBatch(tx, batch);
      after = batch[batch.length - 1].position;
      caughtUp += batch.length;
    }
    if (hasBilling) {
      rerates = [...rerates, ...(await loggedRerates(tx, lastSeq))];
      lastSeq = rerates.at(-1)?.seq ?? lastSeq;
      await rerateUpTo(tx, null);
    }
    for (const v of views) {
      for (const def of v.tables) {
        await tx.run(`drop table if exists ${tx.table(def.name)}`);
        await tx.run(`alter table ${tx.table(def.name + NEXT)} rename to "${def.name}"`);
      }
      await moveCheckpoints(tx, v.name + NEXT, v.name);
    }
  });
  done += caughtUp;
  await onProgress(done, Math.max(totalEvents, done));

  const seconds = (Date.now() - started) / 1000;
  return {
    projections: views.map((v) => v.name),
    events: done,
    caughtUpInSwap: caughtUp,
    rerates: rerateCount,
    seconds,
    eventsPerSecond: seconds > 0 ? Math.round(done / seconds) : done,
    lastPosition: after,
  };
};
