import { badInput, DomainError, notFound } from '../../domain/shared/errors';
import type { EventBatch } from '../../ports/bus';
import type { StoredEvent } from '../../ports/event-store';
import { jsonOrNull, num, numOrNull, openDb, strOrNull, type Db, type DbConfig, type Sql } from '../../adapters/sql/db';
import { withRetry } from '../../adapters/sql/retry';
import {
  applyBatchIn,
  blockedStreams,
  expectSources,
  readCheckpoint,
  readCheckpoints,
  recordDeadLetter,
  sourceWatermarksWrite,
  UnappliableEventError,
  type BatchOutcome,
  type DeadLetter,
} from './checkpoint';
import { consoleLogger, PROJECTION_NAMES, type Logger, type ProjectionName } from './common';
import { lockProjection } from './locks';
import { migrate } from './migrations';
import { rebuildViews, type ReadAll, type RebuildResult } from './rebuild';
import { BatchRows, type RowProjection } from './rows';
import { tablesFor } from './tables';

export interface ReadModelsConfig extends DbConfig {
  logger?: Logger;
}

/**
 * One projection as the bus sees it: a consumer group's handler. Every event of every topic is
 * delivered to it, not only the ones that write rows: each one advances the stream's version (so a
 * real gap can be told from a filtered one) and the source's watermark (the checkpoint).
 */
export interface Projection {
  readonly name: ProjectionName;
  /** Applies a batch in one transaction with its versions and watermark; repeats are skipped. */
  apply(batch: EventBatch): Promise<BatchOutcome>;
}

/**
 * The read side's engine over a set of projections: batches applied exactly once, checkpoints,
 * dead letters, rebuild and dump. src/projections/index.ts adds the read models' queries and
 * billing's re-rating.
 */
export interface ReadEngine {
  readonly dialect: 'sqlite' | 'postgres';
  readonly projections: Projection[];
  /**
   * Applies a batch (in delivery order) in ONE transaction: the rows, the streams' versions and
   * the source's watermark commit together or not at all, so a failure (rolled back) or a
   * redelivery never applies anything twice. A transient database error is retried here a few
   * times, then thrown (the bus retries the batch). An event the view cannot apply is recorded as
   * a dead letter and the rest of the batch is applied. Events given as a plain list come from the
   * source `direct` (tests, tools).
   */
  applyBatch(name: ProjectionName, batch: EventBatch | readonly StoredEvent[]): Promise<BatchOutcome>;
  /** The same batch to every projection, in one transaction: how the server consumes (one consumer group). */
  applyAll(batch: EventBatch): Promise<Map<ProjectionName, BatchOutcome>>;
  /** One event on its own (a `direct` batch of one): 'duplicate' when it was applied before. */
  apply(name: ProjectionName, event: StoredEvent): Promise<'applied' | 'duplicate'>;
  /**
   * How far the projection has applied the store's global order: every event at or before the
   * returned position is applied (null before its first batch). Correct across Kafka partitions:
   * the lowest watermark of the sources declared with {@link expectSources}.
   */
  checkpoint(name: string): Promise<string | null>;
  /**
   * How far every projection has applied the store: the lowest of their checkpoints (null while
   * one has none). What a read that asks for its own writes waits on.
   */
  lowestCheckpoint(): Promise<string | null>;
  /**
   * Marks a one-time token (an export ticket's nonce) used, in the read database every instance
   * shares: true the first time, false ever after, whichever instance asked first. Entries past
   * `expiresAt` (ms) are forgotten once `now` passes it (the token is refused as expired by then).
   */
  useOnce(nonce: string, expiresAt: number, now: number): Promise<boolean>;
  /** The bus sources (partitions) the projection consumes from now on. */
  expectSources(name: ProjectionName, sources: readonly string[]): Promise<void>;
  /** Streams blocked on a version gap (never applied over; repaired by a rebuild). */
  blocked(name?: ProjectionName): ReturnType<typeof blockedStreams>;
  /** Dead letters, newest first; `merchantId` limits them to that merchant's events. */
  deadLetters(filter?: { merchantId?: string | null; first?: number }): Promise<DeadLetter[]>;
  /** Records a message a consumer could not even decode (the bus's poison messages). */
  recordUndecodable(consumer: string, origin: string, error: string, payload: string | null): Promise<void>;
  /**
   * Applies a dead-lettered event again (after a fix), through its projection's view, and marks it
   * replayed. `merchantId` (a merchant's key) refuses another merchant's dead letter as NOT_FOUND.
   */
  replayDeadLetter(id: number, merchantId?: string | null): Promise<DeadLetter>;
  /** Rebuilds into fresh tables and swaps them in; queries keep answering meanwhile. */
  rebuild(
    names: readonly string[] | 'all',
    readAll: ReadAll,
    totalEvents: number,
    onProgress: (done: number, total: number) => void | Promise<void>,
  ): Promise<RebuildResult>;
  /**
   * Every row of the projections' tables, sorted by primary key, values normalised (numbers as
   * numbers): two read sides fed the same events dump equal. For tests such as "after a broker
   * restart every projection equals a fold of the event store" (rebuild a fresh copy, compare).
   */
  dump(names?: readonly ProjectionName[]): Promise<Record<string, Array<Record<string, unknown>>>>;
  /** Reachability probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const maxPosition = (events: readonly StoredEvent[]): string | null =>
  events.reduce<string | null>((m, e) => (m === null || e.position > m ? e.position : m), null);

const toDeadLetter = (r: Record<string, unknown>): DeadLetter => ({
  id: num(r.id),
  consumer: String(r.consumer),
  eventId: strOrNull(r.event_id),
  type: strOrNull(r.type),
  streamId: strOrNull(r.stream_id),
  streamVersion: numOrNull(r.stream_version),
  position: strOrNull(r.position),
  merchantId: strOrNull(r.merchant_id),
  origin: strOrNull(r.origin),
  error: String(r.error),
  at: String(r.at),
  replayedAt: strOrNull(r.replayed_at),
});

/** A dead letter's event through its view once more, on the live tables (its version is already taken). */
const replayOne = async (tx: Sql, view: RowProjection, event: StoredEvent, log: Logger): Promise<void> => {
  const rows = new BatchRows(tx, tablesFor(tx, ''), view.tables);
  const still = (e: unknown) => new DomainError('CONFLICT', `the ${view.name} view still cannot apply ${event.type}@${event.position}: ${(e as Error).message}`);
  let refs: ReturnType<RowProjection['prefetch']>;
  try {
    refs = view.prefetch(event);
  } catch (e) {
    throw still(e);
  }
  await rows.prefetch(refs);
  try {
    view.apply(rows, event, (fields, msg) => log.warn({ projection: view.name, ...fields }, msg));
  } catch (e) {
    throw still(e);
  }
  await rows.write();
};

/**
 * Opens the read database (SQLite `<dataDir>/read.db` or PostgreSQL in `schema`), runs pending
 * migrations for `views`, and returns the engine over them, with the database it opened (for the
 * read models' queries and re-rating).
 */
export const openReadEngine = async (config: ReadModelsConfig, views: RowProjection[]): Promise<{ engine: ReadEngine; db: Db }> => {
  const log = config.logger ?? consoleLogger;
  const db = await openDb(config);
  try {
    await migrate(db, views);
  } catch (e) {
    await db.close();
    throw e;
  }
  const live = tablesFor(db.sql, '');
  const viewOf = (name: string): RowProjection => {
    const v = views.find((x) => x.name === name);
    if (!v) throw badInput(`unknown projection "${name}"; known: ${PROJECTION_NAMES.join(', ')}`, { field: 'name' });
    return v;
  };

  /**
   * Applies one batch to several projections in ONE transaction (one commit instead of one per
   * projection: the commit is most of a small batch's cost). An event a view throws for is set
   * aside for that projection (skip) and the batch applied again without it, in a new transaction,
   * with the event recorded as a dead letter.
   */
  const applyTo = async (names: readonly ProjectionName[], input: EventBatch | readonly StoredEvent[]): Promise<Map<ProjectionName, BatchOutcome>> => {
    const targets = names.map((n) => ({ name: n, view: viewOf(n), skip: new Set<string>() }));
    const batch: EventBatch = Array.isArray(input)
      ? { events: input as readonly StoredEvent[], source: 'direct', watermark: maxPosition(input as readonly StoredEvent[]) }
      : (input as EventBatch);
    for (;;) {
      try {
        return await withRetry(() =>
          db.transaction(async (tx) => {
            // The batch's own source and the marker-only sources coalesced into it: one statement,
            // written with the batch's rows (one round trip on PostgreSQL, see runWrites).
            const marks = batch.watermark === null ? (batch.marks ?? []) : [{ source: batch.source, watermark: batch.watermark }, ...(batch.marks ?? [])];
            const watermarks = sourceWatermarksWrite(tx, names, marks);
            const out = await applyBatchIn(tx, targets.map((t) => ({ view: t.view, key: t.name, tables: live, skip: t.skip })), batch.events, log, {
              also: watermarks ? [watermarks] : [],
              lock: { schema: db.schema, names: targets.map((t) => t.name), mode: 'shared' },
            });
            return out as Map<string, BatchOutcome> as Map<ProjectionName, BatchOutcome>;
          }),
        );
      } catch (e) {
        const target = e instanceof UnappliableEventError ? targets.find((t) => t.name === e.projection) : undefined;
        if (!target || !(e instanceof UnappliableEventError) || target.skip.has(e.event.eventId)) throw e;
        log.error({ projection: target.name, eventId: e.event.eventId, type: e.event.type, position: e.event.position, err: String(e.cause) }, `dead-lettered: ${e.message}`);
        target.skip.add(e.event.eventId);
      }
    }
  };
  const applyBatch = async (name: ProjectionName, input: EventBatch | readonly StoredEvent[]): Promise<BatchOutcome> => (await applyTo([name], input)).get(name)!;

  const engine: ReadEngine = {
    dialect: db.dialect,
    projections: views.map((v) => ({ name: v.name, apply: (batch: EventBatch) => applyBatch(v.name, batch) })),
    applyBatch,
    applyAll: (batch) => applyTo(PROJECTION_NAMES, batch),
    apply: async (name, event) => ((await applyBatch(name, [event])).duplicates > 0 ? 'duplicate' : 'applied'),
    checkpoint: (name) => readCheckpoint(db.sql, name),
    lowestCheckpoint: async () => {
      const all = [...(await readCheckpoints(db.sql, PROJECTION_NAMES)).values()];
      return all.some((c) => c === null) ? null : (all as string[]).sort()[0];
    },
    useOnce: (nonce, expiresAt, now) =>
      withRetry(() =>
        db.transaction(async (tx) => {
          await tx.run(`delete from ${tx.table('export_ticket_uses')} where expires_at <= ?`, [now]);
          const rows = await tx.all(`insert into ${tx.table('export_ticket_uses')} (nonce, expires_at) values (?, ?) on conflict (nonce) do nothing returning nonce`, [nonce, expiresAt]);
          return rows.length === 1;
        }),
      ),
    expectSources: (name, sources) => withRetry(() => db.transaction((tx) => expectSources(tx, name, sources))),
    blocked: (name) => blockedStreams(db.sql, name),
    deadLetters: async (filter = {}) => {
      const first = filter.first ?? 100;
      if (!Number.isInteger(first) || first < 1 || first > 500) throw badInput('first must be from 1 to 500', { field: 'first' });
      const rows = await db.sql.all(
        `select * from ${db.sql.table('dead_letters')}${filter.merchantId ? ' where merchant_id = ?' : ''} order by id desc limit ?`,
        [...(filter.merchantId ? [filter.merchantId] : []), first],
      );
      return rows.map(toDeadLetter);
    },
    recordUndecodable: (consumer, origin, error, payload) =>
      withRetry(() => db.transaction((tx) => recordDeadLetter(tx, { projection: consumer, origin, error, payload: payload ?? undefined }))),
    replayDeadLetter: async (id, merchantId) => {
      const at = new Date().toISOString();
      return withRetry(() =>
        db.transaction(async (tx) => {
          // Read and marked in one transaction (locked on PostgreSQL): two replays never apply it twice.
          const rows = await tx.all(`select * from ${tx.table('dead_letters')} where id = ?${tx.dialect === 'postgres' ? ' for update' : ''}`, [id]);
          const d = rows.length ? toDeadLetter(rows[0]) : null;
          // Another merchant's dead letter is indistinguishable from a missing one.
          if (!d || (merchantId && d.merchantId !== merchantId)) throw notFound('dead letter', String(id));
          if (d.replayedAt) throw new DomainError('CONFLICT', `dead letter ${id} was replayed at ${d.replayedAt}: its event is applied`, { id });
          const name = d.consumer as ProjectionName;
          // An undecodable message has no event id, and its payload is the raw message (base64).
          const payload = d.eventId && rows[0].payload ? jsonOrNull<StoredEvent>(rows[0].payload) : null;
          if (!payload || !PROJECTION_NAMES.includes(name))
            throw new DomainError('BAD_USER_INPUT', `dead letter ${id} is not an event a projection set aside (${d.origin ?? d.consumer}): nothing to replay here`, { field: 'id' });
          await lockProjection(tx, db.schema, name, 'shared');
          await replayOne(tx, viewOf(name), payload, log);
          await tx.run(`update ${tx.table('dead_letters')} set replayed_at = ? where id = ?`, [at, id]);
          return { ...d, replayedAt: at };
        }),
      );
    },
    rebuild: (names, readAll, totalEvents, onProgress) =>
      rebuildViews(db, names === 'all' ? views : [...new Set(names)].map(viewOf), readAll, totalEvents, onProgress, log),
    dump: async (names) => {
      const out: Record<string, Array<Record<string, unknown>>> = {};
      for (const v of views) {
        if (names && !names.includes(v.name)) continue;
        for (const def of v.tables) {
          // PostgreSQL hands bigint columns back as strings; SQLite as numbers: dump numbers.
          const bigints = new Set(def.columns(db.dialect).filter((c) => c.split(' ')[1] === 'bigint').map((c) => c.split(' ')[0]));
          const rows = await db.sql.all(`select * from ${db.sql.table(def.name)} order by ${def.primaryKey.join(', ')}`);
          out[def.name] = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, x]) => [k, bigints.has(k) && x !== null ? Number(x) : x])));
        }
      }
      return out;
    },
    ping: async () => {
      await db.sql.all('select 1 as ok');
    },
    close: () => db.close(),
  };
  return { engine, db };
};
