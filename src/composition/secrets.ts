import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A secret from configuration, or one generated once and kept in the data directory (mode 600), so
 * that restarts and a second process on the same data directory agree. `created` tells the caller to
 * print it (once).
 */
export const persistentSecret = (dataDir: string, file: string, configured: string | null, make: () => string): { value: string; created: boolean } => {
  if (configured) return { value: configured, created: false };
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, file);
  if (existsSync(path)) return { value: readFileSync(path, 'utf8').trim(), created: false };
  const value = make();
  try {
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
    return { value, created: true };
  } catch {
    // Another process created it first: use theirs.
    return { value: readFileSync(path, 'utf8').trim(), created: false };
  }
};

export const newAdminKey = () => `wd.admin.${randomBytes(24).toString('base64url')}`;
export const newTokenSecret = () => randomBytes(32).toString('base64url');

/**
 * The data directory holds the event store, the read models, the admin key and the token secret:
 * only webdial's own user may read it. The directory is made 700 and every file in it 600 (SQLite
 * creates its files, and its -wal/-shm, with the process's umask: 644 by default).
 */
export const makePrivate = (dataDir: string): void => {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  for (const name of readdirSync(dataDir)) {
    const path = join(dataDir, name);
    // A file may go between the listing and the stat (a checkpoint's temporary file, renamed).
    const st = statSync(path, { throwIfNoEntry: false });
    if (st?.isFile() && (st.mode & 0o077) !== 0) {
      try {
        chmodSync(path, 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }
};
