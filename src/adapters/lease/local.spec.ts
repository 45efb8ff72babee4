import { MemoryCheckpoints } from '../checkpoint/memory';
import { leaseContract } from './contract';
import { LocalLeases, LocalLeaseTable } from './local';

// Two "instances" in one process share one table and one set of checkpoints.
leaseContract('local', async () => {
  const table = new LocalLeaseTable();
  const checkpoints = new MemoryCheckpoints();
  const opened: LocalLeases[] = [];
  return {
    open: async (holder) => {
      const l = new LocalLeases(holder, () => checkpoints, table);
      opened.push(l);
      return l;
    },
    kill: async (leases, job) => (leases as LocalLeases).revoke(job),
    close: async () => {
      for (const l of opened) await l.close();
    },
  };
});
