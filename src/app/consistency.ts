import { AsyncLocalStorage } from 'node:async_hooks';
import { DomainError } from '../domain/shared/errors';

/**
 * Read your own writes across the command and the query side (CQRS, eventual consistency).
 *
 * Every request runs in a scope that records the highest store position its commands wrote or
 * based their answer on; a mutation's response carries it (`extensions.position`). A later query
 * or subscription that sends it back (`X-Webdial-Position` header, or `extensions.minPosition` in
 * the request) is answered only once every projection has applied the store at least that far, or
 * fails with TIMEOUT after a bounded wait. Positions are the event store's own (opaque, ordered).
 */
const scope = new AsyncLocalStorage<{ position: string | null }>();

/** Runs `fn` in a fresh scope (one per HTTP request or WebSocket operation). */
export const withPositionScope = <T>(fn: () => T): T => scope.run({ position: null }, fn);

/** A command wrote, or read a state that includes, everything up to `position`. */
export const notePosition = (position: string | null | undefined): void => {
  const s = scope.getStore();
  if (s && position && (s.position === null || position > s.position)) s.position = position;
};

/** The highest position noted in the current scope (null: none, or no scope). */
export const scopePosition = (): string | null => scope.getStore()?.position ?? null;

/** How far the read side has applied the store: the lowest checkpoint of the projections, null before any. */
export type ReadSideHead = () => Promise<string | null>;

/**
 * Waits until the read side has applied a position. One poller per process, running only while
 * someone waits, reads the projections' checkpoints every `pollMs` (they live in the read
 * database, so batches applied by other instances count too); `advanced()` makes it look at once
 * (a local batch committed). Callers whose position is already reached never wait or query.
 */
export class ReadSideProgress {
  private known: string | null = null;
  private readonly waiters = new Set<{ position: string; resolve: () => void }>();
  private polling: Promise<void> | null = null;
  private kick: (() => void) | null = null;

  constructor(
    private readonly head: ReadSideHead,
    private readonly isPosition: (p: string) => boolean,
    private readonly options: { pollMs?: number; maxWaitMs: number },
  ) {}

  /**
   * Resolves once the read side has applied `position`; BAD_USER_INPUT when it is not a position
   * of this store; TIMEOUT when it is not reached within the configured wait (it may not exist yet).
   */
  async waitFor(position: string, timeoutMs = this.options.maxWaitMs): Promise<void> {
    if (typeof position !== 'string' || !this.isPosition(position))
      throw new DomainError('BAD_USER_INPUT', `"${String(position).slice(0, 80)}" is not a position of this event store (use extensions.position of a mutation's response)`, { field: 'minPosition' });
    if (this.known !== null && this.known >= position) return;
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        position,
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new DomainError('TIMEOUT', `the read side has not reached position ${position} within ${timeoutMs} ms; retry later (the position may not have been written yet)`, { position, waitedMs: timeoutMs }));
      }, timeoutMs);
      this.waiters.add(waiter);
      this.poll();
    });
  }

  /** A batch was applied in this process: look again now. */
  advanced(): void {
    this.kick?.();
  }

  private poll(): void {
    if (this.polling) return;
    this.polling = (async () => {
      while (this.waiters.size > 0) {
        try {
          const head = await this.head();
          if (head !== null && (this.known === null || head > this.known)) this.known = head;
        } catch {
          // The read database is away: keep waiting (the waiters time out on their own).
        }
        for (const w of [...this.waiters]) if (this.known !== null && this.known >= w.position) w.resolve();
        if (this.waiters.size === 0) break;
        await new Promise<void>((r) => {
          const t = setTimeout(r, this.options.pollMs ?? 10);
          this.kick = () => {
            clearTimeout(t);
            r();
          };
        });
        this.kick = null;
      }
    })().finally(() => (this.polling = null));
  }
}
