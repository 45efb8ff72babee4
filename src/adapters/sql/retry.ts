/**
 * Retrying a whole transaction on the read database when it met a lock or a conflict, for every
 * writer of that database (the read side's batches, the webhook outbox).
 */

/** Transient failures worth retrying a whole transaction for (deadlock, serialization, lock timeout, SQLITE_BUSY). */
export const isTransient = (e: unknown): boolean => {
  const err = e as { code?: unknown; sqlState?: unknown; name?: unknown; message?: unknown };
  const code = String(err.sqlState ?? err.code ?? '');
  if (['40P01', '40001', '55P03', 'SQLITE_BUSY', 'SQLITE_LOCKED'].includes(code)) return true;
  return /deadlock|LockWaitTimeout|could not serialize|database is locked|SQLITE_BUSY/i.test(`${String(err.name)} ${String(err.message)}`);
};

/** Runs `work` again, after a short and growing pause, while it fails transiently (at most `attempts` times). */
export const withRetry = async <T>(work: () => Promise<T>, attempts = 10): Promise<T> => {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (e) {
      if (i >= attempts || !isTransient(e)) throw e;
      await new Promise((r) => setTimeout(r, 10 * i + Math.random() * 20));
    }
  }
};
