import type { CheckpointStore } from '../ports/checkpoint';
import { LeaseLostError, type Lease, type Leases } from '../ports/lease';

/** A job exactly one instance of the cluster runs at a time (the relay, the call effects, the timers, the webhooks). */
export interface ClusterJob {
  name: string;
  /** Starts the job under `lease` (its checkpoint is the lease's); resolves once it runs. */
  start(lease: Lease): Promise<{ stop(): Promise<void> }>;
}

export interface ClusterOptions {
  /** How often an instance that does not own a job asks for it (ms, default 1000): the failover time after a kill -9. */
  pollMs?: number;
  /** Told about a lease request or a job start that failed (tried again on the next poll). */
  onError?: (e: unknown, job: string) => void;
  /** Told when this instance starts or stops owning a job. */
  onRole?: (job: string, owner: boolean) => void;
}

/**
 * Runs cluster jobs on whichever instance holds their lease. Every instance runs the same table of
 * jobs; for each, it asks for the lease every `pollMs`, starts the job when granted, and stops it
 * the moment the lease is lost (its session ended, or it was paused past its lease). A clean stop
 * releases the leases, so another instance takes the jobs on its next poll.
 */
export class Cluster {
  private readonly owned = new Set<string>();
  private readonly loops: Array<Promise<void>> = [];
  private stopped = false;
  private readonly wake = new Set<() => void>();

  constructor(
    private readonly leases: Leases,
    private readonly options: ClusterOptions = {},
  ) {}

  /** The jobs this instance owns now, sorted. */
  roles(): string[] {
    return [...this.owned].sort();
  }

  get holder(): string {
    return this.leases.holder;
  }

  /** Starts competing for `job`; resolves after the first attempt (so a lone instance owns its jobs when it serves). */
  async run(job: ClusterJob): Promise<void> {
    let first!: () => void;
    const attempted = new Promise<void>((r) => (first = r));
    this.loops.push(this.loop(job, first));
    await attempted;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of [...this.wake]) w();
    await Promise.all(this.loops);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wake.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wake.add(done);
    });
  }

  private async loop(job: ClusterJob, attempted: () => void): Promise<void> {
    const pollMs = this.options.pollMs ?? 1000;
    while (!this.stopped) {
      let lease: Lease | null = null;
      try {
        lease = await this.leases.tryAcquire(job.name);
      } catch (e) {
        this.options.onError?.(e, job.name);
      }
      if (!lease) {
        attempted();
        await this.sleep(pollMs);
        continue;
      }
      let running: { stop(): Promise<void> };
      try {
        running = await job.start(lease);
      } catch (e) {
        this.options.onError?.(e, job.name);
        await lease.release().catch(() => undefined);
        attempted();
        await this.sleep(pollMs);
        continue;
      }
      this.owned.add(job.name);
      this.options.onRole?.(job.name, true);
      attempted();
      let stopping!: () => void;
      const stopRequested = new Promise<void>((r) => (stopping = r));
      this.wake.add(stopping);
      if (!this.stopped) await Promise.race([lease.lost, stopRequested]);
      this.wake.delete(stopping);
      this.owned.delete(job.name);
      this.options.onRole?.(job.name, false);
      try {
        await running.stop();
      } catch (e) {
        if (!(e instanceof LeaseLostError)) this.options.onError?.(e, job.name);
      }
      await lease.release().catch(() => undefined);
    }
  }
}

/**
 * A lease as a follower's {@link CheckpointStore}: the checkpoint is the lease's, fenced by its epoch.
 * Saves are coalesced (one write in flight, the newest position wins); a save refused because the
 * lease was lost is dropped (the new owner resumes from its own checkpoint), anything else reported.
 */
export const leaseCheckpoints = (lease: Lease, onError: (e: unknown) => void = () => undefined): CheckpointStore => {
  let next: string | null = null;
  let writing: Promise<void> | null = null;
  const drain = async () => {
    while (next !== null) {
      const p = next;
      next = null;
      try {
        await lease.saveCheckpoint(p);
      } catch (e) {
        if (e instanceof LeaseLostError) return;
        onError(e);
      }
    }
  };
  return {
    load: () => lease.checkpoint(),
    save: async (_name, position) => {
      next = position;
      writing ??= drain().finally(() => (writing = null));
    },
    flush: async () => {
      while (writing) await writing;
    },
  };
};
