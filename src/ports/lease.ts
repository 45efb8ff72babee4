/**
 * Leases: how the instances of a cluster agree on one owner per cluster job (the relay, the call
 * effects, the timers, the webhooks). Adapters: PostgreSQL (advisory locks, for a cluster) and
 * local (one process: SQLite mode). One contract suite (src/adapters/lease/contract.ts) runs
 * against each.
 *
 * A lease is **fenced by its checkpoint**: every grant of a job's lease bumps the job's epoch, and a
 * checkpoint is written only under the epoch it was granted with. An owner that lost its lease
 * without noticing (paused, partitioned) can still run a little work, but it can never move the
 * checkpoint again: the write is refused with {@link LeaseLostError}, and the owner stops. What it
 * did in between is what any crash repeats, and every cluster job is idempotent.
 */
export interface Lease {
  /** The job's name: `relay`, `call-effects`, `timers`, `webhooks`. */
  readonly job: string;
  /** Grows with every grant of this job's lease; checkpoints are fenced by it. */
  readonly epoch: number;
  /** Resolves when the lease is lost (the session ended, the owner paused past its lease) or released. */
  readonly lost: Promise<void>;
  /** False once the lease is lost or released. */
  readonly held: boolean;
  /** The job's checkpoint as the last owner left it (null: none yet). */
  checkpoint(): Promise<string | null>;
  /** Moves the job's checkpoint; rejects with LeaseLostError when another owner has been granted the job since. */
  saveCheckpoint(position: string): Promise<void>;
  /** Gives the lease up (another instance may take it at once). */
  release(): Promise<void>;
}

export interface Leases {
  /** 'postgres' (a cluster) or 'local' (this process only). */
  readonly kind: string;
  /** This instance's name in the leases (shown by /readyz and the CLI). */
  readonly holder: string;
  /** The lease of `job` when no one else holds it; null when someone does. Never waits. */
  tryAcquire(job: string): Promise<Lease | null>;
  /** Who holds each job's lease now, as far as the database says (operators: /readyz, `webdial cluster`). */
  holders(): Promise<Array<{ job: string; holder: string | null; epoch: number; checkpoint: string | null }>>;
  /** Releases every lease (a clean stop hands the jobs over at once). */
  close(): Promise<void>;
}

/** A checkpoint write refused because another owner was granted the job since this lease's grant. */
export class LeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  constructor(
    readonly job: string,
    readonly epoch: number,
  ) {
    super(`lease of ${job} (epoch ${epoch}) lost: another instance owns the job now`);
    this.name = 'LeaseLostError';
  }
}
