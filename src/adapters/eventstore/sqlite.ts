import Database from 'libsql';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
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
import { checkExpected, checkLimit, checkNewEvents, pad, pollingSubscription, ReadAllCache, Wakeups } from './common';
import { productionUpcasters, type UpcasterRegistry } from './upcasting';

export interface SqliteEventStoreOptions {
  /** Upcasters applied on every read; default: the production registry. */
  upcasters?: UpcasterRegistry;
  /** Poll interval of live subscriptions, which is how writes of other processes are seen. */
  pollMs?: number;
  /** ISO clock for recordedAt; injectable for tests. */
  now?: () => string;
}

/** Width of an emitted position: the rowid zero-padded so that string order = numeric order. */
const POSITION_WIDTH = 20;

interface Row {
  position: number;
  event_id: string;
  stream_id: string;
  stream_version: number;
  type: string;
  data: string;
  occurred_at: string;
  recorded_at: string;
  merchant_id: string | null;
  correlation_id: string;
  causation_id: string | null;
  schema_version: number;
  traceparent: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position        INTEGER PRIMARY KEY,
  event_id        TEXT    NOT NULL,
  stream_id       TEXT    NOT NULL,
  stream_version  INTEGER NOT NULL,
  type            TEXT    NOT NULL,
  data            TEXT    NOT NULL,
  occurred_at     TEXT    NOT NULL,
  recorded_at     TEXT    NOT NULL,
  merchant_id     TEXT,
  correlation_id  TEXT    NOT NULL,
  causation_id    TEXT,
  schema_version  INTEGER NOT NULL,
  UNIQUE (stream_id, stream_version)
);
CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events (event_id);
CREATE TABLE IF NOT EXISTS snapshots (
  stream_id  TEXT    NOT NULL,
  kind       TEXT    NOT NULL,
  version    INTEGER NOT NULL,
  state      TEXT    NOT NULL,
  PRIMARY KEY (stream_id, kind)
);
`;

/**
 * Files created before the trace context was part of the envelope get its column; a second process
 * opening the same file at the same moment may have added it already.
 */
const addTraceparentColumn = (db: Database.Database): void => {
  const columns = db.prepare('PRAGMA table_info(events)').all() as Array<{ name: string }>;
  if (columns.some((c) => c.name === 'traceparent')) return;
  try {
    db.exec('ALTER TABLE events ADD COLUMN traceparent TEXT');
  } catch (e) {
    if (!/duplicate column/i.test((e as Error).message)) throw e;
  }
};

/** Parses a position this adapter emitted; anything else is a caller bug. */
const parsePosition = (position: string | null | undefined): number => {
  if (position === null || position === undefined) return 0;
  if (!/^\d{1,20}$/.test(position)) throw new RangeError(`not a SQLite event store position: ${position}`);
  return Number(position);
};

/**
 * The embedded event store: one SQLite file (libsql, synchronous API) in WAL mode.
 *
 * Global order is the INTEGER PRIMARY KEY (rowid). SQLite has a single writer and every append is
 * one `BEGIN IMMEDIATE` transaction, so rowids become visible in commit order: a reader that has
 * seen position N can never later find a row below N. That is why no gap handling is needed here,
 * in contrast with PostgreSQL. Several processes may share the file: the write lock serialises them
 * (busy_timeout waits for it), and their subscriptions see each other's writes by polling.
 */
export class SqliteEventStore implements EventStore {
  readonly name = 'sqlite';
  private readonly db: Database.Database;
  private readonly upcasters: UpcasterRegistry;
  private readonly wakeups = new Wakeups();
  private readonly pages = new ReadAllCache();
  private readonly subscriptions = new Set<Subscription>();
  private readonly now: () => string;
  private readonly pollMs: number | undefined;
  private closed = false;
  private readonly stmt: {
    version: Database.Statement;
    insert: Database.Statement;
    stream: Database.Statement;
    all: Database.Statement;
    stats: Database.Statement;
    head: Database.Statement;
    snapshot: Database.Statement;
    saveSnapshot: Database.Statement;
    savepoint: Database.Statement;
    release: Database.Statement;
    rollbackTo: Database.Statement;
  };
  private readonly queue: Array<
    | {
        snapshot?: undefined;
        streamId: string;
        events: readonly NewEvent[];
        expected: ExpectedVersion;
        resolve: (r: AppendResult) => void;
        reject: (e: unknown) => void;
      }
    | { snapshot: { streamId: string; kind: string; version: number; state: string }; resolve: () => void; reject: (e: unknown) => void }
  > = [];
  private flushScheduled = false;

  /** Opens (and creates if needed) the file and its schema. */
  constructor(readonly file: string, options: SqliteEventStoreOptions = {}) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.upcasters = options.upcasters ?? productionUpcasters;
    this.now = options.now ?? (() => new Date().toISOString());
    this.pollMs = options.pollMs;
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode can lose the last commits on power loss (never corrupts). An acknowledged
    // append must survive a crash (ARCHITECTURE §8), so FULL.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(SCHEMA);
    addTraceparentColumn(this.db);
    this.stmt = {
      version: this.db.prepare('SELECT max(stream_version) AS v FROM events WHERE stream_id = ?'),
      insert: this.db.prepare(
        `INSERT INTO events (event_id, stream_id, stream_version, type, data, occurred_at, recorded_at,
           merchant_id, correlation_id, causation_id, schema_version, traceparent)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      stream: this.db.prepare('SELECT * FROM events WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version'),
      all: this.db.prepare('SELECT * FROM events WHERE position > ? ORDER BY position LIMIT ?'),
      stats: this.db.prepare('SELECT count(*) AS events, count(DISTINCT stream_id) AS streams, max(position) AS last FROM events'),
      head: this.db.prepare('SELECT max(position) AS last FROM events'),
      savepoint: this.db.prepare('SAVEPOINT append'),
      release: this.db.prepare('RELEASE append'),
      rollbackTo: this.db.prepare('ROLLBACK TO append'),
      snapshot: this.db.prepare('SELECT version, state FROM snapshots WHERE stream_id = ? AND kind = ?'),
      // Never replaces a newer snapshot (two processes may write the same stream's).
      saveSnapshot: this.db.prepare(
        `INSERT INTO snapshots (stream_id, kind, version, state) VALUES (?, ?, ?, ?)
         ON CONFLICT (stream_id, kind) DO UPDATE SET version = excluded.version, state = excluded.state
         WHERE excluded.version > snapshots.version`,
      ),
    };
  }

  /**
   * Appends are queued and committed in groups: every append requested in the same event-loop turn
   * shares one transaction, hence one fsync (group commit), which is what lets concurrent writers
   * go faster than one. Each append runs in its own SAVEPOINT, so a conflicting append is rolled
   * back alone and the others commit; no promise resolves before the COMMIT succeeded.
   */
  append(streamId: string, events: NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    try {
      this.assertOpen();
      checkExpected(expected);
      checkNewEvents(streamId, events);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, events, expected, resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const group = this.queue.splice(0);
    if (group.length === 0) return;
    const outcomes: ({ ok: AppendResult | null } | { error: unknown })[] = [];
    try {
      // IMMEDIATE takes the write lock before any version is read, so checks and inserts cannot
      // interleave with another process's append (busy_timeout waits for the lock).
      this.db.exec('BEGIN IMMEDIATE');
      try {
        for (const r of group) {
          if (r.snapshot) {
            const x = r.snapshot;
            this.stmt.saveSnapshot.run(x.streamId, x.kind, x.version, x.state);
            outcomes.push({ ok: null });
            continue;
          }
          // One event is one INSERT, which SQLite undoes by itself when it fails (the transaction
          // goes on); several need a savepoint, so that a failure part-way leaves none of them.
          const atomic = r.events.length > 1;
          if (atomic) this.stmt.savepoint.run();
          try {
            outcomes.push({ ok: this.appendLocked(r.streamId, r.events, r.expected) });
            if (atomic) this.stmt.release.run();
          } catch (error) {
            if (atomic) {
              this.stmt.rollbackTo.run();
              this.stmt.release.run();
            }
            outcomes.push({ error });
          }
        }
        this.db.exec('COMMIT');
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
    } catch (e) {
      group.forEach((r) => r.reject(e));
      return;
    }
    let wrote = false;
    group.forEach((r, i) => {
      const o = outcomes[i];
      if (!('ok' in o)) r.reject(o.error);
      else if (r.snapshot) r.resolve();
      else {
        wrote ||= o.ok!.events.length > 0;
        r.resolve(o.ok!);
      }
    });
    if (wrote) {
      this.pages.clear();
      this.wakeups.wakeAll();
    }
  }

  private appendLocked(streamId: string, events: readonly NewEvent[], expected: ExpectedVersion): AppendResult {
    const actual = ((this.stmt.version.get(streamId) as { v: number | null }).v ?? 0);
    if (expected !== 'any' && expected !== actual) throw new WrongExpectedVersionError(streamId, expected, actual);
    const recordedAt = this.now();
    const stored: StoredEvent[] = [];
    let version = actual;
    for (const e of events) {
      version += 1;
      const schemaVersion = e.schemaVersion ?? this.upcasters.currentVersion(e.type);
      const info = this.stmt.insert.run(
        e.eventId, streamId, version, e.type, JSON.stringify(e.data ?? null), e.occurredAt, recordedAt,
        e.merchantId, e.correlationId, e.causationId, schemaVersion, e.traceparent ?? null,
      );
      stored.push(this.upcasters.upcast({
        eventId: e.eventId,
        type: e.type,
        streamId,
        streamVersion: version,
        position: pad(info.lastInsertRowid, POSITION_WIDTH),
        occurredAt: e.occurredAt,
        recordedAt,
        merchantId: e.merchantId,
        correlationId: e.correlationId,
        causationId: e.causationId,
        schemaVersion,
        data: e.data,
        ...(e.traceparent ? { traceparent: e.traceparent } : {}),
      }));
    }
    return { nextVersion: version, events: stored };
  }

  async readStream(streamId: string, options: { fromVersion?: number } = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    const rows = this.stmt.stream.all(streamId, options.fromVersion ?? 1) as Row[];
    return rows.map((r) => this.toEvent(r));
  }

  async readAll(options: { after?: string | null; limit?: number } = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    const rows = this.stmt.all.all(parsePosition(options.after), checkLimit(options.limit)) as Row[];
    return rows.map((r) => this.toEvent(r));
  }

  subscribe(options: SubscribeOptions, handler: (event: StoredEvent) => Promise<void>): Subscription {
    this.assertOpen();
    parsePosition(options.after);
    const sub = pollingSubscription(options, handler, {
      readAll: (after, limit) => this.pages.get(after, limit, () => this.readAll({ after, limit })),
      wakeups: this.wakeups,
      pollMs: this.pollMs,
    });
    this.subscriptions.add(sub);
    void sub.done.finally(() => this.subscriptions.delete(sub)).catch(() => undefined);
    return sub;
  }

  async stats(): Promise<EventStoreStats> {
    this.assertOpen();
    const s = this.stmt.stats.get() as { events: number; streams: number; last: number | null };
    return { events: s.events, streams: s.streams, lastPosition: s.last === null ? null : pad(s.last, POSITION_WIDTH) };
  }

  async headPosition(): Promise<string | null> {
    this.assertOpen();
    const last = (this.stmt.head.get() as { last: number | null }).last;
    return last === null ? null : pad(last, POSITION_WIDTH);
  }

  isPosition(position: string): boolean {
    return /^\d{20}$/.test(position);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    this.stmt.head.get();
  }

  async readSnapshot(streamId: string, kind: string): Promise<Snapshot | null> {
    this.assertOpen();
    const row = this.stmt.snapshot.get(streamId, kind) as { version: number; state: string } | undefined;
    return row ? { version: row.version, state: JSON.parse(row.state) as unknown } : null;
  }

  /** Queued with the appends: written in the next group commit, at no extra fsync. */
  writeSnapshot(streamId: string, kind: string, snapshot: Snapshot): Promise<void> {
    try {
      this.assertOpen();
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ snapshot: { streamId, kind, version: snapshot.version, state: JSON.stringify(snapshot.state) }, resolve: () => resolve(), reject });
      this.scheduleFlush();
    });
  }

  /** Stops every subscription, then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    this.flush(); // appends accepted before close still commit
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('SQLite event store is closed');
  }

  private toEvent(r: Row): StoredEvent {
    return this.upcasters.upcast({
      eventId: r.event_id,
      type: r.type,
      streamId: r.stream_id,
      streamVersion: r.stream_version,
      position: pad(r.position, POSITION_WIDTH),
      occurredAt: r.occurred_at,
      recordedAt: r.recorded_at,
      merchantId: r.merchant_id,
      correlationId: r.correlation_id,
      causationId: r.causation_id,
      schemaVersion: r.schema_version,
      data: JSON.parse(r.data) as unknown,
      ...(r.traceparent ? { traceparent: r.traceparent } : {}),
    });
  }
}
