import type { CheckpointStore } from '../../ports/checkpoint';
import { LeaseLostError, type Lease, type Leases } from '../../ports/lease';

/**
 * Leases of one process (SQLite mode, the in-process bus, tests): a job is granted to one holder of
 * this process at a time, and its checkpoint lives in `checkpoints(job)` (SQLite mode: the JSON file
 * of the job in the data directory). Other processes are kept out by the instance lock
 * (./instance-lock.ts), not by these leases.
 */
export class LocalLeases implements Leases {
  readonly kind = 'local';
  private readonly granted: Map<string, LocalLease>;
  private readonly epochs: Map<string, number>;
  private closed = false;

  /** `table`: shared by the LocalLeases of one process that must exclude each other (tests run two "instances" in one process). */
  constructor(
    readonly holder: string,
    private readonly checkpoints: (job: string) => CheckpointStore,
    table: LocalLeaseTable = new LocalLeaseTable(),
  ) {
    this.granted = table.granted;
    this.epochs = table.epochs;
  }

  async tryAcquire(job: string): Promise<Lease | null> {
    if (this.closed || this.granted.get(job)?.held) return null;
    const epoch = (this.epochs.get(job) ?? 0) + 1;
    this.epochs.set(job, epoch);
    const lease: LocalLease = new LocalLease(this.holder, job, epoch, this.checkpoints(job), () => this.epochs.get(job) === epoch, () => {
      if (this.granted.get(job) === lease) this.granted.delete(job);
    });
    this.granted.set(job, lease);
    return lease;
  }

  async holders(): Promise<Array<{ job: string; holder: string | null; epoch: number; checkpoint: string | null }>> {
    return Promise.all(
      [...this.epochs]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(async ([job, epoch]) => {
          const lease = this.granted.get(job);
          return { job, holder: lease?.held ? lease.holder : null, epoch, checkpoint: await this.checkpoints(job).load(job) };
        }),
    );
  }

  /** Tests: ends a lease as a lost session would (its holder learns it from `lost` and its next save). */
  revoke(job: string): void {
    this.granted.get(job)?.markLost();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const lease of [...this.granted.values()]) if (lease.holder === this.holder) await lease.release();
  }
}

/** The grants of one process's local leases. */
export class LocalLeaseTable {
  readonly granted = new Map<string, LocalLease>();
  readonly epochs = new Map<string, number>();
}

class LocalLease implements Lease {
  private lostFlag = false;
  private resolveLost!: () => void;
  readonly lost = new Promise<void>((r) => (this.resolveLost = r));

  constructor(
    readonly holder: string,
    readonly job: string,
    readonly epoch: number,
    private readonly store: CheckpointStore,
    private readonly current: () => boolean,
    private readonly forget: () => void,
  ) {}

  get held(): boolean {
    return !this.lostFlag && this.current();
  }

  markLost(): void {
    if (this.lostFlag) return;
    this.lostFlag = true;
    this.forget();
    this.resolveLost();
  }

  checkpoint(): Promise<string | null> {
    return this.store.load(this.job);
  }

  async saveCheckpoint(position: string): Promise<void> {
    if (!this.held) throw new LeaseLostError(this.job, this.epoch);
    await this.store.save(this.job, position);
  }

  async release(): Promise<void> {
    if (this.lostFlag) return;
    this.markLost();
    await this.store.flush();
  }
}
