import { Client, type QueryResult, type QueryResultRow } from 'pg';
import { LeaseLostError, type Lease, type Leases } from '../../ports/lease';

export interface PostgresLeasesOptions {
  /** Schema of the `leases` table (created when absent). Default 'webdial_cluster'. */
  schema?: string;
  /** This instance's name in the table. */
  holder: string;
  /**
   * How long an owner that stops talking keeps its leases (ms, default 10 000): PostgreSQL ends a
   * session idle that long (`idle_session_timeout`), and its advisory locks with it. A process that
   * dies (kill -9) loses them at once: the kernel closes its connection.
   */
  ttlMs?: number;
  /** The checkpoint a job starts from when the table has none yet (the file of a single instance upgraded to a cluster). */
  initialCheckpoint?: (job: string) => Promise<string | null>;
  /** Told when the lease session fails (every lease of this instance is lost with it). */
  onSessionError?: (e: Error) => void;
}

const identifier = (name: string) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new RangeError(`invalid schema name ${name}`);
  return `"${name}"`;
};

const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

interface Session {
  client: Client;
  /** A query on the session, after the ones before it (pg deprecates overlapping queries on one client). */
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
  /** Resolves when the session ends (closed, killed by the server, the network gone). */
  ended: Promise<void>;
  alive: boolean;
  heartbeat: NodeJS.Timeout;
}

/**
 * Leases on PostgreSQL, in the manner of Marten's async daemon: a job's owner holds the session-level
 * advisory lock `webdial-lease:<schema>:<job>` on a connection of its own, and the `leases` row
 * records the grant's epoch and the job's checkpoint. A grant bumps the epoch under the lock; a
 * checkpoint is written only `WHERE epoch = <the grant's>`, so an owner that lost its session can
 * never move it again. Two owners of one job at once are impossible by construction: the lock admits
 * one session, and the epoch fences whatever the previous session's owner still has in flight.
 *
 * The session says `idle_session_timeout = ttl` and sends a heartbeat four times per ttl: an owner
 * paused (SIGSTOP, a frozen VM) past its ttl has its session ended by the server, and another
 * instance takes the job on its next try (every second). A killed owner's connection closes at once.
 */
export class PostgresLeases implements Leases {
  readonly kind = 'postgres';
  readonly holder: string;
  private readonly s: string;
  private readonly ttlMs: number;
  private session: Session | null = null;
  private opening: Promise<Session> | null = null;
  private readonly granted = new Map<string, PgLease>();
  private ready: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly connectionString: string,
    private readonly options: PostgresLeasesOptions,
  ) {
    this.holder = options.holder;
    this.s = identifier(options.schema ?? 'webdial_cluster');
    this.ttlMs = options.ttlMs ?? 10_000;
  }

  async tryAcquire(job: string): Promise<PgLease | null> {
    if (this.closed) return null;
    const held = this.granted.get(job);
    if (held?.held) return held;
    const session = await this.open();
    const key = this.lockKey(job);
    const { rows } = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [key]);
    if (!rows[0]?.ok) return null;
    try {
      const initial = (await this.options.initialCheckpoint?.(job)) ?? null;
      // The epoch moves under the lock: from here on, only this grant can write the checkpoint.
      const { rows: r } = await session.query<{ epoch: string; checkpoint: string | null }>(
        `INSERT INTO ${this.s}.leases AS l (job, epoch, holder, checkpoint, granted_at) VALUES ($1, 1, $2, $3, now())
         ON CONFLICT (job) DO UPDATE SET epoch = l.epoch + 1, holder = excluded.holder, granted_at = now()
         RETURNING epoch::text AS epoch, checkpoint`,
        [job, this.holder, initial],
      );
      const lease = new PgLease(job, Number(r[0].epoch), r[0].checkpoint, session, this.s, () => this.unlock(session, key, job));
      this.granted.set(job, lease);
      return lease;
    } catch (e) {
      await session.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
      throw e;
    }
  }

  async holders(): Promise<Array<{ job: string; holder: string | null; epoch: number; checkpoint: string | null }>> {
    const session = await this.open();
    // A row's holder is only the last grant: the lock says whether anyone holds it now.
    const { rows } = await session.query<{ job: string; holder: string; epoch: string; checkpoint: string | null; locked: boolean }>(
      `SELECT l.job, l.holder, l.epoch::text AS epoch, l.checkpoint,
              EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                        AND k.objid::bigint = (hashtext('webdial-lease:' || $1 || ':' || l.job)::bigint & 4294967295)) AS locked
         FROM ${this.s}.leases l ORDER BY l.job`,
      [this.s],
    );
    return rows.map((r) => ({ job: r.job, holder: r.locked ? r.holder : null, epoch: Number(r.epoch), checkpoint: r.checkpoint }));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const lease of this.granted.values()) lease.markLost();
    this.granted.clear();
    const session = this.session ?? (await this.opening?.catch(() => null));
    if (session) await this.end(session);
  }

  private lockKey(job: string): string {
    return `webdial-lease:${this.s}:${job}`;
  }

  private async unlock(session: Session, key: string, job: string): Promise<void> {
    if (this.granted.get(job)?.session === session) this.granted.delete(job);
    if (session.alive) await session.query('SELECT pg_advisory_unlock(hashtext($1))', [key]);
  }

  /** The lease session: opened on first use and again after it ended (every lease on it is lost then). */
  private open(): Promise<Session> {
    if (this.session?.alive) return Promise.resolve(this.session);
    this.opening ??= this.connect().finally(() => (this.opening = null));
    return this.opening;
  }

  private async connect(): Promise<Session> {
    this.ready ??= this.migrate().catch((e: unknown) => {
      this.ready = null;
      throw e;
    });
    await this.ready;
    const client = new Client({ connectionString: this.connectionString, keepAlive: true, connectionTimeoutMillis: 5_000 });
    let endSession!: () => void;
    const ended = new Promise<void>((r) => (endSession = r));
    let tail: Promise<unknown> = Promise.resolve();
    const query = <R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> => {
      const run = tail.then(() => client.query<R>(text, values));
      tail = run.catch(() => undefined);
      return run;
    };
    const session: Session = { client, query, ended, alive: true, heartbeat: undefined as unknown as NodeJS.Timeout };
    const lose = (e?: Error) => {
      if (!session.alive) return;
      session.alive = false;
      clearInterval(session.heartbeat);
      if (e && !this.closed) this.options.onSessionError?.(e);
      for (const lease of [...this.granted.values()]) if (lease.session === session) lease.markLost();
      endSession();
    };
    client.on('error', (e) => lose(e));
    client.on('end', () => lose(this.closed ? undefined : new Error('lease session ended')));
    await client.connect();
    await client.query(`SET idle_session_timeout = ${Math.max(1000, Math.round(this.ttlMs))}`);
    await client.query(`SET application_name = ${quoteLiteral(`webdial-leases:${this.holder}`.slice(0, 63))}`);
    session.heartbeat = setInterval(() => {
      query('SELECT 1').catch((e: Error) => lose(e));
    }, Math.max(100, Math.floor(this.ttlMs / 4)));
    session.heartbeat.unref();
    this.session = session;
    return session;
  }

  private async end(session: Session): Promise<void> {
    clearInterval(session.heartbeat);
    session.alive = false;
    await session.client.end().catch(() => undefined);
  }

  private async migrate(): Promise<void> {
    const client = new Client({ connectionString: this.connectionString, connectionTimeoutMillis: 5_000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('webdial-leases-migrate:' || $1::text))`, [this.s]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.s}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.s}.leases (
        job        text        PRIMARY KEY,
        epoch      bigint      NOT NULL,
        holder     text        NOT NULL,
        checkpoint text,
        granted_at timestamptz NOT NULL,
        saved_at   timestamptz
      )`);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

class PgLease implements Lease {
  private lostFlag = false;
  private resolveLost!: () => void;
  readonly lost = new Promise<void>((r) => (this.resolveLost = r));

  constructor(
    readonly job: string,
    readonly epoch: number,
    private last: string | null,
    readonly session: Session,
    private readonly s: string,
    private readonly unlock: () => Promise<void>,
  ) {
    void session.ended.then(() => this.markLost());
  }

  get held(): boolean {
    return !this.lostFlag && this.session.alive;
  }

  markLost(): void {
    if (this.lostFlag) return;
    this.lostFlag = true;
    this.resolveLost();
  }

  async checkpoint(): Promise<string | null> {
    return this.last;
  }

  async saveCheckpoint(position: string): Promise<void> {
    if (!this.held) throw new LeaseLostError(this.job, this.epoch);
    let count: number | null;
    try {
      // On the lease's own session: a session the server ended cannot write, and the epoch fences a newer grant.
      ({ rowCount: count } = await this.session.query(`UPDATE ${this.s}.leases SET checkpoint = $3, saved_at = now() WHERE job = $1 AND epoch = $2`, [this.job, this.epoch, position]));
    } catch (e) {
      if (!this.session.alive) throw new LeaseLostError(this.job, this.epoch);
      throw e;
    }
    if (count !== 1) {
      this.markLost();
      throw new LeaseLostError(this.job, this.epoch);
    }
    this.last = position;
  }

  async release(): Promise<void> {
    if (this.lostFlag) return;
    this.markLost();
    await this.unlock();
  }
}
