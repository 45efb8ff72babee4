import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openDb, num, numOrNull, strOrNull, types, type Db, type DbConfig, type Sql } from '../adapters/sql/db';
import { withRetry } from '../adapters/sql/retry';

/**
 * The webhook outbox: one row per (endpoint, event), written by the bus consumer and worked off by
 * the senders of every instance. It lives in the read database (its own SQLite file in the embedded
 * mode, so it never waits on the projections' write lock; the read models' PostgreSQL schema
 * otherwise), in plain SQL on MikroORM's connection like the projections.
 *
 * Ordering: a lane is (endpoint, call stream); `seq` orders it. Only the head of a lane — no earlier
 * row of the lane that is not DELIVERED — can be claimed, so a call's events reach an endpoint in
 * order, and a FAILED head holds its lane until it is replayed.
 * Exclusivity: a claim is a lease (owner, until) taken by one conditional UPDATE; PostgreSQL adds
 * FOR UPDATE SKIP LOCKED so concurrent claimers pass each other. A crashed owner's lease expires.
 *
 * Writes are short transactions on the read database's writing connection (SQLite: BEGIN
 * IMMEDIATE, waiting for another process's lock asynchronously, never inside SQLite, so no event
 * loop blocks while it holds a lock elsewhere); reads go to its query connection.
 */
export type DeliveryStatus = 'PENDING' | 'DELIVERED' | 'FAILED';

export interface NewDelivery {
  /** The `webhook-id`: stable across retries, re-enqueues and replays. */
  id: string;
  endpointId: string;
  merchantId: string;
  streamId: string;
  seq: number;
  eventId: string;
  eventType: string;
  position: string;
  /** The exact JSON body that is signed and sent. */
  body: string;
  /** The event's recordedAt: delivery latency is measured from it. */
  recordedAt: string;
}

export interface Delivery extends NewDelivery {
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string;
  firstFailedAt: string | null;
  lastAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  enqueuedAt: string;
}

export interface Backlog {
  pending: number;
  failed: number;
  /** recordedAt of the oldest PENDING delivery, or null when none is pending. */
  oldestPendingRecordedAt: string | null;
}

const COLUMNS = `id, endpoint_id, merchant_id, stream_id, seq, event_id, event_type, position, body, recorded_at, status, attempts,
  next_attempt_at, first_failed_at, last_attempt_at, last_status, last_error, delivered_at, enqueued_at`;

const rowToDelivery = (r: Record<string, unknown>): Delivery => ({
  id: String(r.id),
  endpointId: String(r.endpoint_id),
  merchantId: String(r.merchant_id),
  streamId: String(r.stream_id),
  seq: num(r.seq),
  eventId: String(r.event_id),
  eventType: String(r.event_type),
  position: String(r.position),
  body: String(r.body),
  recordedAt: String(r.recorded_at),
  status: String(r.status) as DeliveryStatus,
  attempts: num(r.attempts),
  nextAttemptAt: String(r.next_attempt_at),
  firstFailedAt: strOrNull(r.first_failed_at),
  lastAttemptAt: strOrNull(r.last_attempt_at),
  lastStatus: numOrNull(r.last_status),
  lastError: strOrNull(r.last_error),
  deliveredAt: strOrNull(r.delivered_at),
  enqueuedAt: String(r.enqueued_at),
});

export class WebhookDeliveries {
  /** When this instance last cleared an endpoint's failure streak (see succeeded). */
  private readonly streakClearedAt = new Map<string, number>();

  private constructor(private readonly db: Db) {}

  /** Opens (and migrates) the outbox next to the read models. */
  static async open(config: DbConfig): Promise<WebhookDeliveries> {
    if (config.kind === 'sqlite') mkdirSync(join(config.dataDir, 'webhooks'), { recursive: true });
    const db = await openDb(config.kind === 'sqlite' ? { ...config, dataDir: join(config.dataDir, 'webhooks') } : config);
    try {
      await migrate(db);
    } catch (e) {
      await db.close();
      throw e;
    }
    return new WebhookDeliveries(db);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** Statements that write, in one transaction (retried when the database is busy or deadlocked). */
  private write<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
    return withRetry(() => this.db.transaction(work));
  }

  private all<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    return this.write((tx) => tx.all<R>(sql, params));
  }

  private read<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    return withRetry(() => this.db.sql.all<R>(sql, params));
  }

  private t(name: string): string {
    return this.db.sql.table(name);
  }

  /**
   * Inserts the rows that are not there yet (a redelivered event changes nothing) and raises the
   * consumer's checkpoint, in one transaction. Returns how many rows were new.
   */
  async enqueue(rows: readonly NewDelivery[], checkpoint: { name: string; position: string } | null, now: string): Promise<number> {
    if (rows.length === 0 && !checkpoint) return 0;
    return this.write(async (tx) => {
      let inserted = 0;
      for (let i = 0; i < rows.length; i += 50) {
        const chunk = rows.slice(i, i + 50);
        const got = await tx.all(
          `insert into ${tx.table('webhook_delivery')} (id, endpoint_id, merchant_id, stream_id, seq, event_id, event_type, position, body, recorded_at,
             status, attempts, next_attempt_at, enqueued_at)
           values ${chunk.map(() => `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', 0, ?, ?)`).join(', ')}
           on conflict (id) do nothing returning id`,
          chunk.flatMap((r) => [r.id, r.endpointId, r.merchantId, r.streamId, r.seq, r.eventId, r.eventType, r.position, r.body, r.recordedAt, now, now]),
        );
        inserted += got.length;
      }
      if (checkpoint)
        await tx.run(
          `insert into ${tx.table('webhook_checkpoint')} as c (name, position) values (?, ?)
           on conflict (name) do update set position = excluded.position where c.position < excluded.position`,
          [checkpoint.name, checkpoint.position],
        );
      return inserted;
    });
  }

  /** The lowest checkpoint of the names starting with `prefix` (one per bus source), or null. */
  async checkpoint(prefix: string): Promise<string | null> {
    const rows = await this.read<{ position: unknown }>(`select min(position) as position from ${this.t('webhook_checkpoint')} where substr(name, 1, ?) = ?`, [prefix.length, prefix]);
    return strOrNull(rows[0]?.position);
  }

  /**
   * Leases up to `limit` deliveries that are due, at the head of their lane, not leased by anyone
   * (or whose lease expired) and whose endpoint is not held.
   */
  async claim(owner: string, now: string, leaseUntil: string, held: readonly string[], limit: number): Promise<Delivery[]> {
    const d = this.t('webhook_delivery');
    const pg = this.db.dialect === 'postgres';
    const heldSql = held.length ? `and d.endpoint_id not in (${held.map(() => '?').join(', ')})` : '';
    const rows = await this.all(
        `update ${d} set lease_owner = ?, lease_until = ?
         where id in (
           select d.id from ${d} d
           where d.status = 'PENDING' and d.next_attempt_at <= ? and (d.lease_until is null or d.lease_until < ?) ${heldSql}
             and not exists (select 1 from ${d} p where p.endpoint_id = d.endpoint_id and p.stream_id = d.stream_id and p.seq < d.seq and p.status <> 'DELIVERED')
           order by d.next_attempt_at, d.position, d.seq
           limit ? ${pg ? 'for update skip locked' : ''})
         and status = 'PENDING' and (lease_until is null or lease_until < ?)
         returning ${COLUMNS}`,
        [owner, leaseUntil, now, now, ...held, limit, now],
    );
    return rows.map(rowToDelivery).sort((a, b) => (a.nextAttemptAt < b.nextAttemptAt ? -1 : a.nextAttemptAt > b.nextAttemptAt ? 1 : 0));
  }

  /** The earliest next_attempt_at of a pending delivery of an endpoint that is not held (the sender sleeps until then). */
  async nextDue(held: readonly string[]): Promise<string | null> {
    const heldSql = held.length ? `and endpoint_id not in (${held.map(() => '?').join(', ')})` : '';
    const rows = await this.read<{ at: unknown }>(`select min(next_attempt_at) as at from ${this.t('webhook_delivery')} where status = 'PENDING' ${heldSql}`, [...held]);
    return strOrNull(rows[0]?.at);
  }

  /**
   * A 2xx: delivered (whoever holds the lease now: it was received). Also ends the endpoint's
   * failure streak, written at most once a second per endpoint and instance (a busy endpoint would
   * otherwise cost a second write per delivery); a streak can thus outlive a success by a second.
   */
  async succeeded(delivery: Delivery, now: string, status: number): Promise<void> {
    const at = Date.parse(now);
    const clearStreak = at - (this.streakClearedAt.get(delivery.endpointId) ?? -Infinity) >= 1000;
    if (clearStreak) this.streakClearedAt.set(delivery.endpointId, at);
    await this.write(async (tx) => {
      await tx.run(
        `update ${tx.table('webhook_delivery')} set status = 'DELIVERED', attempts = attempts + 1, last_attempt_at = ?, last_status = ?, last_error = null,
           delivered_at = ?, lease_owner = null, lease_until = null where id = ? and status = 'PENDING'`,
        [now, status, now, delivery.id],
      );
      if (clearStreak)
        await tx.run(
          `insert into ${tx.table('webhook_endpoint_health')} as h (endpoint_id, failing_since, last_success_at) values (?, null, ?)
           on conflict (endpoint_id) do update set failing_since = null, last_success_at = excluded.last_success_at`,
          [delivery.endpointId, now],
        );
    });
  }

  /**
   * A failed attempt by the lease owner: retried at `nextAttemptAt`, or FAILED when it has been
   * failing since `giveUpBefore` or earlier. Returns the endpoint's failure streak start.
   */
  async failed(
    delivery: Delivery,
    owner: string,
    now: string,
    outcome: { status: number | null; error: string },
    nextAttemptAt: string,
    giveUpBefore: string,
  ): Promise<{ status: DeliveryStatus; endpointFailingSince: string }> {
    this.streakClearedAt.delete(delivery.endpointId);
    const firstFailed = delivery.firstFailedAt ?? now;
    const status: DeliveryStatus = firstFailed <= giveUpBefore ? 'FAILED' : 'PENDING';
    return this.write(async (tx) => {
      await tx.run(
        `update ${tx.table('webhook_delivery')} set status = ?, attempts = attempts + 1, first_failed_at = ?, last_attempt_at = ?, last_status = ?, last_error = ?,
           next_attempt_at = ?, lease_owner = null, lease_until = null where id = ? and status = 'PENDING' and lease_owner = ?`,
        [status, firstFailed, now, outcome.status, outcome.error.slice(0, 500), nextAttemptAt, delivery.id, owner],
      );
      const rows = await tx.all<{ failing_since: unknown }>(
        `insert into ${tx.table('webhook_endpoint_health')} as h (endpoint_id, failing_since, last_failure_at, last_error) values (?, ?, ?, ?)
         on conflict (endpoint_id) do update set failing_since = coalesce(h.failing_since, excluded.failing_since),
           last_failure_at = excluded.last_failure_at, last_error = excluded.last_error
         returning failing_since`,
        [delivery.endpointId, now, now, outcome.error.slice(0, 500)],
      );
      return { status, endpointFailingSince: String(rows[0].failing_since) };
    });
  }

  /** The endpoint was marked failing: its deliveries that were already tried become FAILED (listed, replayable). */
  async failEndpoint(endpointId: string): Promise<number> {
    const rows = await this.all(
      `update ${this.t('webhook_delivery')} set status = 'FAILED', lease_owner = null, lease_until = null
       where endpoint_id = ? and status = 'PENDING' and attempts > 0 returning id`,
      [endpointId],
    );
    return rows.length;
  }

  /** A fresh start for the endpoint's failure streak (enabled again by the merchant). */
  async resetHealth(endpointId: string): Promise<void> {
    await this.all(`update ${this.t('webhook_endpoint_health')} set failing_since = null where endpoint_id = ?`, [endpointId]);
  }

  async get(id: string): Promise<Delivery | null> {
    const rows = await this.read(`select ${COLUMNS} from ${this.t('webhook_delivery')} where id = ?`, [id]);
    return rows.length ? rowToDelivery(rows[0]) : null;
  }

  /** An endpoint's deliveries in event order, after the cursor (`<position>|<seq>` of the last one seen). */
  async list(endpointId: string, status: DeliveryStatus | null, first: number, after: string | null): Promise<Delivery[]> {
    const params: unknown[] = [endpointId];
    let where = 'endpoint_id = ?';
    if (status) {
      where += ' and status = ?';
      params.push(status);
    }
    if (after) {
      const [position, seq] = after.split('|');
      where += ' and (position > ? or (position = ? and seq > ?))';
      params.push(position, position, Number(seq));
    }
    const rows = await this.read(`select ${COLUMNS} from ${this.t('webhook_delivery')} where ${where} order by position, seq limit ?`, [...params, first]);
    return rows.map(rowToDelivery);
  }

  /** Sends a delivery again (any status), with the same webhook-id, as soon as its lane allows. */
  async replay(id: string, now: string): Promise<void> {
    await this.all(
      `update ${this.t('webhook_delivery')} set status = 'PENDING', next_attempt_at = ?, first_failed_at = null, lease_owner = null, lease_until = null where id = ?`,
      [now, id],
    );
  }

  /** Re-queues every FAILED delivery of an endpoint, in their original order. Returns how many. */
  async replayFailed(endpointId: string, now: string): Promise<number> {
    const rows = await this.all(
      `update ${this.t('webhook_delivery')} set status = 'PENDING', next_attempt_at = ?, first_failed_at = null, lease_owner = null, lease_until = null
       where endpoint_id = ? and status = 'FAILED' returning id`,
      [now, endpointId],
    );
    return rows.length;
  }

  async backlog(): Promise<Backlog> {
    const rows = await this.read<{ status: unknown; n: unknown; oldest: unknown }>(
      `select status, count(*) as n, min(recorded_at) as oldest from ${this.t('webhook_delivery')} where status <> 'DELIVERED' group by status`,
    );
    const by = (s: string) => rows.find((r) => r.status === s);
    return { pending: num(by('PENDING')?.n), failed: num(by('FAILED')?.n), oldestPendingRecordedAt: strOrNull(by('PENDING')?.oldest) };
  }

  /** Forgets deliveries delivered before `before` (they can no longer be listed or replayed). */
  async prune(before: string): Promise<number> {
    const rows = await this.all(`delete from ${this.t('webhook_delivery')} where status = 'DELIVERED' and delivered_at < ? returning id`, [before]);
    return rows.length;
  }
}

/**
 * Creates the outbox tables when absent: `if not exists` statements (SQLite: one by one);
 * PostgreSQL in a transaction under an advisory lock, so instances starting together do not race on the catalog.
 */
const migrate = async (db: Db): Promise<void> => {
  const t = types(db.dialect);
  const table = (name: string) => db.sql.table(name);
  const steps = [
    `create table if not exists ${table('webhook_delivery')} (
      id ${t.key} not null primary key,
      endpoint_id ${t.key} not null,
      merchant_id ${t.key} not null,
      stream_id ${t.key} not null,
      seq ${t.big} not null,
      event_id ${t.text} not null,
      event_type ${t.text} not null,
      position ${t.key} not null,
      body ${t.text} not null,
      recorded_at ${t.key} not null,
      status ${t.key} not null,
      attempts ${t.int} not null,
      next_attempt_at ${t.key} not null,
      first_failed_at ${t.key},
      last_attempt_at ${t.key},
      last_status ${t.int},
      last_error ${t.text},
      delivered_at ${t.key},
      enqueued_at ${t.key} not null,
      lease_owner ${t.text},
      lease_until ${t.key})`,
    `create index if not exists webhook_delivery_lane on ${table('webhook_delivery')} (endpoint_id, stream_id, seq)`,
    `create index if not exists webhook_delivery_due on ${table('webhook_delivery')} (status, next_attempt_at)`,
    `create index if not exists webhook_delivery_list on ${table('webhook_delivery')} (endpoint_id, position, seq)`,
    `create table if not exists ${table('webhook_endpoint_health')} (
      endpoint_id ${t.key} not null primary key, failing_since ${t.key}, last_success_at ${t.key}, last_failure_at ${t.key}, last_error ${t.text})`,
    `create table if not exists ${table('webhook_checkpoint')} (name ${t.key} not null primary key, position ${t.key} not null)`,
  ];
  if (db.dialect === 'sqlite') {
    for (const step of steps) await withRetry(() => db.transaction((tx) => tx.run(step)));
    return;
  }
  await db.transaction(async (tx) => {
    await tx.run(`select pg_advisory_xact_lock(hashtext(?))`, [`webdial-webhooks-migrate:${db.schema}`]);
    for (const step of steps) await tx.run(step);
  });
};
