import { readFile, rename, writeFile } from 'node:fs/promises';
import type { CheckpointStore } from '../../ports/checkpoint';

/**
 * Checkpoints in a small JSON file, replaced atomically. Saves are coalesced: at most one write in
 * flight, and the newest position wins (a crash repeats what followed the last write: followers
 * are idempotent). Meant for one process per file; a second process on the same data directory
 * (tests run two on one SQLite store) only makes one of them repeat work after a restart.
 */
export class FileCheckpointStore implements CheckpointStore {
  private all: Record<string, string> | null = null;
  private writing: Promise<void> | null = null;
  private dirty = false;

  constructor(private readonly path: string) {}

  private async read(): Promise<Record<string, string>> {
    if (this.all) return this.all;
    try {
      this.all = JSON.parse(await readFile(this.path, 'utf8')) as Record<string, string>;
    } catch {
      this.all = {};
    }
    return this.all;
  }

  async load(name: string): Promise<string | null> {
    return (await this.read())[name] ?? null;
  }

  async save(name: string, position: string): Promise<void> {
    (await this.read())[name] = position;
    this.dirty = true;
    this.writing ??= this.write().finally(() => (this.writing = null));
  }

  private async write(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      const tmp = `${this.path}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(this.all), { mode: 0o600 });
      await rename(tmp, this.path);
    }
  }

  async flush(): Promise<void> {
    await this.writing;
  }
}
