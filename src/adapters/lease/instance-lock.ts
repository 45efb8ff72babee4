import Database from 'libsql';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Thrown at start-up when another process already serves this data directory in single-instance mode. */
export class SingleInstanceError extends Error {
  readonly code = 'SINGLE_INSTANCE';
  constructor(dataDir: string, holder: string | null) {
    super(
      `SINGLE_INSTANCE: another webdial process${holder ? ` (${holder})` : ''} already serves ${dataDir}. ` +
        'The SQLite event store runs one instance: stop the other one, give this one its own WEBDIAL_DATA_DIR, ' +
        'or run a cluster on PostgreSQL (WEBDIAL_EVENT_STORE=postgres, see docs/operations.md).',
    );
    this.name = 'SingleInstanceError';
  }
}

/**
 * The single-instance guard of SQLite mode: an exclusive SQLite lock on `<dataDir>/instance.lock`,
 * held for the life of the process. The operating system releases it when the process ends, however
 * it ends (kill -9 included), so a restart never finds a stale lock; a second process finds it taken
 * and refuses to start with {@link SingleInstanceError}.
 */
export class InstanceLock {
  private constructor(private readonly db: Database.Database) {}

  static acquire(dataDir: string, holder: string): InstanceLock {
    const db = new Database(join(dataDir, 'instance.lock'));
    try {
      db.pragma('busy_timeout = 0');
      // EXCLUSIVE locking mode: the lock taken by the first write is kept until the connection closes.
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE');
      db.exec('CREATE TABLE IF NOT EXISTS holder (name text)');
      db.exec('COMMIT');
    } catch (e) {
      db.close();
      if ((e as { code?: string }).code === 'SQLITE_BUSY') throw new SingleInstanceError(dataDir, readHolder(dataDir));
      throw e;
    }
    writeFileSync(join(dataDir, 'instance.holder'), holder, { mode: 0o600 });
    return new InstanceLock(db);
  }

  release(): void {
    this.db.close();
  }
}

const readHolder = (dataDir: string): string | null => {
  try {
    return readFileSync(join(dataDir, 'instance.holder'), 'utf8').trim() || null;
  } catch {
    return null;
  }
};
