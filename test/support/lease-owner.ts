// A lease owner in a process of its own, for the split-brain test (test/integration/lease-postgres.int.ts):
// takes the `relay` lease, saves checkpoint 0001, prints "granted epoch N", then saves whatever
// position it reads on stdin ("save P") and prints "saved" or "refused <code>".
import { createInterface } from 'node:readline';
import { PostgresLeases } from '../../src/adapters/lease/postgres';

const main = async () => {
  const leases = new PostgresLeases(process.env.LEASE_URL!, { schema: process.env.LEASE_SCHEMA!, holder: 'paused-owner', ttlMs: Number(process.env.LEASE_TTL_MS ?? 1500) });
  const lease = await leases.tryAcquire('relay');
  if (!lease) throw new Error('not granted');
  await lease.saveCheckpoint('0001');
  console.log(`granted epoch ${lease.epoch}`);
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, position] = line.split(' ');
    if (cmd !== 'save') continue;
    try {
      await lease.saveCheckpoint(position);
      console.log('saved');
    } catch (e) {
      console.log(`refused ${(e as { code?: string }).code ?? (e as Error).message}`);
    }
  }
};

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
