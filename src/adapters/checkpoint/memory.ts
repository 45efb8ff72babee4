import type { CheckpointStore } from '../../ports/checkpoint';

/** Checkpoints in memory (tests; a process that keeps nothing across a restart). */
export class MemoryCheckpoints implements CheckpointStore {
  private readonly positions = new Map<string, string>();

  async load(name: string): Promise<string | null> {
    return this.positions.get(name) ?? null;
  }

  async save(name: string, position: string): Promise<void> {
    this.positions.set(name, position);
  }

  async flush(): Promise<void> {}
}
