import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Config } from './config';
import type { Logger } from './logger';
import type { Leases } from '../ports/lease';
import { FileCheckpointStore } from '../adapters/checkpoint/file';
import { LocalLeases } from '../adapters/lease/local';
import { PostgresLeases } from '../adapters/lease/postgres';
import { InstanceLock } from '../adapters/lease/instance-lock';

export interface ClusterMembership {
  leases: Leases;
  /** 'cluster' on PostgreSQL; 'single' when the store is SQLite (one process per data directory). */
  mode: 'cluster' | 'single';
  close(): Promise<void>;
}

/**
 * How this instance takes part in the cluster. On PostgreSQL (the event store's database, or the
 * read database when the store is KurrentDB) the jobs are leased with advisory locks. With the
 * SQLite event store there is no cluster: the data directory is locked for this process, and a
 * second one refuses to start (SINGLE_INSTANCE). Either way a job's checkpoint starts, on its first
 * grant, from the file a single instance kept in the data directory (`<job>.checkpoint.json`), so
 * a single instance upgraded to a cluster does not republish its history.
 */
export const joinCluster = (config: Config, logger: Logger): ClusterMembership => {
  const holder = `${hostname()}:${config.port}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const files = new Map<string, FileCheckpointStore>();
  const fileOf = (job: string) => {
    if (!files.has(job)) files.set(job, new FileCheckpointStore(join(config.dataDir, `${job}.checkpoint.json`)));
    return files.get(job)!;
  };
  const url = config.eventStore === 'sqlite' ? null : config.eventStore === 'postgres' ? config.databaseUrl : config.readDb === 'postgres' ? config.readDatabaseUrl : null;
  if (url) {
    const leases = new PostgresLeases(url, {
      holder,
      ttlMs: config.cluster.leaseTtlMs,
      initialCheckpoint: (job) => fileOf(job).load(job),
      onSessionError: (e) => logger.warn({ err: e }, `cluster: the lease session ended (${e.message}); this instance's cluster jobs stop until it is granted them again`),
    });
    return { leases, mode: 'cluster', close: () => leases.close() };
  }
  const lock = config.eventStore === 'sqlite' ? InstanceLock.acquire(config.dataDir, holder) : null;
  if (!lock) logger.warn(`cluster: no PostgreSQL to lease jobs on (WEBDIAL_EVENT_STORE=${config.eventStore}, WEBDIAL_READ_DB=${config.readDb}): run one instance only`);
  const leases = new LocalLeases(holder, fileOf);
  return {
    leases,
    mode: 'single',
    close: async () => {
      await leases.close();
      for (const f of files.values()) await f.flush();
      lock?.release();
    },
  };
};
