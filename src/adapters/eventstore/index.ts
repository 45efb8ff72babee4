import { join } from 'node:path';
import type { EventStore } from '../../ports/event-store';

import { PostgresEventStore } from './postgres';
import { SqliteEventStore } from './sqlite';

export { SqliteEventStore, PostgresEventStore };
// KurrentDbEventStore is imported from './kurrentdb' directly: its gRPC client is loaded only when used.
export { UpcasterRegistry, productionUpcasters } from './upcasting';

export interface EventStoreConfig {
  kind: 'sqlite' | 'postgres' | 'kurrentdb';
  /** Embedded mode: the SQLite file is `<dataDir>/events.sqlite`. */
  dataDir: string;
  /** Required for kind 'postgres'. */
  databaseUrl?: string;
  /** Required for kind 'kurrentdb'. */
  kurrentDbUrl?: string;
  /** Told about connection failures the store survives (PostgreSQL: a broken pooled client, the LISTEN connection). */
  onConnectionError?: (e: Error, where: string) => void;
}

/**
 * Opens the configured event store, ready to use: the PostgreSQL schema is migrated, the SQLite
 * file created, the KurrentDB connection checked. Throws with a message naming the missing variable.
 */
export const createEventStore = async (config: EventStoreConfig): Promise<EventStore> => {
  switch (config.kind) {
    case 'sqlite': {
      return new SqliteEventStore(join(config.dataDir, 'events.sqlite'));
    }
    case 'postgres': {
      if (!config.databaseUrl) throw new Error('DATABASE_URL is required for WEBDIAL_EVENT_STORE=postgres');
      return PostgresEventStore.open(config.databaseUrl, { onConnectionError: config.onConnectionError });
    }
    case 'kurrentdb': {
      if (!config.kurrentDbUrl) throw new Error('KURRENTDB_URL is required for WEBDIAL_EVENT_STORE=kurrentdb');
      const { KurrentDbEventStore } = require('./kurrentdb') as typeof import('./kurrentdb');
      return KurrentDbEventStore.open(config.kurrentDbUrl);
    }
    default: {
      const never: never = config.kind;
      throw new Error(`unknown event store kind ${String(never)}`);
    }
  }
};
