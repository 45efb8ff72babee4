import type { Lease } from '../ports/lease';
import type { Cluster } from './cluster';
import type { Scope } from './follow';

/** Something a process started and can stop. */
export interface Running {
  stop(): Promise<void>;
}

/**
 * One row of the composition root's table of processes: what follows events (./follow.ts) or keeps
 * time (the call timers), who runs it, and how it starts.
 */
export interface Process {
  name: string;
  /**
   * `instance`: every instance starts it with the server. `cluster`: the instance holding the lease
   * named like it runs it (./cluster.ts), and another takes it over when that one stops or dies;
   * `start` gets the lease, whose fenced checkpoint is the process's.
   */
  scope: Scope;
  /**
   * A `cluster` process that needs no lease: a consumer group shared by every instance, where the
   * bus hands each partition to one member (the group is the lease). Every instance starts it.
   */
  sharedGroup?: boolean;
  start(lease: Lease | null): Promise<Running>;
}

/** The table's runtime: starts its rows in order, reports the cluster roles, stops them all. */
export class Processes {
  private readonly running: Array<{ name: string; process: Running }> = [];

  constructor(private readonly cluster: Cluster) {}

  /** Starts the rows in order: an instance row at once, a cluster row once its lease is first asked for (a lone instance owns it then). */
  async start(table: readonly Process[]): Promise<void> {
    for (const p of table) {
      if (p.scope === 'cluster' && !p.sharedGroup) await this.cluster.run({ name: p.name, start: (lease) => p.start(lease) });
      else this.running.push({ name: p.name, process: await p.start(null) });
    }
  }

  /** The cluster processes this instance runs now (sorted). */
  roles(): string[] {
    return this.cluster.roles();
  }

  /**
   * Stops every process: the cluster ones first (their leases released: another instance takes
   * them at once), then the instance ones, the last started first. Each stop runs whatever an
   * earlier one did; `step` reports each (and its failure).
   */
  async stop(step: (name: string, stop: () => Promise<unknown>) => Promise<void>): Promise<void> {
    await step('cluster processes', () => this.cluster.stop());
    for (const { name, process } of this.running.splice(0).reverse()) await step(name, () => process.stop());
  }
}
