import { Client, Pool, type ClientBase, type PoolClient } from 'pg';
import type {
  AppendResult,
  EventStore,
  EventStoreStats,
  ExpectedVersion,
  NewEvent,
  StoredEvent,
  SubscribeOptions,
  Snapshot,
  Subscription,
} from '../../ports/event-store';
import { WrongExpectedVersionError } from '../../ports/event-store';
import { asUnavailable } from '../../ports/dependency';
import { checkExpected, checkLimit, checkNewEvents, pad, pollingSubscription, ReadAllCache, Wakeups } from './common';
import { productionUpcasters, type UpcasterRegistry } from './upcasting';

/*
 * Global order without gaps — why the transaction-id snapshot scheme works.
 *
 * A sequence (or identity) value is taken when a row is inserted but becomes visible only when its
 * transaction commits. Transactions commit in any order, so a reader that checkpoints "seq 105"
 * may later see seq 103 commit behind it: the event is lost for that reader. That is the gap
 * ("high water mark") problem.
 *
 * Each row stores the id of the transaction that wrote it (`xid`, `pg_current_xact_id()` as xid8,
 * 64-bit and never wrapping). Readers only return rows with
 *     xid < pg_snapshot_xmin(pg_current_snapshot())
 * xmin is the oldest transaction still running when the reader's snapshot was taken. Every
 * transaction with a smaller id has finished: if it committed, its rows are in our snapshot; if it
 * aborted, it never will have rows. Transactions that start later get ids >= the snapshot's xmax
 * >= xmin. So no row with xid < xmin can ever appear after this read: the set of rows below xmin is
 * final. Ordering by (xid, seq) — seq orders the rows within one transaction — and checkpointing
 * the pair therefore never skips a row: a later row always sorts after the checkpoint.
 *
 * Cost: a row becomes readable in the global order only once every transaction older than its own
 * has finished. A long transaction anywhere in the cluster (xids are cluster-wide) delays readers;
 * it never makes them lose or reorder events. readStream does not filter: a stream's own order is
 * its version, which the unique (stream_id, stream_version) constraint makes unambiguous.
 *
 * Positions are `<xid, 20 digits>:<seq, 20 digits>`, so plain string order is (xid, seq) order.
 */

export interface PostgresEventStoreOptions {
  /** Schema holding the tables; created by the migrations. Default 'eventstore'. */
  schema?: string;
  upcasters?: UpcasterRegistry;
  /** Fallback poll interval of live subscriptions when no notification arrives. */
  pollMs?: number;
  /** Connection pool size (default 10). */
  poolSize?: number;
  /** Told about connection failures the store survives (a lost LISTEN connection, a broken pooled client). */
  onConnectionError?: (e: Error, where: 'pool' | 'listen') => void;
}

interface Row {
  xid: string;
  seq: string;
  event_id: string;
  stream_id: string;
  stream_version: number;
  type: string;
  data: unknown;
  occurred_at: string;
  recorded_at: Date;
  merchant_id: string | null;
  correlation_id: string;
  causation_id: string | null;
  schema_version: number;
  traceparent: string | null;
}

const POSITION = /^(\d{20}):(\d{20})$/;

export const formatPosition = (xid: string, seq: string): string => `${pad(xid)}:${pad(seq)}`;

/** Parses a position this adapter emitted into (xid, seq) decimal strings. */
const parsePosition = (position: string | null | undefined): [string, string] => {
  if (position === null || position === undefined) return ['0', '0'];
  const m = POSITION.exec(position);
  if (!m) throw new RangeError(`not a PostgreSQL event store position: ${position}`);
  return [BigInt(m[1]).toString(), BigInt(m[2]).toString()];
};

const identifier = (name: string): string => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new RangeError(`invalid schema name ${name}`);
  return `"${name}"`;
};

/** Versioned migrations; each runs once, in order, inside the migration transaction. */
const migrations = (s: string, channel: string): string[] => [
  // 1: the events table. (xid, seq) is the primary key because it is the read-all order.
  `CREATE TABLE ${s}.events (
     xid            xid8        NOT NULL DEFAULT pg_current_xact_id(),
     seq            bigint      GENERATED ALWAYS AS IDENTITY,
     event_id       text        NOT NULL,
     stream_id      text        NOT NULL,
     stream_version integer     NOT NULL,
     type           text        NOT NULL,
     data           jsonb       NOT NULL,
     occurred_at    text        NOT NULL,
     recorded_at    timestamptz NOT NULL DEFAULT now(),
     merchant_id    text,
     correlation_id text        NOT NULL,
     causation_id   text,
     schema_version integer     NOT NULL,
     PRIMARY KEY (xid, seq),
     CONSTRAINT events_stream_version UNIQUE (stream_id, stream_version),
     CONSTRAINT events_event_id UNIQUE (event_id)
   );`,
  // 2: wake live subscribers of every process from a statement-level trigger. (Superseded by 3.)
  `CREATE FUNCTION ${s}.notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN PERFORM pg_notify('${channel}', ''); RETURN NULL; END $$;
   CREATE TRIGGER events_notify AFTER INSERT ON ${s}.events
     FOR EACH STATEMENT EXECUTE FUNCTION ${s}.notify_events();`,
  // 3: a transaction that NOTIFYs holds a cluster-wide lock from pre-commit through its commit
  // (WAL flush included), so notifying appends commit one at a time and lose group commit: the
  // benchmark measured 16 writers no faster than 1. Appends now notify after their commit, from
  // the application, coalesced per event-loop turn (see PostgresEventStore.notifyLater).
  `DROP TRIGGER IF EXISTS events_notify ON ${s}.events;
   DROP FUNCTION IF EXISTS ${s}.notify_events();`,
  // 4: snapshots of long streams' folded states (an optimisation; the events stay the truth).
  `CREATE TABLE ${s}.snapshots (
     stream_id text    NOT NULL,
     kind      text    NOT NULL,
     version   integer NOT NULL,
     state     jsonb   NOT NULL,
     PRIMARY KEY (stream_id, kind)
   );`,
  // 5: the envelope's W3C trace context (tracing on), so the relay and the consumers continue the trace.
  `ALTER TABLE ${s}.events ADD COLUMN traceparent text;`,
  // 6: group commit — many appends (each to its own stream, with its own expected version) in one
  // statement, hence one transaction and one WAL flush. Each append runs in a subtransaction, so a
  // version conflict refuses that append alone. Appends are given flat: append k has p_count[k]
  // events starting at index p_first[k] of the e_* arrays.
  `CREATE FUNCTION ${s}.append_batch(
       p_stream text[], p_expected int[], p_first int[], p_count int[],
       e_id text[], e_type text[], e_data text[], e_occurred text[], e_merchant text[], e_corr text[], e_caus text[], e_schema int[], e_trace text[])
     RETURNS TABLE(o_i int, o_ok boolean, o_actual int, o_error text, o_xid text, o_seq text, o_version int, o_recorded timestamptz)
     LANGUAGE plpgsql AS $$
     DECLARE
       cur int;
       failed text;
     BEGIN
       FOR k IN 1 .. coalesce(array_length(p_stream, 1), 0) LOOP
         SELECT coalesce(max(ev.stream_version), 0) INTO cur FROM ${s}.events ev WHERE ev.stream_id = p_stream[k];
         IF p_expected[k] >= 0 AND cur <> p_expected[k] THEN
           RETURN QUERY SELECT k, false, cur, 'version'::text, null::text, null::text, null::int, null::timestamptz;
           CONTINUE;
         END IF;
         BEGIN
           RETURN QUERY
             INSERT INTO ${s}.events AS ev (event_id, stream_id, stream_version, type, data, occurred_at, merchant_id, correlation_id, causation_id, schema_version, traceparent)
             SELECT e_id[j], p_stream[k], cur + (j - p_first[k] + 1), e_type[j], e_data[j]::jsonb, e_occurred[j], e_merchant[j], e_corr[j], e_caus[j], e_schema[j], e_trace[j]
             FROM generate_series(p_first[k], p_first[k] + p_count[k] - 1) AS j
             RETURNING k, true, cur, null::text, ev.xid::text, ev.seq::text, ev.stream_version, ev.recorded_at;
         EXCEPTION WHEN unique_violation THEN
           GET STACKED DIAGNOSTICS failed = CONSTRAINT_NAME;
           RETURN QUERY SELECT k, false, -1, failed, null::text, null::text, null::int, null::timestamptz;
         END;
       END LOOP;
     END $$;`,
];

/**
 * Runs the pending migrations of `schema`. Idempotent, and safe when several processes start at
 * once: a transaction-scoped advisory lock (keyed by the schema) serialises them, and each
 * migration is recorded in `<schema>.schema_migrations` in the same transaction that applies it.
 */
export const migrate = async (client: ClientBase, schema: string): Promise<number[]> => {
  const s = identifier(schema);
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('webdial-eventstore:' || $1::text))`, [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
      version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await client.query<{ version: number }>(`SELECT version FROM ${s}.schema_migrations`)).rows.map((r) => r.version),
    );
    const all = migrations(s, channelOf(schema));
    for (let i = 0; i < all.length; i++) {
      const version = i + 1;
      if (done.has(version)) continue;
      await client.query(all[i]);
      await client.query(`INSERT INTO ${s}.schema_migrations (version) VALUES ($1)`, [version]);
      applied.push(version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
};

const channelOf = (schema: string) => `${schema}_events`;

const UNIQUE_VIOLATION = '23505';
/** Minimum spacing of the NOTIFYs one store sends (cross-process wake-up latency at most this). */
const NOTIFY_INTERVAL_MS = 20;

/**
 * The PostgreSQL event store (`pg`). Per-stream optimistic concurrency is enforced by the database
 * (unique stream/version constraint); an append is one statement, hence one atomic transaction
 * and one round trip; the global order is gap-free by the transaction-id snapshot scheme explained
 * above; live subscriptions wake on LISTEN/NOTIFY (sent after commit) and poll as the fallback.
 */
export class PostgresEventStore implements EventStore {
  readonly name = 'postgres';
  private readonly pool: Pool;
  private readonly s: string;
  private readonly upcasters: UpcasterRegistry;
  private readonly wakeups = new Wakeups();
  private readonly pages = new ReadAllCache();
  private readonly subscriptions = new Set<Subscription>();
  private listener: Client | null = null;
  private notifyPending = false;
  private lastNotifyAt = 0;
  private closed = false;
  private readonly sql: { append: string; version: string; stream: string; all: string };

  /** Does not touch the database; use {@link PostgresEventStore.open}, or call {@link migrate} first. */
  constructor(readonly connectionString: string, private readonly options: PostgresEventStoreOptions = {}) {
    this.schema = options.schema ?? 'eventstore';
    this.s = identifier(this.schema);
    this.upcasters = options.upcasters ?? productionUpcasters;
    // keepAlive: a peer that vanished without a FIN (a network partition, a frozen host) is noticed
    // within about 10 s + probes instead of hanging a query for the kernel's two hours.
    this.pool = new Pool({ connectionString, max: options.poolSize ?? 10, connectionTimeoutMillis: 5_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    // A pooled connection that dies (server restart, network) must not crash the process: pg emits
    // 'error' on the pool for an idle client, and on the client itself while it is checked out,
    // where an unhandled 'error' event would be fatal. The failed query rejects; the pool replaces the client.
    const report = (e: Error) => options.onConnectionError?.(e, 'pool');
    this.pool.on('error', report);
    this.pool.on('connect', (client) => client.on('error', report));
    const t = `${this.s}.events`;
    const columns = `xid::text AS xid, seq::text AS seq, event_id, stream_id, stream_version, type, data,
      occurred_at, recorded_at, merchant_id, correlation_id, causation_id, schema_version, traceparent`;
    this.sql = {
      // One statement: read the stream's version, check it, insert the batch. Two concurrent appends
      // that both pass the check collide on the unique (stream_id, stream_version) index; the loser
      // waits for the winner's commit and fails with 23505, which becomes WrongExpectedVersionError.
      append: `WITH cur AS (SELECT coalesce(max(stream_version), 0) AS v FROM ${t} WHERE stream_id = $1)
        INSERT INTO ${t} (event_id, stream_id, stream_version, type, data, occurred_at, merchant_id,
                          correlation_id, causation_id, schema_version, traceparent)
        SELECT e.event_id, $1, cur.v + e.ord, e.type, e.data::jsonb, e.occurred_at, e.merchant_id,
               e.correlation_id, e.causation_id, e.schema_version, e.traceparent
        FROM cur, unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $11::text[])
             WITH ORDINALITY AS e(event_id, type, data, occurred_at, merchant_id, correlation_id, causation_id, schema_version, traceparent, ord)
        WHERE $10::int < 0 OR cur.v = $10::int
        RETURNING xid::text AS xid, seq::text AS seq, stream_version, recorded_at`,
      version: `SELECT coalesce(max(stream_version), 0)::int AS v FROM ${t} WHERE stream_id = $1`,
      stream: `SELECT ${columns} FROM ${t} WHERE stream_id = $1 AND stream_version >= $2 ORDER BY ${t}.stream_version`,
      all: `SELECT ${columns} FROM ${t}
        WHERE (xid, seq) > ($1::text::xid8, $2::bigint) AND xid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY ${t}.xid, ${t}.seq LIMIT $3`, // qualified: bare names would sort by the text aliases
    };
  }

  readonly schema: string;

  /** Connects, runs the migrations and returns a ready store. */
  static async open(connectionString: string, options: PostgresEventStoreOptions = {}): Promise<PostgresEventStore> {
    const store = new PostgresEventStore(connectionString, options);
    try {
      await store.withClient((c) => migrate(c, store.schema));
    } catch (e) {
      await store.close();
      throw e;
    }
    return store;
  }

  /**
   * Appends requested in the same event-loop turn share one round trip and one transaction (group
   * commit: one WAL flush for all of them) through `append_batch`; one on its own takes the single
   * statement below. Either way an append is all or nothing and its version check is its own.
   */
  append(streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    try {
      this.assertOpen();
      checkExpected(expected);
      checkNewEvents(streamId, events);
    } catch (e) {
      return Promise.reject(e);
    }
    if (events.length === 0 || expected === 'any') return this.appendNow(streamId, events, expected);
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, events, expected, resolve, reject });
      this.scheduleFlush();
    });
  }

  private readonly queue: Array<{ streamId: string; events: NewEvent[]; expected: number; resolve: (r: AppendResult) => void; reject: (e: unknown) => void }> = [];
  private flushing: Promise<void> | null = null;
  private flushScheduled = false;

  /**
   * One group in flight at a time: appends that arrive meanwhile form the next group (which is
   * then larger: group commit adapts to the load). Two groups of this process never race for the
   * same index keys, and every group takes its streams in one order (sorted), so groups of two
   * processes cannot deadlock either; should the database still report one, the group is retried.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushing = this.flushQueue().finally(() => {
        this.flushing = null;
        if (this.queue.length > 0) this.scheduleFlush();
      });
    });
  }

  private async flushQueue(): Promise<void> {
    const group = this.queue.splice(0).sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
    if (group.length === 0) return;
    if (group.length === 1) {
      const a = group[0];
      return this.appendNow(a.streamId, a.events, a.expected).then(a.resolve, a.reject);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await this.appendBatch(group);
        group.forEach((a, i) => {
          const r = results[i];
          if ('error' in r) a.reject(r.error);
          else a.resolve(r);
        });
        break;
      } catch (e) {
        // The whole statement rolled back: a deadlock or serialization failure is safe to retry.
        const code = (e as { code?: string }).code;
        if ((code === '40P01' || code === '40001') && attempt < 5) continue;
        for (const a of group) a.reject(e);
        return;
      }
    }
    this.committed();
  }

  private async appendNow(streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    const result = await this.withClient((c) => this.appendWith(c, streamId, events, expected, true)).catch(this.unavailable);
    if (events.length > 0) this.committed();
    return result;
  }

  /** Local subscribers see new events now, other processes' after the throttled NOTIFY. */
  private committed(): void {
    this.pages.clear();
    this.wakeups.wakeAll();
    this.notifyLater();
  }

  private async appendBatch(group: ReadonlyArray<{ streamId: string; events: NewEvent[]; expected: number }>): Promise<Array<AppendResult | { error: unknown }>> {
    const flat = group.flatMap((a) => a.events);
    const schemaVersions = flat.map((e) => e.schemaVersion ?? this.upcasters.currentVersion(e.type));
    const first: number[] = [];
    let at = 1;
    for (const a of group) {
      first.push(at);
      at += a.events.length;
    }
    const { rows } = await this.pool.query<{ o_i: number; o_ok: boolean; o_actual: number; o_error: string | null; o_xid: string | null; o_seq: string | null; o_version: number | null; o_recorded: Date | null }>(
      `SELECT * FROM ${this.s}.append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        group.map((a) => a.streamId),
        group.map((a) => a.expected),
        first,
        group.map((a) => a.events.length),
        flat.map((e) => e.eventId),
        flat.map((e) => e.type),
        flat.map((e) => JSON.stringify(e.data ?? null)),
        flat.map((e) => e.occurredAt),
        flat.map((e) => e.merchantId),
        flat.map((e) => e.correlationId),
        flat.map((e) => e.causationId),
        schemaVersions,
        flat.map((e) => e.traceparent ?? null),
      ],
    ).catch(this.unavailable);
    return group.map((a, i) => {
      const mine = rows.filter((r) => r.o_i === i + 1).sort((x, y) => (x.o_version ?? 0) - (y.o_version ?? 0));
      const refused = mine.find((r) => !r.o_ok);
      if (refused) {
        if (refused.o_error === 'version' || refused.o_error === 'events_stream_version')
          return { error: new WrongExpectedVersionError(a.streamId, a.expected, refused.o_actual) };
        return { error: new Error(`append to ${a.streamId} refused: unique constraint ${refused.o_error} (an event id stored already?)`) };
      }
      const base = first[i] - 1;
      const events = mine.map((r, j) => {
        const e = a.events[j];
        return this.upcasters.upcast({
          eventId: e.eventId,
          type: e.type,
          streamId: a.streamId,
          streamVersion: r.o_version!,
          position: formatPosition(r.o_xid!, r.o_seq!),
          occurredAt: e.occurredAt,
          recordedAt: r.o_recorded!.toISOString(),
          merchantId: e.merchantId,
          correlationId: e.correlationId,
          causationId: e.causationId,
          schemaVersion: schemaVersions[base + j],
          ...(e.traceparent ? { traceparent: e.traceparent } : {}),
          data: e.data,
        });
      });
      return { nextVersion: events.at(-1)!.streamVersion, events };
    });
  }

  /**
   * Tells other processes' subscribers that events were committed (this process's subscribers are
   * woken directly). A NOTIFY is not free: PostgreSQL gives the notifying transaction an xid, so
   * its commit is one more WAL flush. Hence at most one NOTIFY per {@link NOTIFY_INTERVAL_MS}
   * (leading and trailing edge), committed with synchronous_commit off — a notification lost in a
   * crash only means the next poll finds the events. Callers of {@link appendOn} commit
   * themselves and should call this after their commit.
   */
  notifyLater(): void {
    if (this.notifyPending || this.closed) return;
    this.notifyPending = true;
    const wait = Math.max(0, this.lastNotifyAt + NOTIFY_INTERVAL_MS - Date.now());
    setTimeout(() => {
      this.notifyPending = false;
      if (this.closed) return;
      this.lastNotifyAt = Date.now();
      // One round trip (simple protocol, several statements); the channel is a checked identifier.
      this.pool
        .query(`BEGIN; SET LOCAL synchronous_commit TO OFF; SELECT pg_notify('${channelOf(this.schema)}', ''); COMMIT`)
        .catch(() => undefined);
    }, wait).unref();
  }

  /**
   * Appends with the caller's client — inside the caller's transaction when one is open (the events
   * then commit or roll back with it). Same contract as {@link append}. The store's contract suite
   * holds an append's transaction open with it (a subscriber must not pass an uncommitted append).
   */
  appendOn(client: ClientBase, streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    return this.appendWith(client, streamId, events, expected, false);
  }

  /** `autocommit`: the client runs no explicit transaction, so a failed statement can be retried. */
  private async appendWith(
    client: ClientBase,
    streamId: string,
    events: NewEvent[],
    expected: ExpectedVersion,
    autocommit: boolean,
  ): Promise<AppendResult> {
    checkExpected(expected);
    checkNewEvents(streamId, events);
    if (events.length === 0) {
      const actual = await this.versionOf(client, streamId);
      if (expected !== 'any' && expected !== actual) throw new WrongExpectedVersionError(streamId, expected, actual);
      return { nextVersion: actual, events: [] };
    }
    const schemaVersions = events.map((e) => e.schemaVersion ?? this.upcasters.currentVersion(e.type));
    const params = [
      streamId,
      events.map((e) => e.eventId),
      events.map((e) => e.type),
      events.map((e) => JSON.stringify(e.data ?? null)),
      events.map((e) => e.occurredAt),
      events.map((e) => e.merchantId),
      events.map((e) => e.correlationId),
      events.map((e) => e.causationId),
      schemaVersions,
      expected === 'any' ? -1 : expected,
      events.map((e) => e.traceparent ?? null),
    ];
    // 'any' can still lose a race for the next version number; it then simply tries again.
    for (let attempt = 0; ; attempt++) {
      let rows: { xid: string; seq: string; stream_version: number; recorded_at: Date }[];
      try {
        rows = (await client.query<(typeof rows)[number]>(this.sql.append, params)).rows;
      } catch (e) {
        if ((e as { code?: string }).code !== UNIQUE_VIOLATION || (e as { constraint?: string }).constraint !== 'events_stream_version') throw e;
        if (expected === 'any' && autocommit && attempt < 10) continue;
        // Inside a failed transaction no further statement runs: report the version as unknown (-1).
        const actual = autocommit ? await this.versionOf(client, streamId) : -1;
        throw new WrongExpectedVersionError(streamId, expected, actual);
      }
      if (rows.length === 0) {
        throw new WrongExpectedVersionError(streamId, expected, await this.versionOf(client, streamId));
      }
      rows.sort((a, b) => a.stream_version - b.stream_version);
      const first = rows[0].stream_version;
      const stored = rows.map((r) => {
        const e = events[r.stream_version - first];
        return this.upcasters.upcast({
          eventId: e.eventId,
          type: e.type,
          streamId,
          streamVersion: r.stream_version,
          position: formatPosition(r.xid, r.seq),
          occurredAt: e.occurredAt,
          recordedAt: r.recorded_at.toISOString(),
          merchantId: e.merchantId,
          correlationId: e.correlationId,
          causationId: e.causationId,
          schemaVersion: schemaVersions[r.stream_version - first],
          data: e.data,
          ...(e.traceparent ? { traceparent: e.traceparent } : {}),
        });
      });
      return { nextVersion: rows[rows.length - 1].stream_version, events: stored };
    }
  }

  async readStream(streamId: string, options: { fromVersion?: number } = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    const { rows } = await this.pool.query<Row>(this.sql.stream, [streamId, options.fromVersion ?? 1]).catch(this.unavailable);
    return rows.map((r) => this.toEvent(r));
  }

  /** Only events whose position is final (see the comment at the top of this file). */
  async readAll(options: { after?: string | null; limit?: number } = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    const [xid, seq] = parsePosition(options.after);
    const { rows } = await this.pool.query<Row>(this.sql.all, [xid, seq, checkLimit(options.limit)]).catch(this.unavailable);
    return rows.map((r) => this.toEvent(r));
  }

  subscribe(options: SubscribeOptions, handler: (event: StoredEvent) => Promise<void>): Subscription {
    this.assertOpen();
    parsePosition(options.after);
    void this.listen();
    const sub = pollingSubscription(options, handler, {
      readAll: (after, limit) => this.pages.get(after, limit, () => this.readAll({ after, limit })),
      wakeups: this.wakeups,
      pollMs: this.options.pollMs,
    });
    this.subscriptions.add(sub);
    void sub.done.finally(() => this.subscriptions.delete(sub)).catch(() => undefined);
    return sub;
  }

  async stats(): Promise<EventStoreStats> {
    this.assertOpen();
    const { rows } = await this.pool.query<{ events: string; streams: string; xid: string | null; seq: string | null }>(
      `SELECT (SELECT count(*) FROM ${this.s}.events) AS events,
              (SELECT count(DISTINCT stream_id) FROM ${this.s}.events) AS streams,
              l.xid::text AS xid, l.seq::text AS seq
       FROM (SELECT 1) one LEFT JOIN LATERAL (
         SELECT xid, seq FROM ${this.s}.events WHERE xid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY xid DESC, seq DESC LIMIT 1) l ON true`,
    );
    const r = rows[0];
    return { events: Number(r.events), streams: Number(r.streams), lastPosition: r.xid && r.seq ? formatPosition(r.xid, r.seq) : null };
  }

  /** The newest final position (same filter as readAll): a backward index scan, not a count. */
  async headPosition(): Promise<string | null> {
    this.assertOpen();
    const { rows } = await this.pool
      .query<{ xid: string; seq: string }>(
        // Qualified, as in readAll: a bare `xid` here is the text alias, and "9996" sorts after "10004".
        `SELECT xid::text AS xid, seq::text AS seq FROM ${this.s}.events WHERE xid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY ${this.s}.events.xid DESC, ${this.s}.events.seq DESC LIMIT 1`,
      )
      .catch(this.unavailable);
    return rows[0] ? formatPosition(rows[0].xid, rows[0].seq) : null;
  }

  isPosition(position: string): boolean {
    return POSITION.test(position);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.pool.query('SELECT 1').catch(this.unavailable);
  }

  async readSnapshot(streamId: string, kind: string): Promise<Snapshot | null> {
    this.assertOpen();
    const { rows } = await this.pool
      .query<{ version: number; state: unknown }>(`SELECT version, state FROM ${this.s}.snapshots WHERE stream_id = $1 AND kind = $2`, [streamId, kind])
      .catch(this.unavailable);
    return rows[0] ? { version: rows[0].version, state: rows[0].state } : null;
  }

  async writeSnapshot(streamId: string, kind: string, snapshot: Snapshot): Promise<void> {
    this.assertOpen();
    // Never replaces a newer snapshot (two processes may write the same stream's).
    await this.pool.query(
      `INSERT INTO ${this.s}.snapshots (stream_id, kind, version, state) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (stream_id, kind) DO UPDATE SET version = excluded.version, state = excluded.state
       WHERE excluded.version > ${this.s}.snapshots.version`,
      [streamId, kind, snapshot.version, JSON.stringify(snapshot.state)],
    ).catch(this.unavailable);
  }

  /** Stops every subscription, then the listener and the pool. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.listenRetry) clearTimeout(this.listenRetry);
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  /** Borrows a pooled client (for migrations, or for a transaction around {@link appendOn}). */
  async withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }

  /**
   * One LISTEN connection per store, opened with the first subscription. When it fails (the
   * database restarted, the network dropped) the subscriptions keep polling (`pollMs`) and the
   * connection is opened again with backoff, 250 ms doubling to 5 s, for as long as any
   * subscription runs. Never fatal: every error is reported and handled.
   */
  private async listen(): Promise<void> {
    if (this.listener || this.closed || this.listenRetry) return;
    const client = new Client({ connectionString: this.connectionString, connectionTimeoutMillis: 5_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    this.listener = client;
    let dropped = false;
    const drop = (e?: Error) => {
      if (dropped) return;
      dropped = true;
      if (e) this.options.onConnectionError?.(e, 'listen');
      if (this.listener === client) this.listener = null;
      void client.end().catch(() => undefined);
      this.scheduleListen();
    };
    client.on('error', drop);
    client.on('end', () => drop());
    client.on('notification', () => this.wakeups.wakeAll());
    try {
      await client.connect();
      await client.query(`LISTEN "${channelOf(this.schema)}"`);
      this.listenBackoffMs = 250;
      // Events committed while no one listened are found by the next poll; wake them now.
      this.wakeups.wakeAll();
      if (this.closed) drop();
    } catch (e) {
      drop(e as Error);
    }
  }

  private listenRetry: NodeJS.Timeout | null = null;
  private listenBackoffMs = 250;

  private scheduleListen(): void {
    if (this.closed || this.listenRetry || this.subscriptions.size === 0) return;
    const wait = this.listenBackoffMs;
    this.listenBackoffMs = Math.min(5_000, this.listenBackoffMs * 2);
    this.listenRetry = setTimeout(() => {
      this.listenRetry = null;
      void this.listen();
    }, wait);
    this.listenRetry.unref();
  }

  private async versionOf(client: ClientBase, streamId: string): Promise<number> {
    return (await client.query<{ v: number }>(this.sql.version, [streamId])).rows[0].v;
  }

  /** A lost or refused connection becomes DependencyUnavailableError('eventStore'); anything else is rethrown as it is. */
  private readonly unavailable = (e: unknown): never => {
    throw asUnavailable('eventStore', e);
  };

  private assertOpen(): void {
    if (this.closed) throw new Error('PostgreSQL event store is closed');
  }

  private toEvent(r: Row): StoredEvent {
    return this.upcasters.upcast({
      eventId: r.event_id,
      type: r.type,
      streamId: r.stream_id,
      streamVersion: r.stream_version,
      position: formatPosition(r.xid, r.seq),
      occurredAt: r.occurred_at,
      recordedAt: r.recorded_at.toISOString(),
      merchantId: r.merchant_id,
      correlationId: r.correlation_id,
      causationId: r.causation_id,
      schemaVersion: r.schema_version,
      data: r.data,
      ...(r.traceparent ? { traceparent: r.traceparent } : {}),
    });
  }
}
