import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { ALL_TOPICS } from '../../src/ports/bus';
import { busContract } from '../../src/adapters/bus/contract';
import { createKafkaBus, DEAD_LETTER_TOPIC, PUBLISHERS_TOPIC, type KafkaBus } from '../../src/adapters/bus/kafka/kafka-bus';
import { useKafka, type TestBroker } from '../support/kafka-broker';

// The Kafka adapter under the same contract as the in-process bus (../memory.spec.ts): a real
// broker, each test on topics of its own prefix, deleted afterwards.
let broker: TestBroker | null = null;
after(async () => broker?.release());
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

busContract('Kafka', async (t) => {
  broker ??= await useKafka(t);
  if (!broker) return null;
  const brokers = broker.brokers;
  const prefix = `c${randomUUID().slice(0, 8)}.`;
  let bus: KafkaBus | null = null;
  return {
    open: async () => (bus = await createKafkaBus({ brokers, clientId: 'webdial-contract', partitions: 3, topicPrefix: prefix, clientLogLevel: 'nothing', logger: quiet })),
    dispose: async () => {
      await bus?.close();
      const admin = new Kafka({ brokers, clientId: 'webdial-contract-cleanup', logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [...ALL_TOPICS, DEAD_LETTER_TOPIC, PUBLISHERS_TOPIC].map((x) => prefix + x) }).catch(() => undefined);
      await admin.disconnect();
    },
    // A publisher's process killed between its send and its commit: a producer of the publisher's
    // transactional id sends the events in a transaction and disconnects without ending it.
    abandonMidPublish: async (b, name, events) => {
      const kafkaBus = b as KafkaBus;
      const producer = new Kafka({ brokers, clientId: 'webdial-contract-crash', logLevel: logLevel.NOTHING }).producer({ transactionalId: kafkaBus.transactionalIdOf(name), idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const tx = await producer.transaction();
      await tx.sendBatch({ acks: -1, topicMessages: kafkaBus.topicMessages(events) });
      await producer.disconnect();
    },
  };
});
