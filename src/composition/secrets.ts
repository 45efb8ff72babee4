import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
