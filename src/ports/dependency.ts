/**
 * The systems the server depends on, as `/readyz` and `webdial_dependency_errors_total{dependency}`
 * name them, and the one error every adapter throws when one of them cannot be reached.
 */
export type Dependency = 'eventStore' | 'readModels' | 'bus' | 'media' | 'redis';

export const DEPENDENCY_LABEL: Record<Dependency, string> = {
  eventStore: 'the event store',
  readModels: 'the read database',
  bus: 'the event bus',
  media: 'the media server',
  redis: 'Redis (shared rate limits)',
};

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A dependency refused the connection, dropped it, is shutting down or starting up, or did not
 * answer in time. Whether a write that failed this way was applied is unknown (the connection may
 * have dropped after the commit): the caller retries, and the domain's idempotency (event ids,
 * gateway event ids, terminal states) makes a repeat harmless. Never thrown for bad input or a
 * domain rule.
 */
export class DependencyUnavailableError extends Error {
  readonly code = 'UNAVAILABLE';
  constructor(
    readonly dependency: Dependency,
    override readonly cause: unknown,
  ) {
    super(`${DEPENDENCY_LABEL[dependency]} is unavailable (${messageOf(cause).slice(0, 300)}); try again shortly`);
    this.name = 'DependencyUnavailableError';
  }
}

/** Node's socket-level errors: the peer is gone or unreachable. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENETDOWN']);
/** PostgreSQL SQLSTATEs of a lost or refused connection: class 08, shutdown, start-up, too many connections. */
const PG_STATES = /^(08...|57P0[123]|53300)$/;
/** What pg, pg-pool, knex and kafkajs say when a connection is lost or cannot be made. */
const MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Timeout acquiring a connection|not queryable|Connection ended unexpectedly|the database system is (starting up|shutting down|in recovery mode)|terminating connection due to administrator command|Client was closed and is not queryable|Transaction query already complete|socket hang up|KafkaJS(Connection|ConnectionClosed|RequestTimeout|NumberOfRetriesExceeded)Error|^UnavailableError|DeadlineExceeded/i;

/**
 * True for an error that says a dependency could not be reached or dropped the connection (as
 * opposed to a refused statement, bad input or a bug). Follows `cause` chains.
 */
export const isConnectionError = (e: unknown): boolean => {
  for (let x = e, depth = 0; x && depth < 5; x = (x as { cause?: unknown }).cause, depth++) {
    if (x instanceof DependencyUnavailableError) return true;
    const err = x as { code?: unknown; sqlState?: unknown; name?: unknown; message?: unknown; errno?: unknown };
    const code = String(err.code ?? '');
    if (SOCKET_CODES.has(code) || SOCKET_CODES.has(String(err.errno ?? ''))) return true;
    if (PG_STATES.test(code) || PG_STATES.test(String(err.sqlState ?? ''))) return true;
    if (MESSAGES.test(`${String(err.name ?? '')} ${String(err.message ?? '')}`)) return true;
  }
  return false;
};

/** `e` as a {@link DependencyUnavailableError} of `dependency` when it is a connection error; else `e` itself. */
export const asUnavailable = (dependency: Dependency, e: unknown): unknown =>
  e instanceof DependencyUnavailableError || !isConnectionError(e) ? e : new DependencyUnavailableError(dependency, e);

/** Which dependency an error names, when it is a {@link DependencyUnavailableError} (directly or as a cause). */
export const unavailableDependency = (e: unknown): Dependency | null => {
  for (let x = e, depth = 0; x && depth < 5; x = (x as { cause?: unknown }).cause, depth++) if (x instanceof DependencyUnavailableError) return x.dependency;
  return null;
};

/** Backoff of retried dependency work (subscriptions, re-connections): 250 ms doubling to 5 s, with jitter. */
export const reconnectDelayMs = (attempt: number): number => Math.min(5_000, 250 * 2 ** Math.min(Math.max(attempt - 1, 0), 5)) * (0.75 + Math.random() * 0.5);
