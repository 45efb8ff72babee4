import { busContract } from './contract';
import { MemoryBus } from './memory';

// The in-process bus of the embedded mode, under the same contract as Kafka (test/integration/kafka-bus-contract.int.ts).
let open: MemoryBus | null = null;
busContract('in-process', async () => ({
  open: async (store) => (open = new MemoryBus(store, { lingerMs: 0 })),
  dispose: async () => {
    await open?.close();
    open = null;
  },
}));
