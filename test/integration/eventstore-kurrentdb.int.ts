import { randomBytes } from 'node:crypto';
import { KurrentDbDouble } from '../support/kurrentdb-double';
import { eventStoreContract } from '../../src/adapters/eventstore/contract';
import { KurrentDbEventStore } from '../../src/adapters/eventstore/kurrentdb';

/*
 * The KurrentDB adapter's contract run. No KurrentDB server can run on our machines, so by default each
 * harness starts the wire-level double (test/support/kurrentdb-double.ts): the real
 * `@kurrent/kurrentdb-client`, gRPC half and native bridge alike, talks to it over HTTP/2. With
 * KURRENTDB_URL set, the same suite runs against that real server instead (a random stream prefix
 * isolates each test there, since $all reads are filtered by it).
 */
const realServer = process.env.KURRENTDB_URL;

eventStoreContract(realServer ? 'kurrentdb (real server at KURRENTDB_URL)' : 'kurrentdb (wire-level double)', async () => {
  const double = realServer ? null : await KurrentDbDouble.start();
  const url = realServer ?? double!.url;
  const streamPrefix = `t${randomBytes(5).toString('hex')}:`;
  return {
    uniqueEventIds: false,
    open: (options) => KurrentDbEventStore.open(url, { streamPrefix, ...options }),
    // The raw form of an old event in KurrentDB is its metadata's schemaVersion: write it as given.
    writeRaw: async (streamId, streamVersion, e) => {
      const store = await KurrentDbEventStore.open(url, { streamPrefix });
      try {
        await store.append(streamId, [e], streamVersion - 1);
      } finally {
        await store.close();
      }
    },
    dispose: async () => {
      await double?.stop();
    },
  };
});
